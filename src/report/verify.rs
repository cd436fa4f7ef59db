//! `verify`'s comparison: walk the Box destination (listings with `fields=sha1,size`, no
//! download) against the manifest and name every difference: missing, extra, other size, other
//! SHA-1 (which catches zero-byte and truncated uploads), kind mismatches and twin folders.
use std::collections::{HashMap, VecDeque};
use std::fmt;

use serde::Serialize;
use tokio::task::JoinSet;

use crate::box_api::names::box_name_key;
use crate::box_api::{ApiError, BoxClient, Item};
use crate::upload::folders::{LIST_FIELDS, Listing};

/// Folder listings in flight at once.
const LISTINGS_IN_FLIGHT: usize = 8;

/// What the manifest says should be at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Path as in the manifest.
    pub path: String,
    /// A directory.
    pub is_dir: bool,
    /// Size.
    pub size: u64,
    /// SHA-1 hex (empty: not hashed, size is compared alone).
    pub sha1: String,
}

/// Kinds of difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// In the manifest, not in Box.
    Missing,
    /// In Box, not in the manifest.
    Extra,
    /// Another size in Box.
    SizeMismatch,
    /// Same size, another SHA-1.
    Sha1Mismatch,
    /// A file where a folder should be, or the reverse.
    KindMismatch,
    /// Two folders of the same name in one parent (a create race).
    DuplicateFolder,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Missing => "missing",
            Problem::Extra => "extra",
            Problem::SizeMismatch => "size_mismatch",
            Problem::Sha1Mismatch => "sha1_mismatch",
            Problem::KindMismatch => "kind_mismatch",
            Problem::DuplicateFolder => "duplicate_folder",
        })
    }
}

/// One difference (a row of verify's CSV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Difference {
    /// Path relative to the destination.
    pub path: String,
    /// What differs.
    pub problem: Problem,
    /// Size the manifest expects.
    pub expected_size: Option<u64>,
    /// Size in Box.
    pub box_size: Option<u64>,
    /// SHA-1 the manifest expects.
    pub expected_sha1: String,
    /// SHA-1 in Box.
    pub box_sha1: String,
    /// Box id of the item.
    pub box_id: String,
}

/// What a verification found.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Every difference, sorted by path.
    pub differences: Vec<Difference>,
    /// Files that matched.
    pub files_ok: u64,
    /// Folders that matched.
    pub folders_ok: u64,
    /// Listing calls made.
    pub listings: u64,
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// Compare the tree under Box folder `dest` with `expected` (keyed by [`box_name_key`] of the path,
/// since Box names are unique case-insensitively).
pub async fn verify(
    client: &BoxClient,
    dest: &str,
    mut expected: HashMap<String, Expected>,
) -> Result<Outcome, ApiError> {
    let mut out = Outcome::default();
    let mut queue: VecDeque<(String, String)> = VecDeque::from([(dest.to_string(), String::new())]);
    let mut running = JoinSet::new();
    loop {
        while running.len() < LISTINGS_IN_FLIGHT
            && let Some((id, rel)) = queue.pop_front()
        {
            let c = client.clone();
            running.spawn(async move {
                let items = c.list_folder(&id, LIST_FIELDS).await;
                (rel, items)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (rel, items) = done.map_err(|e| {
            ApiError::new(
                crate::box_api::ErrorKind::Other,
                format!("listing task failed: {e}"),
            )
        })?;
        let items = items?;
        out.listings += 1;
        let twins = Listing::from_items(items.clone()).duplicate_folders;
        for name in twins {
            out.differences.push(Difference {
                path: join(&rel, &name),
                problem: Problem::DuplicateFolder,
                expected_size: None,
                box_size: None,
                expected_sha1: String::new(),
                box_sha1: String::new(),
                box_id: String::new(),
            });
        }
        for item in items {
            let (is_folder, f) = match item {
                Item::File(f) => (false, f),
                Item::Folder(f) => (true, f),
                Item::WebLink(f) => (false, f),
            };
            let name = f.name.clone().unwrap_or_default();
            let path = join(&rel, &name);
            let diff = |problem, exp: Option<&Expected>| Difference {
                path: exp.map_or(path.clone(), |e| e.path.clone()),
                problem,
                expected_size: exp.filter(|e| !e.is_dir).map(|e| e.size),
                box_size: if is_folder { None } else { f.size },
                expected_sha1: exp.map(|e| e.sha1.clone()).unwrap_or_default(),
                box_sha1: f.sha1.clone().unwrap_or_default(),
                box_id: f.id.clone(),
            };
            match expected.remove(&box_name_key(&path)) {
                None => out.differences.push(diff(Problem::Extra, None)),
                Some(e) if e.is_dir != is_folder => {
                    out.differences.push(diff(Problem::KindMismatch, Some(&e)))
                }
                Some(e) if is_folder => {
                    out.folders_ok += 1;
                    queue.push_back((f.id.clone(), e.path.clone()));
                }
                Some(e) if f.size != Some(e.size) => {
                    out.differences.push(diff(Problem::SizeMismatch, Some(&e)))
                }
                Some(e)
                    if !e.sha1.is_empty()
                        && !f
                            .sha1
                            .as_deref()
                            .is_some_and(|s| s.eq_ignore_ascii_case(&e.sha1)) =>
                {
                    out.differences.push(diff(Problem::Sha1Mismatch, Some(&e)))
                }
                Some(_) => out.files_ok += 1,
            }
        }
    }
    for (_, e) in expected {
        out.differences.push(Difference {
            path: e.path.clone(),
            problem: Problem::Missing,
            expected_size: (!e.is_dir).then_some(e.size),
            box_size: None,
            expected_sha1: e.sha1,
            box_sha1: String::new(),
            box_id: String::new(),
        });
    }
    out.differences
        .sort_by(|a, b| (&a.path, a.problem).cmp(&(&b.path, b.problem)));
    Ok(out)
}
