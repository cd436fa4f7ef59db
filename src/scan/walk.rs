//! The walk: walkdir in deterministic order (depth-first, siblings sorted by name), turning
//! each entry into a manifest row or a hash job, and every problem into a row with a reason.
use std::collections::HashSet;
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use globset::GlobSet;
use walkdir::WalkDir;

use super::names::{Collisions, check_box_name};
use super::quick::Previous;
use super::{ScanError, ScanOptions};
use crate::hash::Stamp;
use crate::manifest::row::{format_mtime, mtime_from};
use crate::manifest::{InvalidReason, Kind, ManifestRow, SkipReason, Status};

/// What the walk hands on, in walk order.
#[derive(Debug)]
pub(crate) enum Job {
    /// A finished row (directories, problems, quick-check hits, `--no-hash`).
    Done(ManifestRow),
    /// A file to hash before its row is final.
    Hash(ManifestRow, PathBuf, Stamp),
}

impl Job {
    /// The row, final or to be hashed.
    pub(crate) fn row(&self) -> &ManifestRow {
        match self {
            Job::Done(row) | Job::Hash(row, _, _) => row,
        }
    }
}

/// Which entries the walk takes: `--exclude`, `--include`, `--files-from`, `--min-age`.
#[derive(Debug)]
pub(crate) struct Filter {
    /// Entries (and their contents) left out.
    pub(crate) exclude: GlobSet,
    /// When not empty, only files matching one of these are taken.
    pub(crate) include: GlobSet,
    /// Only these paths (and their folders).
    pub(crate) files_from: Option<FileList>,
    /// Files modified after this are `skipped:too_recent`.
    pub(crate) modified_after: Option<SystemTime>,
}

impl Filter {
    /// Is the entry walked at all? (A directory that is not is left out with its contents.)
    fn keeps(&self, root: &Path, e: &walkdir::DirEntry) -> bool {
        if is_excluded(&self.exclude, root, e.path()) {
            return false;
        }
        let is_dir = e.file_type().is_dir();
        if self.files_from.is_none() && (is_dir || self.include.is_empty()) {
            return true;
        }
        let rel = rel_path(root, e.path());
        if let Some(list) = &self.files_from
            && !list.keeps(&rel, is_dir)
        {
            return false;
        }
        is_dir
            || self.include.is_empty()
            || self.include.is_match(&rel)
            || e.path()
                .file_name()
                .is_some_and(|n| self.include.is_match(n))
    }
}

/// `--files-from`: relative paths, one a line. A listed file is taken; a listed directory is
/// taken with everything in it; the directories above a listed path are walked (and created),
/// nothing else.
#[derive(Debug, Default)]
pub(crate) struct FileList {
    listed: HashSet<String>,
    /// Every directory above a listed path.
    above: HashSet<String>,
}

impl FileList {
    /// Read the list: blank lines and `#` comments are skipped, `./` and `/` prefixes and
    /// trailing `/` dropped, `\r\n` line ends accepted.
    pub(crate) fn read(path: &Path) -> io::Result<FileList> {
        Ok(FileList::parse(&std::fs::read_to_string(path)?))
    }

    fn parse(text: &str) -> FileList {
        let mut list = FileList::default();
        for line in text.lines() {
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let mut p = line.trim_start_matches("./").trim_start_matches('/');
            p = p.trim_end_matches('/');
            if p.is_empty() {
                continue;
            }
            let mut dir = p;
            while let Some((parent, _)) = dir.rsplit_once('/') {
                if !list.above.insert(parent.to_string()) {
                    break;
                }
                dir = parent;
            }
            list.listed.insert(p.to_string());
        }
        list
    }

    fn keeps(&self, rel: &str, is_dir: bool) -> bool {
        if self.listed.contains(rel) || (is_dir && self.above.contains(rel)) {
            return true;
        }
        // Inside a listed directory.
        let mut p = rel;
        while let Some((parent, _)) = p.rsplit_once('/') {
            if self.listed.contains(parent) {
                return true;
            }
            p = parent;
        }
        false
    }
}

/// Walk state that spans entries.
struct Walk<'a> {
    opts: &'a ScanOptions,
    /// `--min-age`: files modified after this are skipped.
    modified_after: Option<SystemTime>,
    collisions: Collisions,
    previous: Previous,
    /// A directory that is not `ok` (depth, path): everything under it is `skipped:parent`.
    blocked: Option<(usize, String)>,
    /// The last directory row, held back one step: walkdir reports "cannot read this directory"
    /// as the next item, and that belongs in the directory's own row.
    pending_dir: Option<(PathBuf, ManifestRow)>,
    /// The directory of the last entry stat'ed, open: `fstatat(dir, name)` resolves one
    /// component instead of the whole path, which is most of `find`'s edge over `lstat(path)`.
    dir_fd: Option<(PathBuf, std::os::fd::OwnedFd)>,
}

/// Walk `opts.root`, calling `emit` for each job in walk order; `emit` returns false to stop.
pub(crate) fn walk(
    opts: &ScanOptions,
    filter: &Filter,
    previous: Previous,
    mut emit: impl FnMut(Job) -> bool,
) -> Result<(), ScanError> {
    let root = opts.root.as_path();
    let mut w = Walk {
        opts,
        modified_after: filter.modified_after,
        collisions: Collisions::default(),
        previous,
        blocked: None,
        pending_dir: None,
        dir_fd: None,
    };
    let it = WalkDir::new(root)
        .follow_links(opts.follow_symlinks)
        // Siblings share their parent's path, so comparing whole paths as bytes orders them
        // exactly as comparing names does, without re-parsing each path for its file name on
        // every comparison (walkdir's `sort_by_file_name` showed up at 7% of a scan's time).
        .sort_by(|a, b| {
            use std::os::unix::ffi::OsStrExt;
            a.path()
                .as_os_str()
                .as_bytes()
                .cmp(b.path().as_os_str().as_bytes())
        })
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || filter.keeps(root, e));
    for item in it {
        let job = match item {
            Ok(entry) if entry.depth() == 0 => continue,
            Ok(entry) => {
                if let Some((_, row)) = w.pending_dir.take()
                    && !emit(Job::Done(row))
                {
                    return Ok(());
                }
                w.entry(&entry)
            }
            Err(err) => {
                let path = err.path().map(Path::to_path_buf).unwrap_or_default();
                if err.depth() == 0 || path == root {
                    return Err(ScanError::Root {
                        path: root.to_path_buf(),
                        source: err
                            .into_io_error()
                            .unwrap_or_else(|| io::Error::other("walk")),
                    });
                }
                if let Some((p, mut row)) = w.pending_dir.take() {
                    if p == path {
                        // The directory was listed but cannot be read: say so in its own row.
                        let io = err.io_error();
                        row.status = Status::Skipped(io_reason(io.map(|e| e.kind())));
                        row.detail = format!("cannot list directory: {}", err_text(&err));
                        if !emit(Job::Done(row)) {
                            return Ok(());
                        }
                        continue;
                    }
                    if !emit(Job::Done(row)) {
                        return Ok(());
                    }
                }
                w.error(&path, &err)
            }
        };
        if let Some(job) = job
            && !emit(job)
        {
            return Ok(());
        }
    }
    if let Some((_, row)) = w.pending_dir.take() {
        emit(Job::Done(row));
    }
    Ok(())
}

fn is_excluded(set: &GlobSet, root: &Path, path: &Path) -> bool {
    if set.is_empty() {
        return false;
    }
    let rel = path.strip_prefix(root).unwrap_or(path);
    set.is_match(rel) || path.file_name().is_some_and(|n| set.is_match(n))
}

/// Relative, `/`-separated, UTF-8 (lossy) path of `path` under `root`.
fn rel_path(root: &Path, path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    // Every walked path is `root` + `/` + rest: slice instead of `strip_prefix`, which parses
    // both paths component by component.
    let (r, p) = (root.as_os_str().as_bytes(), path.as_os_str().as_bytes());
    if p.len() > r.len() + 1 && p.starts_with(r) {
        let skip = if r.ends_with(b"/") {
            r.len()
        } else {
            r.len() + 1
        };
        let rest = &p[skip..];
        return match std::str::from_utf8(rest) {
            Ok(s) => s.to_string(),
            Err(_) => String::from_utf8_lossy(rest).into_owned(),
        };
    }
    let rel = path.strip_prefix(root).unwrap_or(path);
    match rel.to_str() {
        Some(s) => s.to_string(),
        None => rel.to_string_lossy().into_owned(),
    }
}

fn err_text(err: &walkdir::Error) -> String {
    match err.io_error() {
        Some(io) => io.to_string(),
        None => err.to_string(),
    }
}

/// The manifest reason for an I/O error kind.
pub(crate) fn io_reason(kind: Option<io::ErrorKind>) -> SkipReason {
    match kind {
        Some(io::ErrorKind::PermissionDenied) => SkipReason::PermissionDenied,
        Some(io::ErrorKind::NotFound) => SkipReason::Vanished,
        _ => SkipReason::ReadError,
    }
}

fn special_kind(ft: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if ft.is_fifo() {
        "fifo"
    } else if ft.is_socket() {
        "socket"
    } else if ft.is_block_device() {
        "block device"
    } else if ft.is_char_device() {
        "character device"
    } else {
        "unknown file type"
    }
}

/// A stat's mtime as a `SystemTime` (before 1970 too).
fn mtime_of(st: &Stamp) -> SystemTime {
    let nanos = Duration::from_nanos(u64::from(st.mtime_nanos));
    if st.mtime_secs >= 0 {
        SystemTime::UNIX_EPOCH + Duration::from_secs(st.mtime_secs as u64) + nanos
    } else {
        SystemTime::UNIX_EPOCH - Duration::from_secs(st.mtime_secs.unsigned_abs()) + nanos
    }
}

fn row(path: String, kind: Kind) -> ManifestRow {
    ManifestRow {
        path,
        kind,
        size: 0,
        mtime: None,
        sha1: String::new(),
        status: Status::Ok,
        detail: String::new(),
    }
}

impl Walk<'_> {
    fn entry(&mut self, entry: &walkdir::DirEntry) -> Option<Job> {
        let depth = entry.depth();
        let rel = rel_path(&self.opts.root, entry.path());
        let ft = entry.file_type();
        let kind = if ft.is_dir() { Kind::Dir } else { Kind::File };
        let mut r = row(rel, kind);

        if let Some((bd, bpath)) = &self.blocked {
            if depth > *bd {
                r.status = Status::Skipped(SkipReason::Parent);
                r.detail = format!("inside {bpath:?}, which is not migrated");
                self.collisions.visit(depth);
                return self.finish_dir_or_done(entry, r);
            }
            self.blocked = None;
        }

        if kind == Kind::File
            && let Some(shard) = &self.opts.shard
            && !shard.owns(&r.path, false)
        {
            // Another shard's file: no stat, no hash, no row. Its name still takes its place
            // among its siblings, so a sibling folder of this shard sees the same case
            // collisions as an unsharded run (only a file that another shard finds unreadable
            // or too large could differ, and then only in which of the two is flagged).
            if ft.is_file() && name_problem(entry.file_name()).is_none() {
                let name = entry.file_name().to_str().unwrap_or_default();
                self.collisions.check(depth, name);
            } else {
                self.collisions.visit(depth);
            }
            return None;
        }

        let meta = self.stat(entry);
        if let Ok(st) = &meta {
            if kind == Kind::File {
                r.size = st.size;
            }
            r.mtime = mtime_from(st.mtime_secs, st.mtime_nanos);
        }

        self.judge(entry, &meta, &mut r);

        // Only items that will be uploaded take a name in the Box folder.
        if r.status.is_ok() {
            let name = entry.file_name().to_str().unwrap_or_default();
            if let Some(first) = self.collisions.check(depth, name) {
                r.status = Status::Invalid(InvalidReason::NameCollision);
                r.detail =
                    format!("same name in Box as {first:?} (Box names are case-insensitive)");
            }
        } else {
            self.collisions.visit(depth);
        }

        if kind == Kind::Dir && !r.status.is_ok() && !ft.is_symlink() {
            self.blocked = Some((depth, r.path.clone()));
        }
        if let Some(p) = &self.opts.progress {
            p.count_walked(&r);
        }
        if kind == Kind::File && r.status.is_ok() {
            return self.sha1_or_hash(entry, r, meta.ok());
        }
        self.finish_dir_or_done(entry, r)
    }

    /// Set the status of a row Box will not get: a link, a special file, a failed stat, a name
    /// Box refuses, too large, too recent. Rows that pass stay `ok`.
    fn judge(&self, entry: &walkdir::DirEntry, meta: &io::Result<Stamp>, r: &mut ManifestRow) {
        let ft = entry.file_type();
        let kind = r.kind;
        if ft.is_symlink() {
            r.status = Status::Skipped(SkipReason::Symlink);
            r.detail = match std::fs::read_link(entry.path()) {
                Ok(t) => format!("symlink to {}", t.display()),
                Err(_) => "symlink".into(),
            };
        } else if !ft.is_file() && !ft.is_dir() {
            r.status = Status::Skipped(SkipReason::SpecialFile);
            r.detail = special_kind(&ft).into();
        } else if let Err(e) = meta {
            r.status = Status::Skipped(io_reason(Some(e.kind())));
            r.detail = format!("cannot stat: {e}");
        } else if let Some(problem) = name_problem(entry.file_name()) {
            r.status = Status::Invalid(problem.0);
            r.detail = problem.1;
        } else if kind == Kind::File
            && let Some(max) = self.opts.max_file_size
            && r.size > max
        {
            r.status = Status::Invalid(InvalidReason::TooLarge);
            r.detail = format!("{} bytes; the account's maximum is {max}", r.size);
        } else if kind == Kind::File
            && let (Some(after), Ok(st)) = (self.modified_after, meta)
            && mtime_of(st) > after
        {
            r.status = Status::Skipped(SkipReason::TooRecent);
            r.detail = format!(
                "modified {}, more recently than --min-age allows; a later run takes it",
                format_mtime(st.mtime_secs, st.mtime_nanos)
            );
        }
    }

    /// A file to upload: its SHA-1 from the journal or the previous manifest (same size and
    /// mtime), else a hash job (unless hashing is off).
    fn sha1_or_hash(
        &mut self,
        entry: &walkdir::DirEntry,
        mut r: ManifestRow,
        meta: Option<Stamp>,
    ) -> Option<Job> {
        // The journal first (a finished file is never opened again); the previous
        // manifests skip what they were not asked for on their next call.
        if let Some(known) = &self.opts.known
            && let Some(sha1) = known.sha1(&r.path, r.size, r.mtime.as_ref())
        {
            r.sha1 = sha1;
            if let Some(p) = &self.opts.progress {
                p.count_known();
            }
            return Some(Job::Done(r));
        }
        if let Some(sha1) = self.previous.reuse(&r.path, r.size, r.mtime.as_ref()) {
            r.sha1 = sha1;
            if let Some(p) = &self.opts.progress {
                p.count_reused();
            }
            return Some(Job::Done(r));
        }
        if self.opts.hash {
            let stamp = meta?;
            if let Some(p) = &self.opts.progress {
                p.count_queued(r.size);
            }
            return Some(Job::Hash(r, entry.path().to_path_buf(), stamp));
        }
        self.finish_dir_or_done(entry, r)
    }

    /// Size and mtime of the entry (of the link itself unless following links).
    fn stat(&mut self, entry: &walkdir::DirEntry) -> io::Result<Stamp> {
        use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
        use std::os::unix::ffi::OsStrExt;
        let path = entry.path();
        let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
            return Err(io::Error::other("entry without a parent"));
        };
        if self.opts.follow_symlinks {
            return entry.metadata().map(|m| Stamp::of(&m)).map_err(|e| {
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("symlink loop"))
            });
        }
        if self.dir_fd.as_ref().is_none_or(|(p, _)| p != parent) {
            self.dir_fd = None;
            let c =
                std::ffi::CString::new(parent.as_os_str().as_bytes()).map_err(io::Error::other)?;
            // SAFETY: `c` is a valid NUL-terminated path; the returned fd is checked and then
            // owned by `OwnedFd`, which closes it.
            let fd = unsafe {
                libc::open(
                    c.as_ptr(),
                    libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC,
                )
            };
            if fd < 0 {
                return entry.metadata().map(|m| Stamp::of(&m)).map_err(|e| {
                    e.into_io_error()
                        .unwrap_or_else(|| io::Error::other("stat"))
                });
            }
            // SAFETY: `fd` is a fresh descriptor nobody else owns.
            self.dir_fd = Some((parent.to_path_buf(), unsafe { OwnedFd::from_raw_fd(fd) }));
        }
        let Some((_, dir)) = &self.dir_fd else {
            unreachable!("opened above")
        };
        let c = std::ffi::CString::new(name.as_bytes()).map_err(io::Error::other)?;
        // SAFETY: zeroed `stat` is a valid out-buffer for fstatat.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        // SAFETY: `dir` is an open directory descriptor, `c` a NUL-terminated name, `st` a
        // live out-buffer.
        let rc = unsafe {
            libc::fstatat(
                dir.as_raw_fd(),
                c.as_ptr(),
                &mut st,
                libc::AT_SYMLINK_NOFOLLOW,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(Stamp {
            size: st.st_size as u64,
            mtime_secs: st.st_mtime,
            mtime_nanos: st.st_mtime_nsec.clamp(0, 999_999_999) as u32,
        })
    }

    fn finish_dir_or_done(&mut self, entry: &walkdir::DirEntry, r: ManifestRow) -> Option<Job> {
        if r.kind == Kind::Dir && entry.file_type().is_dir() {
            self.pending_dir = Some((entry.path().to_path_buf(), r));
            None
        } else {
            Some(Job::Done(r))
        }
    }

    fn error(&mut self, path: &Path, err: &walkdir::Error) -> Option<Job> {
        let depth = err.depth().max(1);
        self.collisions.visit(depth);
        let mut r = row(rel_path(&self.opts.root, path), Kind::File);
        if let Some(ancestor) = err.loop_ancestor() {
            r.kind = Kind::Dir;
            r.status = Status::Skipped(SkipReason::SymlinkLoop);
            r.detail = format!(
                "symlink loop: points to its ancestor {}",
                rel_path(&self.opts.root, ancestor)
            );
        } else {
            let kind = err.io_error().map(|e| e.kind());
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            r.status = if is_link && kind == Some(io::ErrorKind::NotFound) {
                Status::Skipped(SkipReason::BrokenSymlink)
            } else {
                Status::Skipped(io_reason(kind))
            };
            r.detail = err_text(err);
        }
        Some(Job::Done(r))
    }
}

/// A name Box would refuse: (reason, detail).
fn name_problem(name: &OsStr) -> Option<(InvalidReason, String)> {
    match name.to_str() {
        None => Some((
            InvalidReason::NameNotUtf8,
            format!("name is not valid UTF-8: {name:?}"),
        )),
        Some(n) => check_box_name(n).err().map(|p| (p.reason(), p.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_list_takes_its_paths_their_folders_and_listed_folders_contents() {
        let l = FileList::parse("# nightly list\r\n./a/b/c.txt\r\n\n/d/\nx.txt\n");
        assert!(l.keeps("a", true) && l.keeps("a/b", true));
        assert!(l.keeps("a/b/c.txt", false));
        assert!(!l.keeps("a/b/other.txt", false) && !l.keeps("a/other", true));
        assert!(
            !l.keeps("a", false),
            "a file named like a listed folder's parent"
        );
        assert!(l.keeps("d", true) && l.keeps("d/e/f.txt", false) && l.keeps("d/e", true));
        assert!(l.keeps("x.txt", false) && !l.keeps("y.txt", false));
        assert!(!l.keeps("# nightly list", false));
    }
}
