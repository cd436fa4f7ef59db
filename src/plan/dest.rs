//! Comparing a manifest with what already exists in the destination Box folder, through a
//! listing abstraction so the comparison is tested without Box and fed by any lister.
//!
//! Box matches names case-insensitively within a folder, so lookups do too: a local
//! `Report.pdf` meets a Box `report.pdf`.
use std::collections::HashMap;

use crate::manifest::{Kind, ManifestRow};
use crate::scan::names::box_name_key;

/// An item found at the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestItem {
    /// A folder.
    Folder,
    /// A file with its size and SHA-1 (hex) as Box reports them.
    File {
        /// Size in bytes.
        size: u64,
        /// SHA-1, hex.
        sha1: String,
    },
}

/// Read-only view of the destination tree: the item at a path relative to the destination
/// folder (`/`-separated, as manifest paths), matched as Box matches names.
pub trait DestinationIndex {
    /// The item at `path`, if any.
    fn get(&self, path: &str) -> Option<DestItem>;
}

/// A destination listing already fetched into memory (path → item).
#[derive(Debug, Default, Clone)]
pub struct MapIndex {
    items: HashMap<String, DestItem>,
}

impl MapIndex {
    /// Record an item at `path` (relative to the destination folder).
    pub fn insert(&mut self, path: &str, item: DestItem) {
        self.items.insert(box_name_key(path), item);
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the destination is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

impl FromIterator<(String, DestItem)> for MapIndex {
    fn from_iter<I: IntoIterator<Item = (String, DestItem)>>(iter: I) -> Self {
        let mut m = MapIndex::default();
        for (p, i) in iter {
            m.insert(&p, i);
        }
        m
    }
}

impl DestinationIndex for MapIndex {
    fn get(&self, path: &str) -> Option<DestItem> {
        self.items.get(&box_name_key(path)).cloned()
    }
}

/// One entry of a destination folder listing, as a lister reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Box item id (folders are listed in turn by id).
    pub id: String,
    /// Item name.
    pub name: String,
    /// Folder, or file with size and SHA-1.
    pub item: DestItem,
}

/// Lists one destination folder (all pages). The Box client implements it over
/// `GET /folders/{id}/items?fields=name,size,sha1`; tests use a map.
pub trait FolderLister {
    /// The lister's error.
    type Error;
    /// Every item directly in folder `folder_id`.
    fn list(&mut self, folder_id: &str) -> Result<Vec<Listed>, Self::Error>;
}

/// Walk the destination tree under `root_id` folder by folder (read-only), handing each item
/// to `into` with its path (audit's on-disk index, or a [`MapIndex`]), so nothing here holds
/// the tree. `descend(path)` says whether a sub-folder is worth listing: audit passes "the
/// manifest has a directory there", so a big destination costs only the listings that matter.
/// `path` is spelled as Box spells it, which may differ in case from the local tree.
pub fn index_destination<L, F>(
    lister: &mut L,
    root_id: &str,
    descend: &dyn Fn(&str) -> bool,
    mut into: F,
) -> Result<(), L::Error>
where
    L: FolderLister,
    F: FnMut(&str, DestItem) -> Result<(), L::Error>,
{
    let mut queue = std::collections::VecDeque::from([(root_id.to_string(), String::new())]);
    while let Some((id, prefix)) = queue.pop_front() {
        for entry in lister.list(&id)? {
            let path = if prefix.is_empty() {
                entry.name.clone()
            } else {
                format!("{prefix}/{}", entry.name)
            };
            if entry.item == DestItem::Folder && descend(&path) {
                queue.push_back((entry.id.clone(), path.clone()));
            }
            into(&path, entry.item)?;
        }
    }
    Ok(())
}

/// How a manifest row relates to the destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DestState {
    /// Nothing by that name: the migration creates it.
    New,
    /// A folder already there, or a file with the same SHA-1: the migration skips it.
    Same,
    /// Something else has that name: the conflict policy decides.
    Conflict(&'static str),
}

impl DestState {
    /// Short name for tables and CSVs.
    pub fn as_str(&self) -> &'static str {
        match self {
            DestState::New => "new",
            DestState::Same => "exists",
            DestState::Conflict(_) => "conflict",
        }
    }
}

/// Compare one manifest row with the destination.
pub fn compare(row: &ManifestRow, dest: &dyn DestinationIndex) -> DestState {
    match (row.kind, dest.get(&row.path)) {
        (_, None) => DestState::New,
        (Kind::Dir, Some(DestItem::Folder)) => DestState::Same,
        (Kind::Dir, Some(DestItem::File { .. })) => {
            DestState::Conflict("a file has this name in Box")
        }
        (Kind::File, Some(DestItem::Folder)) => {
            DestState::Conflict("a folder has this name in Box")
        }
        (Kind::File, Some(DestItem::File { size, sha1 })) => {
            if row.sha1.is_empty() {
                DestState::Conflict("exists in Box; no local SHA-1 to compare (--no-hash)")
            } else if sha1.eq_ignore_ascii_case(&row.sha1) && size == row.size {
                DestState::Same
            } else {
                DestState::Conflict("exists in Box with different content")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Status;

    fn row(path: &str, kind: Kind, size: u64, sha1: &str) -> ManifestRow {
        ManifestRow {
            path: path.into(),
            kind,
            size,
            mtime: None,
            sha1: sha1.into(),
            status: Status::Ok,
            detail: String::new(),
        }
    }

    struct FakeBox {
        folders: HashMap<&'static str, Vec<Listed>>,
        calls: Vec<String>,
    }

    impl FolderLister for FakeBox {
        type Error = String;
        fn list(&mut self, id: &str) -> Result<Vec<Listed>, String> {
            self.calls.push(id.to_string());
            self.folders
                .get(id)
                .cloned()
                .ok_or_else(|| format!("404 folder {id}"))
        }
    }

    fn listed(id: &str, name: &str, item: DestItem) -> Listed {
        Listed {
            id: id.into(),
            name: name.into(),
            item,
        }
    }

    #[test]
    fn the_destination_is_listed_folder_by_folder_and_pruned() {
        let file = |n: u64| DestItem::File {
            size: n,
            sha1: "c".repeat(40),
        };
        let mut fake = FakeBox {
            folders: HashMap::from([
                (
                    "0",
                    vec![
                        listed("1", "Docs", DestItem::Folder),
                        listed("2", "unrelated", DestItem::Folder),
                        listed("9", "top.txt", file(1)),
                    ],
                ),
                (
                    "1",
                    vec![
                        listed("3", "Sub", DestItem::Folder),
                        listed("8", "a.txt", file(2)),
                    ],
                ),
                ("3", vec![listed("7", "deep.txt", file(3))]),
            ]),
            calls: Vec::new(),
        };
        let wanted = ["docs", "docs/sub"];
        let mut idx = MapIndex::default();
        index_destination(
            &mut fake,
            "0",
            &|p| wanted.contains(&box_name_key(p).as_str()),
            |p, i| {
                idx.insert(p, i);
                Ok(())
            },
        )
        .unwrap();
        // "unrelated" (id 2) is never listed: the manifest has no such directory.
        assert_eq!(fake.calls, ["0", "1", "3"]);
        assert_eq!(idx.get("docs/SUB/deep.txt"), Some(file(3)));
        assert_eq!(idx.get("unrelated"), Some(DestItem::Folder));
        assert_eq!(idx.len(), 6);

        // A listing error stops the audit with that error.
        fake.folders.remove("3");
        assert_eq!(
            index_destination(&mut fake, "0", &|_| true, |_, _| Ok(())).unwrap_err(),
            "404 folder 2"
        );
    }

    #[test]
    fn every_relation_is_classified() {
        let a = "a".repeat(40);
        let b = "b".repeat(40);
        let idx: MapIndex = [
            ("docs".to_string(), DestItem::Folder),
            (
                "docs/Report.pdf".to_string(),
                DestItem::File {
                    size: 3,
                    sha1: a.to_uppercase(),
                },
            ),
            (
                "docs/old.txt".to_string(),
                DestItem::File {
                    size: 3,
                    sha1: a.clone(),
                },
            ),
            (
                "photos".to_string(),
                DestItem::File {
                    size: 1,
                    sha1: b.clone(),
                },
            ),
            ("x".to_string(), DestItem::Folder),
        ]
        .into_iter()
        .collect();
        assert_eq!(idx.len(), 5);
        assert_eq!(
            compare(&row("docs", Kind::Dir, 0, ""), &idx),
            DestState::Same
        );
        // Case-insensitive match, SHA-1 compared case-insensitively.
        assert_eq!(
            compare(&row("DOCS/report.PDF", Kind::File, 3, &a), &idx),
            DestState::Same
        );
        assert!(matches!(
            compare(&row("docs/old.txt", Kind::File, 3, &b), &idx),
            DestState::Conflict(_)
        ));
        assert!(matches!(
            compare(&row("docs/old.txt", Kind::File, 3, ""), &idx),
            DestState::Conflict(r) if r.contains("--no-hash")
        ));
        assert!(matches!(
            compare(&row("photos", Kind::Dir, 0, ""), &idx),
            DestState::Conflict(_)
        ));
        assert!(matches!(
            compare(&row("x", Kind::File, 1, &a), &idx),
            DestState::Conflict(_)
        ));
        assert_eq!(
            compare(&row("docs/new.txt", Kind::File, 1, &a), &idx),
            DestState::New
        );
        assert_eq!(
            compare(&row("new/deeper", Kind::Dir, 0, ""), &idx),
            DestState::New
        );
    }
}
