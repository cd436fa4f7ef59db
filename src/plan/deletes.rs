//! `--delete-missing`: which items boxlift uploaded (the journal knows them) are gone from the
//! source and go to Box's trash, and the guards that refuse to delete anything at all.
//!
//! Only journal items are ever candidates: what someone else put in Box is not in the journal.
//! A folder whose whole subtree is gone from the source is one recursive trash call; the
//! mirror phase first checks Box holds nothing the journal does not know inside it (else it
//! trashes the known files one by one). Files moved by `--track-moves` are not deletions.
//!
//! The guards follow rclone `sync`: no deletion after any read error in the scan (a file we
//! could not read would look deleted), none when the source root is missing or empty (an
//! unmounted share looks like "everything deleted"), and none beyond `--max-delete`.
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use super::moves::{JournalFile, MovePlan, SourceTree, ancestors, under_prefix};

/// `--max-delete`: how many journal files one run may trash.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxDelete {
    /// At most this many files.
    Count(u64),
    /// At most this percentage of the files the journal knows.
    Percent(f64),
}

impl Default for MaxDelete {
    /// 10% of the files the journal knows.
    fn default() -> Self {
        MaxDelete::Percent(10.0)
    }
}

impl MaxDelete {
    /// The limit in files for a journal of `known` files (a percentage rounds down).
    pub fn limit(self, known: u64) -> u64 {
        match self {
            MaxDelete::Count(n) => n,
            MaxDelete::Percent(p) => ((known as f64) * p / 100.0).floor() as u64,
        }
    }
}

impl FromStr for MaxDelete {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let bad = || format!("{s:?} is not a file count (500) or a percentage (10%)");
        match s.strip_suffix('%') {
            Some(p) => {
                let p: f64 = p.trim().parse().map_err(|_| bad())?;
                if !(0.0..=100.0).contains(&p) {
                    return Err(format!("{s:?}: a percentage is between 0% and 100%"));
                }
                Ok(MaxDelete::Percent(p))
            }
            None => s.parse().map(MaxDelete::Count).map_err(|_| bad()),
        }
    }
}

impl fmt::Display for MaxDelete {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MaxDelete::Count(n) => write!(f, "{n}"),
            MaxDelete::Percent(p) => write!(f, "{p}%"),
        }
    }
}

/// What the scan says about the source's health.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanHealth {
    /// The source root exists and is a directory.
    pub root_exists: bool,
    /// Entries the scan could not read (a directory, a file's metadata or content).
    pub read_errors: u64,
}

/// Why a mirror run refuses to delete anything (exit 2, before any deletion).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DeleteRefused {
    /// The source root is missing.
    #[error(
        "not deleting anything: the source root is missing (an unmounted share?); {would} file(s) would have gone to Box's trash"
    )]
    SourceMissing {
        /// Files that would have been deleted.
        would: u64,
    },
    /// The source root is empty.
    #[error(
        "not deleting anything: the source root is empty (an unmounted share?); {would} file(s) would have gone to Box's trash. Run without --delete-missing to keep Box as it is"
    )]
    SourceEmpty {
        /// Files that would have been deleted.
        would: u64,
    },
    /// The scan could not read some entries.
    #[error(
        "not deleting anything: the scan had {errors} read error(s), so a missing file may only be unreadable; fix them (see the report's skipped rows) and run again"
    )]
    ReadErrors {
        /// Read errors in the scan.
        errors: u64,
    },
    /// More files would go than `--max-delete` allows.
    #[error(
        "not deleting anything: {would} file(s) would go to Box's trash, more than --max-delete {max} allows ({limit} of the {known} files boxlift uploaded); check the source, then allow it with --max-delete {would} (or a percentage, e.g. --max-delete 100%)"
    )]
    TooMany {
        /// Files that would have been deleted.
        would: u64,
        /// The limit in files.
        limit: u64,
        /// The `--max-delete` value.
        max: MaxDelete,
        /// Files the journal knows.
        known: u64,
    },
}

impl DeleteRefused {
    /// The reason word for reports and logs.
    pub fn reason(&self) -> &'static str {
        match self {
            DeleteRefused::SourceMissing { .. } => "source_missing",
            DeleteRefused::SourceEmpty { .. } => "source_empty",
            DeleteRefused::ReadErrors { .. } => "scan_read_errors",
            DeleteRefused::TooMany { .. } => "over_max_delete",
        }
    }
}

/// A journal file to trash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileDelete {
    /// Its path in the journal.
    pub path: String,
    /// Size when uploaded.
    pub size: u64,
    /// SHA-1 when uploaded.
    pub sha1: String,
    /// Box file id.
    pub box_file_id: String,
    /// The version the journal knows, for `If-Match`: a newer one in Box keeps the file.
    pub box_file_version_id: String,
}

/// A journal folder whose whole subtree is gone: one recursive trash call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderDelete {
    /// Its path in the journal.
    pub path: String,
    /// Box folder id.
    pub box_folder_id: String,
    /// The journal files inside it (the fallback when Box holds more than these).
    pub files: Vec<FileDelete>,
    /// The journal folders inside it.
    pub subfolders: Vec<String>,
}

/// The deletions of a mirror run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeletePlan {
    /// Whole folders, outermost only.
    pub folders: Vec<FolderDelete>,
    /// Files not inside a deleted folder.
    pub files: Vec<FileDelete>,
}

impl DeletePlan {
    /// Files that go to the trash (inside folders or alone): what `--max-delete` counts.
    pub fn file_count(&self) -> u64 {
        (self.files.len() + self.folders.iter().map(|f| f.files.len()).sum::<usize>()) as u64
    }

    /// Box calls the plan makes when no folder needs the one-by-one fallback.
    pub fn calls(&self) -> usize {
        self.files.len() + self.folders.len()
    }

    /// Whether there is nothing to delete.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty() && self.folders.is_empty()
    }
}

fn to_delete(f: &JournalFile) -> FileDelete {
    FileDelete {
        path: f.path.clone(),
        size: f.size,
        sha1: f.sha1.clone(),
        box_file_id: f.box_file_id.clone(),
        box_file_version_id: f.box_file_version_id.clone(),
    }
}

/// Plan the deletions: journal files gone from the source and not moved, grouped into the
/// outermost journal folders that are wholly gone (nothing on the source under them, not
/// moved away, and not the destination root).
pub fn plan_deletes(
    journal: &[JournalFile],
    folders: &BTreeMap<String, String>,
    source: &SourceTree,
    moves: &MovePlan,
) -> DeletePlan {
    let moved: BTreeSet<&str> = moves.old_paths().collect();
    let mut moved_sorted: Vec<&str> = moved.iter().copied().collect();
    moved_sorted.sort_unstable();
    let moved_dirs: BTreeSet<&str> = moves.folders.iter().map(|f| f.old_path.as_str()).collect();
    let mut gone: Vec<&JournalFile> = journal
        .iter()
        .filter(|f| !source.files.contains_key(&f.path) && !moved.contains(f.path.as_str()))
        .collect();
    gone.sort_unstable_by(|a, b| a.path.cmp(&b.path));
    let mut dirs: Vec<(&String, &String)> = folders
        .iter()
        .filter(|(p, _)| !p.is_empty() && !source.dirs.contains(*p) && !source.has_under(p))
        .filter(|(p, _)| {
            !moved_dirs.contains(p.as_str()) && !ancestors(p).any(|a| moved_dirs.contains(a))
        })
        .collect();
    dirs.sort_by_key(|(p, _)| (p.matches('/').count(), p.as_str()));
    let folder_paths: Vec<&String> = folders.keys().collect();
    let mut plan = DeletePlan::default();
    let mut taken: BTreeSet<&str> = BTreeSet::new();
    for (dir, id) in dirs {
        let prefix = format!("{dir}/");
        if ancestors(dir).any(|a| taken.contains(a)) {
            continue;
        }
        // A journal file under it that was moved out keeps the folder (it is not wholly gone
        // in the journal's sense); trash what remains file by file.
        if !under_prefix(&moved_sorted, |m| m, &prefix).is_empty() {
            continue;
        }
        plan.folders.push(FolderDelete {
            path: dir.clone(),
            box_folder_id: id.clone(),
            files: under_prefix(&gone, |f| &f.path, &prefix)
                .iter()
                .map(|f| to_delete(f))
                .collect(),
            subfolders: under_prefix(&folder_paths, |k| k, &prefix)
                .iter()
                .map(|k| k.to_string())
                .collect(),
        });
        taken.insert(dir);
    }
    plan.files = gone
        .into_iter()
        .filter(|f| !ancestors(&f.path).any(|a| taken.contains(a)))
        .map(to_delete)
        .collect();
    plan
}

/// The guards: `Ok` when the plan may run, else why not. `known` is the number of files the
/// journal knows; `source_entries` what the scan found (files and directories).
pub fn check_guards(
    plan: &DeletePlan,
    health: ScanHealth,
    source_entries: u64,
    known: u64,
    max: MaxDelete,
) -> Result<(), DeleteRefused> {
    let would = plan.file_count();
    if plan.is_empty() {
        return Ok(());
    }
    if !health.root_exists {
        return Err(DeleteRefused::SourceMissing { would });
    }
    if source_entries == 0 {
        return Err(DeleteRefused::SourceEmpty { would });
    }
    if health.read_errors > 0 {
        return Err(DeleteRefused::ReadErrors {
            errors: health.read_errors,
        });
    }
    let limit = max.limit(known);
    if would > limit {
        return Err(DeleteRefused::TooMany {
            would,
            limit,
            max,
            known,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::moves::plan_moves;
    use crate::plan::moves::tests::{folders, jf, tree};

    #[test]
    fn gone_folder_is_one_recursive_delete_and_gone_files_are_single() {
        let journal = vec![
            jf("gone/a", 1, "h1"),
            jf("gone/sub/b", 2, "h2"),
            jf("keep/c", 3, "h3"),
            jf("keep/d", 4, "h4"),
        ];
        let source = tree(&[("keep/c", 3, "h3")], &["keep"]);
        let f = folders(&["gone", "gone/sub", "keep"]);
        let moves = plan_moves(&journal, &f, &source);
        let plan = plan_deletes(&journal, &f, &source, &moves);
        assert_eq!(plan.folders.len(), 1, "{plan:?}");
        assert_eq!(plan.folders[0].path, "gone");
        assert_eq!(plan.folders[0].files.len(), 2);
        assert_eq!(plan.folders[0].subfolders, vec!["gone/sub".to_string()]);
        assert_eq!(plan.files.len(), 1);
        assert_eq!(plan.files[0].path, "keep/d");
        assert_eq!(plan.files[0].box_file_version_id, "v-keep/d");
        assert_eq!(plan.file_count(), 3);
        assert_eq!(plan.calls(), 2);
    }

    #[test]
    fn moved_files_and_folders_are_not_deleted() {
        let journal = vec![jf("a/x", 1, "h1"), jf("a/y", 2, "h2"), jf("m", 5, "h5")];
        let source = tree(
            &[("b/x", 1, "h1"), ("b/y", 2, "h2"), ("n", 5, "h5")],
            &["b"],
        );
        let f = folders(&["a"]);
        let moves = plan_moves(&journal, &f, &source);
        assert_eq!(moves.calls(), 2);
        let plan = plan_deletes(&journal, &f, &source, &moves);
        assert!(plan.is_empty(), "{plan:?}");
    }

    #[test]
    fn a_folder_a_file_moved_out_of_is_deleted_file_by_file() {
        let journal = vec![jf("a/x", 1, "h1"), jf("a/y", 2, "h2")];
        let source = tree(&[("b/x", 1, "h1")], &["b"]);
        let f = folders(&["a"]);
        let moves = plan_moves(&journal, &f, &source);
        let plan = plan_deletes(&journal, &f, &source, &moves);
        assert!(plan.folders.is_empty());
        assert_eq!(plan.files.len(), 1);
        assert_eq!(plan.files[0].path, "a/y");
    }

    #[test]
    fn max_delete_parses_counts_and_percentages() {
        assert_eq!("500".parse::<MaxDelete>().unwrap(), MaxDelete::Count(500));
        assert_eq!(
            "10%".parse::<MaxDelete>().unwrap(),
            MaxDelete::Percent(10.0)
        );
        assert!("x%".parse::<MaxDelete>().is_err());
        assert!("101%".parse::<MaxDelete>().is_err());
        assert!("-1".parse::<MaxDelete>().is_err());
        assert_eq!(MaxDelete::default().limit(2000), 200);
        assert_eq!(MaxDelete::Percent(10.0).limit(9), 0);
        assert_eq!(MaxDelete::Count(7).limit(2000), 7);
    }

    #[test]
    fn guards_refuse_and_name_the_reason() {
        let journal: Vec<JournalFile> = (0..20)
            .map(|i| jf(&format!("f{i}"), 1, &format!("h{i}")))
            .collect();
        let f = folders(&[]);
        let source = tree(&[("f0", 1, "h0")], &[]);
        let moves = plan_moves(&journal, &f, &source);
        let plan = plan_deletes(&journal, &f, &source, &moves);
        assert_eq!(plan.file_count(), 19);
        let ok = ScanHealth {
            root_exists: true,
            read_errors: 0,
        };
        let err = check_guards(&plan, ok, 1, 20, MaxDelete::default()).unwrap_err();
        assert_eq!(err.reason(), "over_max_delete");
        let msg = err.to_string();
        assert!(
            msg.contains("19 file(s)") && msg.contains("--max-delete 19"),
            "{msg}"
        );
        assert!(check_guards(&plan, ok, 1, 20, MaxDelete::Count(19)).is_ok());
        let err = check_guards(&plan, ok, 0, 20, MaxDelete::Count(100)).unwrap_err();
        assert_eq!(err.reason(), "source_empty");
        assert!(err.to_string().contains("empty"));
        let missing = ScanHealth {
            root_exists: false,
            read_errors: 0,
        };
        let err = check_guards(&plan, missing, 0, 20, MaxDelete::Count(100)).unwrap_err();
        assert!(err.to_string().contains("missing"));
        let errors = ScanHealth {
            root_exists: true,
            read_errors: 3,
        };
        let err = check_guards(&plan, errors, 1, 20, MaxDelete::Count(100)).unwrap_err();
        assert_eq!(err.reason(), "scan_read_errors");
        assert!(err.to_string().contains("3 read error(s)"));
        // Nothing to delete: nothing to refuse.
        assert!(check_guards(&DeletePlan::default(), missing, 0, 20, MaxDelete::Count(0)).is_ok());
    }
}
