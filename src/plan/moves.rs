//! `--track-moves`: which files that vanished from the source were moved or renamed there, so
//! Box gets a move (`PUT /files/{id}` / `PUT /folders/{id}`) instead of a second upload.
//!
//! A new source path is a move of a journal file when their (size, SHA-1) match and the pair
//! is unique both ways: exactly one vanished journal file has that content and exactly one new
//! path has it. Anything ambiguous (two copies, a copy and a rename...) is uploaded as before:
//! a wrong move would lose the file's Box history under the wrong name, an upload costs only
//! budget. When every journal file of a folder moved to the same relative place under one new
//! folder, the folder itself moves in one call and its files need none of their own.
//!
//! Pure planning over the journal and the scan, shared by dry runs (`would_move`), `audit` and
//! the mirror phase; the Box calls live in `migrate::mirror`.
use std::collections::{BTreeMap, BTreeSet, HashMap};

pub use crate::model::JournalFile;

/// A regular file the scan found on the source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceFile {
    /// '/'-separated path relative to the source root.
    pub path: String,
    /// Size now.
    pub size: u64,
    /// SHA-1 (hex) now.
    pub sha1: String,
}

/// What the source holds now: every file with its content, and every directory.
#[derive(Debug, Clone, Default)]
pub struct SourceTree {
    /// Files by path.
    pub files: BTreeMap<String, (u64, String)>,
    /// Directory paths ('' is the root, not listed).
    pub dirs: BTreeSet<String>,
}

impl SourceTree {
    /// Build from the scanned files and directories.
    pub fn new(
        files: impl IntoIterator<Item = SourceFile>,
        dirs: impl IntoIterator<Item = String>,
    ) -> Self {
        SourceTree {
            files: files
                .into_iter()
                .map(|f| (f.path, (f.size, f.sha1)))
                .collect(),
            dirs: dirs.into_iter().filter(|d| !d.is_empty()).collect(),
        }
    }

    /// Whether any file or directory lies strictly under `dir`.
    pub fn has_under(&self, dir: &str) -> bool {
        let prefix = format!("{dir}/");
        let starts = |s: &String| s.starts_with(&prefix);
        self.files
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| starts(p))
            || self.dirs.range(prefix.clone()..).next().is_some_and(starts)
    }
}

/// One folder moved or renamed in Box in one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FolderMove {
    /// Its path in the journal (gone from the source).
    pub old_path: String,
    /// Its path on the source now.
    pub new_path: String,
    /// The Box folder id.
    pub box_folder_id: String,
    /// The journal files it carries (each a move with no call of its own).
    pub files: Vec<FileMove>,
}

/// One file moved or renamed in Box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileMove {
    /// Its path in the journal (gone from the source).
    pub old_path: String,
    /// Its path on the source now.
    pub new_path: String,
    /// Size (same at both paths).
    pub size: u64,
    /// SHA-1 (same at both paths).
    pub sha1: String,
    /// The Box file id.
    pub box_file_id: String,
    /// The version the journal knows, for `If-Match`.
    pub box_file_version_id: String,
}

impl FileMove {
    /// The new parent directory's path ('' for the root) and the new name.
    pub fn new_parent_and_name(&self) -> (&str, &str) {
        split_parent(&self.new_path)
    }

    /// Whether the move changes the parent folder (else it is a rename in place).
    pub fn changes_parent(&self) -> bool {
        split_parent(&self.old_path).0 != split_parent(&self.new_path).0
    }
}

/// Split `a/b/c` into (`a/b`, `c`); a top-level name has parent ''.
pub fn split_parent(path: &str) -> (&str, &str) {
    match path.rfind('/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => ("", path),
    }
}

/// The moves a mirror run makes: folder moves first (they must land before the file moves
/// whose paths are computed against the moved tree), then single files.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MovePlan {
    /// Whole folders, outermost only, each one call.
    pub folders: Vec<FolderMove>,
    /// Files not carried by a folder move, each one call.
    pub files: Vec<FileMove>,
}

impl MovePlan {
    /// Box calls the plan makes.
    pub fn calls(&self) -> usize {
        self.folders.len() + self.files.len()
    }

    /// Files that reach their new path without an upload.
    pub fn files_moved(&self) -> usize {
        self.files.len() + self.folders.iter().map(|f| f.files.len()).sum::<usize>()
    }

    /// Bytes that need not be uploaded again.
    pub fn bytes_saved(&self) -> u64 {
        let folder_bytes = self.folders.iter().flat_map(|f| &f.files).map(|m| m.size);
        self.files.iter().map(|m| m.size).chain(folder_bytes).sum()
    }

    /// Every journal path the plan moves away (these are not deletions).
    pub fn old_paths(&self) -> impl Iterator<Item = &str> {
        let folder_files = self.folders.iter().flat_map(|f| &f.files);
        self.files
            .iter()
            .chain(folder_files)
            .map(|m| m.old_path.as_str())
    }

    /// Every source path the plan fills by a move (these are not uploads).
    pub fn new_paths(&self) -> impl Iterator<Item = &str> {
        let folder_files = self.folders.iter().flat_map(|f| &f.files);
        self.files
            .iter()
            .chain(folder_files)
            .map(|m| m.new_path.as_str())
    }
}

/// The proper ancestors of `path` (`a/b/c` → `a/b`, `a`).
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = path;
    std::iter::from_fn(move || {
        let i = rest.rfind('/')?;
        rest = &rest[..i];
        Some(rest)
    })
}

/// The run of `sorted` (by `key`) whose keys start with `prefix`.
pub fn under_prefix<'a, T>(sorted: &'a [T], key: impl Fn(&T) -> &str, prefix: &str) -> &'a [T] {
    let start = sorted.partition_point(|t| key(t) < prefix);
    let len = sorted[start..]
        .iter()
        .take_while(|t| key(t).starts_with(prefix))
        .count();
    &sorted[start..start + len]
}

/// Pair vanished journal files with new source paths of the same (size, SHA-1), one to one.
fn unique_pairs(journal: &[JournalFile], source: &SourceTree) -> Vec<FileMove> {
    let known: BTreeSet<&str> = journal.iter().map(|f| f.path.as_str()).collect();
    let mut vanished: HashMap<(u64, &str), Vec<&JournalFile>> = HashMap::new();
    for f in journal
        .iter()
        .filter(|f| !source.files.contains_key(&f.path))
    {
        vanished
            .entry((f.size, f.sha1.as_str()))
            .or_default()
            .push(f);
    }
    let mut fresh: HashMap<(u64, &str), Vec<&str>> = HashMap::new();
    for (path, (size, sha1)) in &source.files {
        if !known.contains(path.as_str()) && vanished.contains_key(&(*size, sha1.as_str())) {
            fresh.entry((*size, sha1.as_str())).or_default().push(path);
        }
    }
    let mut pairs: Vec<FileMove> = fresh
        .into_iter()
        .filter_map(
            |(key, news)| match (vanished[&key].as_slice(), news.as_slice()) {
                ([old], [new]) => Some(FileMove {
                    old_path: old.path.clone(),
                    new_path: (*new).to_string(),
                    size: old.size,
                    sha1: old.sha1.clone(),
                    box_file_id: old.box_file_id.clone(),
                    box_file_version_id: old.box_file_version_id.clone(),
                }),
                _ => None,
            },
        )
        .collect();
    pairs.sort_by(|a, b| a.old_path.cmp(&b.old_path));
    pairs
}

/// If every journal file under `dir` moved to the same relative path under one new folder
/// (not a journal folder, whose parent exists and is not itself going away), that folder.
fn folder_target(
    dir: &str,
    under: &[&FileMove],
    journal_under: usize,
    folders: &BTreeMap<String, String>,
    source: &SourceTree,
) -> Option<String> {
    if under.is_empty() || under.len() != journal_under || source.dirs.contains(dir) {
        return None;
    }
    let mut target: Option<&str> = None;
    for m in under {
        let rel = &m.old_path[dir.len() + 1..];
        let base = m.new_path.strip_suffix(rel)?.strip_suffix('/')?;
        match target {
            None => target = Some(base),
            Some(t) if t == base => {}
            Some(_) => return None,
        }
    }
    let target = target?;
    let parent = split_parent(target).0;
    let parent_stays =
        parent.is_empty() || (folders.contains_key(parent) && source.dirs.contains(parent));
    let inside_itself = target.starts_with(&format!("{dir}/"));
    (!folders.contains_key(target) && parent_stays && !inside_itself).then(|| target.to_string())
}

/// Plan the moves of a mirror run from the journal's files and folders (path → Box folder id)
/// and what the source holds now.
pub fn plan_moves(
    journal: &[JournalFile],
    folders: &BTreeMap<String, String>,
    source: &SourceTree,
) -> MovePlan {
    let pairs = unique_pairs(journal, source);
    let mut paths: Vec<&str> = journal.iter().map(|f| f.path.as_str()).collect();
    paths.sort_unstable();
    let mut plan = MovePlan::default();
    let mut carried: BTreeSet<String> = BTreeSet::new();
    // Outermost first: a parent that moves whole carries its subfolders.
    let mut dirs: Vec<(&String, &String)> = folders.iter().filter(|(p, _)| !p.is_empty()).collect();
    dirs.sort_by_key(|(p, _)| (p.matches('/').count(), p.as_str()));
    let mut moved_dirs: BTreeSet<&str> = BTreeSet::new();
    for (dir, id) in dirs {
        let prefix = format!("{dir}/");
        if ancestors(dir).any(|a| moved_dirs.contains(a)) {
            continue;
        }
        // Sorted slices: what lies under `dir` is one contiguous run (cost: its length).
        let under: Vec<&FileMove> = under_prefix(&pairs, |m| &m.old_path, &prefix)
            .iter()
            .collect();
        if under.is_empty() {
            continue;
        }
        let journal_under = under_prefix(&paths, |p| p, &prefix).len();
        if let Some(target) = folder_target(dir, &under, journal_under, folders, source) {
            carried.extend(under.iter().map(|m| m.old_path.clone()));
            plan.folders.push(FolderMove {
                old_path: dir.clone(),
                new_path: target,
                box_folder_id: id.clone(),
                files: under.into_iter().cloned().collect(),
            });
            moved_dirs.insert(dir);
        }
    }
    plan.files = pairs
        .into_iter()
        .filter(|m| !carried.contains(&m.old_path))
        .collect();
    plan
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A journal file at `path` (ids derived from it), for the planning tests here and in
    /// `deletes`.
    pub(crate) fn jf(path: &str, size: u64, sha1: &str) -> JournalFile {
        JournalFile {
            path: path.into(),
            size,
            sha1: sha1.into(),
            box_file_id: format!("id-{path}"),
            box_file_version_id: format!("v-{path}"),
        }
    }

    /// A source tree of these files (path, size, SHA-1) and directories.
    pub(crate) fn tree(files: &[(&str, u64, &str)], dirs: &[&str]) -> SourceTree {
        SourceTree::new(
            files.iter().map(|(p, s, h)| SourceFile {
                path: p.to_string(),
                size: *s,
                sha1: h.to_string(),
            }),
            dirs.iter().map(|d| d.to_string()),
        )
    }

    /// The journal's folders (path → `fid-<path>`).
    pub(crate) fn folders(list: &[&str]) -> BTreeMap<String, String> {
        list.iter()
            .map(|d| (d.to_string(), format!("fid-{d}")))
            .collect()
    }

    #[test]
    fn a_renamed_folder_is_one_move_carrying_its_files() {
        let journal = vec![
            jf("a/x", 1, "h1"),
            jf("a/sub/y", 2, "h2"),
            jf("keep", 3, "h3"),
        ];
        let source = tree(
            &[("b/x", 1, "h1"), ("b/sub/y", 2, "h2"), ("keep", 3, "h3")],
            &["b", "b/sub"],
        );
        let plan = plan_moves(&journal, &folders(&["a", "a/sub"]), &source);
        assert_eq!(plan.folders.len(), 1, "{plan:?}");
        assert_eq!(plan.folders[0].old_path, "a");
        assert_eq!(plan.folders[0].new_path, "b");
        assert_eq!(plan.folders[0].box_folder_id, "fid-a");
        assert_eq!(plan.folders[0].files.len(), 2);
        assert!(plan.files.is_empty());
        assert_eq!(plan.calls(), 1);
        assert_eq!(plan.files_moved(), 2);
        assert_eq!(plan.bytes_saved(), 3);
    }

    #[test]
    fn files_moved_across_folders_are_single_moves() {
        let journal = vec![jf("a/x", 1, "h1"), jf("a/y", 2, "h2"), jf("c/z", 3, "h3")];
        let source = tree(
            &[("a/y", 2, "h2"), ("c/x2", 1, "h1"), ("c/z", 3, "h3")],
            &["a", "c"],
        );
        let plan = plan_moves(&journal, &folders(&["a", "c"]), &source);
        assert!(plan.folders.is_empty());
        assert_eq!(plan.files.len(), 1);
        let m = &plan.files[0];
        assert_eq!((m.old_path.as_str(), m.new_path.as_str()), ("a/x", "c/x2"));
        assert_eq!(m.box_file_version_id, "v-a/x");
        assert_eq!(m.new_parent_and_name(), ("c", "x2"));
        assert!(m.changes_parent());
    }

    #[test]
    fn ambiguous_matches_fall_back_to_uploads() {
        // Two vanished files with one content; and one vanished file with two new copies.
        let journal = vec![jf("p", 1, "h"), jf("q", 1, "h"), jf("r", 2, "k")];
        let source = tree(&[("p2", 1, "h"), ("r1", 2, "k"), ("r2", 2, "k")], &[]);
        let plan = plan_moves(&journal, &folders(&[]), &source);
        assert_eq!(plan, MovePlan::default());
    }

    #[test]
    fn a_folder_that_still_exists_or_lost_a_file_is_not_moved_whole() {
        let journal = vec![jf("a/x", 1, "h1"), jf("a/y", 2, "h2")];
        // `a/y` was deleted, not moved: only `a/x` moves, on its own.
        let source = tree(&[("b/x", 1, "h1")], &["b"]);
        let plan = plan_moves(&journal, &folders(&["a"]), &source);
        assert!(plan.folders.is_empty());
        assert_eq!(plan.files.len(), 1);
        // `a` still exists on the source (emptied): its files move one by one.
        let source = tree(&[("b/x", 1, "h1"), ("b/y", 2, "h2")], &["a", "b"]);
        let plan = plan_moves(&journal, &folders(&["a"]), &source);
        assert!(plan.folders.is_empty());
        assert_eq!(plan.files.len(), 2);
    }

    #[test]
    fn a_folder_split_in_two_is_not_one_move() {
        let journal = vec![jf("a/x", 1, "h1"), jf("a/y", 2, "h2")];
        let source = tree(&[("b/x", 1, "h1"), ("c/y", 2, "h2")], &["b", "c"]);
        let plan = plan_moves(&journal, &folders(&["a"]), &source);
        assert!(plan.folders.is_empty());
        assert_eq!(plan.files.len(), 2);
    }

    #[test]
    fn into_an_existing_folder_moves_files_not_the_folder() {
        // `b` is already a journal folder: merging `a` into it is file moves.
        let journal = vec![jf("a/x", 1, "h1"), jf("b/z", 3, "h3")];
        let source = tree(&[("b/x", 1, "h1"), ("b/z", 3, "h3")], &["b"]);
        let plan = plan_moves(&journal, &folders(&["a", "b"]), &source);
        assert!(plan.folders.is_empty());
        assert_eq!(plan.files.len(), 1);
    }

    #[test]
    fn nested_folder_moves_take_the_outermost() {
        let journal = vec![jf("a/b/x", 1, "h1"), jf("a/y", 2, "h2")];
        let source = tree(&[("n/b/x", 1, "h1"), ("n/y", 2, "h2")], &["n", "n/b"]);
        let plan = plan_moves(&journal, &folders(&["a", "a/b"]), &source);
        assert_eq!(plan.folders.len(), 1);
        assert_eq!(plan.folders[0].old_path, "a");
        assert_eq!(plan.files_moved(), 2);
        // Only the inner folder moved, to a parent that stays.
        let source = tree(&[("a/c/x", 1, "h1"), ("a/y", 2, "h2")], &["a", "a/c"]);
        let plan = plan_moves(&journal, &folders(&["a", "a/b"]), &source);
        assert_eq!(plan.folders.len(), 1);
        assert_eq!(
            (
                plan.folders[0].old_path.as_str(),
                plan.folders[0].new_path.as_str()
            ),
            ("a/b", "a/c")
        );
    }

    #[test]
    fn has_under_sees_files_and_dirs() {
        let source = tree(&[("a/x", 1, "h")], &["b", "b/c", "ab"]);
        assert!(source.has_under("a"));
        assert!(source.has_under("b"));
        assert!(!source.has_under("b/c"));
        assert!(!source.has_under("ab/x"));
    }
}
