//! The walk: walkdir in deterministic order (depth-first, siblings sorted by name), turning
//! each entry into a manifest row or a hash job, and every problem into a row with a reason.
use std::ffi::OsStr;
use std::io;
use std::path::{Path, PathBuf};

use globset::GlobSet;
use walkdir::WalkDir;

use super::names::{Collisions, check_box_name};
use super::quick::Previous;
use super::{ScanError, ScanOptions};
use crate::hash::Stamp;
use crate::manifest::row::format_mtime;
use crate::manifest::{Kind, ManifestRow, Status};

/// What the walk hands on, in walk order.
#[derive(Debug)]
pub(crate) enum Job {
    /// A finished row (directories, problems, quick-check hits, `--no-hash`).
    Done(ManifestRow),
    /// A file to hash before its row is final.
    Hash(ManifestRow, PathBuf, Stamp),
}

/// Walk state that spans entries.
struct Walk<'a> {
    opts: &'a ScanOptions,
    collisions: Collisions,
    previous: Option<Previous>,
    /// A directory that is not `ok` (depth, path): everything under it is `skipped:parent`.
    blocked: Option<(usize, String)>,
    /// The last directory row, held back one step: walkdir reports "cannot read this directory"
    /// as the next item, and that belongs in the directory's own row.
    pending_dir: Option<(PathBuf, ManifestRow)>,
}

/// Walk `opts.root`, calling `emit` for each job in walk order; `emit` returns false to stop.
pub(crate) fn walk(
    opts: &ScanOptions,
    exclude: &GlobSet,
    previous: Option<Previous>,
    mut emit: impl FnMut(Job) -> bool,
) -> Result<(), ScanError> {
    let root = opts.root.as_path();
    let mut w = Walk {
        opts,
        collisions: Collisions::default(),
        previous,
        blocked: None,
        pending_dir: None,
    };
    let it = WalkDir::new(root)
        .follow_links(opts.follow_symlinks)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_excluded(exclude, root, e.path()));
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
                        row.status = Status::skipped(io_reason(io.map(|e| e.kind())));
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
pub(crate) fn io_reason(kind: Option<io::ErrorKind>) -> &'static str {
    match kind {
        Some(io::ErrorKind::PermissionDenied) => "permission_denied",
        Some(io::ErrorKind::NotFound) => "vanished",
        _ => "read_error",
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

fn row(path: String, kind: Kind) -> ManifestRow {
    ManifestRow {
        path,
        kind,
        size: 0,
        mtime: String::new(),
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
                r.status = Status::skipped("parent");
                r.detail = format!("inside {bpath:?}, which is not migrated");
                self.collisions.visit(depth);
                return self.finish_dir_or_done(entry, r);
            }
            self.blocked = None;
        }

        let meta = entry.metadata();
        if let Ok(m) = &meta {
            let st = Stamp::of(m);
            if kind == Kind::File {
                r.size = st.size;
            }
            r.mtime = format_mtime(st.mtime_secs, st.mtime_nanos);
        }

        if ft.is_symlink() {
            r.status = Status::skipped("symlink");
            r.detail = match std::fs::read_link(entry.path()) {
                Ok(t) => format!("symlink to {}", t.display()),
                Err(_) => "symlink".into(),
            };
        } else if !ft.is_file() && !ft.is_dir() {
            r.status = Status::skipped("special_file");
            r.detail = special_kind(&ft).into();
        } else if let Err(e) = &meta {
            r.status = Status::skipped(io_reason(e.io_error().map(|e| e.kind())));
            r.detail = format!("cannot stat: {}", err_text(e));
        } else if let Some(problem) = name_problem(entry.file_name()) {
            r.status = Status::Invalid(problem.0.into());
            r.detail = problem.1;
        } else if kind == Kind::File
            && let Some(max) = self.opts.max_file_size
            && r.size > max
        {
            r.status = Status::invalid("too_large");
            r.detail = format!("{} bytes; the account's maximum is {max}", r.size);
        }

        // Only items that will be uploaded take a name in the Box folder.
        if r.status.is_ok() {
            let name = entry.file_name().to_str().unwrap_or_default();
            if let Some(first) = self.collisions.check(depth, name) {
                r.status = Status::invalid("name_collision");
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
            if let Some(prev) = &mut self.previous
                && let Some(sha1) = prev.reuse(&r.path, r.size, &r.mtime)
            {
                r.sha1 = sha1;
                if let Some(p) = &self.opts.progress {
                    p.count_reused();
                }
                return Some(Job::Done(r));
            }
            if self.opts.hash {
                let stamp = Stamp::of(meta.as_ref().ok()?);
                if let Some(p) = &self.opts.progress {
                    p.count_queued(r.size);
                }
                return Some(Job::Hash(r, entry.path().to_path_buf(), stamp));
            }
        }
        self.finish_dir_or_done(entry, r)
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
            r.status = Status::skipped("symlink_loop");
            r.detail = format!(
                "symlink loop: points to its ancestor {}",
                rel_path(&self.opts.root, ancestor)
            );
        } else {
            let kind = err.io_error().map(|e| e.kind());
            let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
            r.status = if is_link && kind == Some(io::ErrorKind::NotFound) {
                Status::skipped("broken_symlink")
            } else {
                Status::skipped(io_reason(kind))
            };
            r.detail = err_text(err);
        }
        Some(Job::Done(r))
    }
}

/// A name Box would refuse: (reason, detail).
fn name_problem(name: &OsStr) -> Option<(&'static str, String)> {
    match name.to_str() {
        None => Some((
            "name_not_utf8",
            format!("name is not valid UTF-8: {name:?}"),
        )),
        Some(n) => check_box_name(n).err().map(|p| (p.reason(), p.to_string())),
    }
}
