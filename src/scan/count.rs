//! The counting pass: how many files and bytes a scan will find, from names and sizes only
//! (no file is opened), walked in parallel ahead of the hashing scan. Progress has a total
//! and an ETA from the start of a run instead of when the scan, held back by the uploads it
//! feeds, reaches the last file.
//!
//! The same `--exclude`, `--include` and `--shard` as the scan apply; `--files-from`,
//! `--min-age` and `--max-file-size` do not (their rows are few or end up invalid), so the
//! count is an estimate that the scan's own rows replace once it ends.
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};

use globset::GlobSet;

use super::{ScanError, ScanOptions, glob_set};

/// What the counting pass found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Count {
    /// Regular files (directories left out).
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Files of at least the `big_from` size given to [`count`].
    pub big_files: u64,
    /// Their bytes.
    pub big_bytes: u64,
}

#[derive(Default)]
struct Tally {
    files: AtomicU64,
    bytes: AtomicU64,
    big_files: AtomicU64,
    big_bytes: AtomicU64,
}

struct Walk<'a> {
    opts: &'a ScanOptions,
    exclude: GlobSet,
    include: GlobSet,
    big_from: u64,
    tally: Tally,
    stop: &'a AtomicBool,
}

/// Count the files under `opts.root` that the scan would take, and those of `big_from` bytes
/// or more, on `threads` threads of their own. Unreadable directories are passed over (the
/// scan reports them). Returns early, with what was counted, once `stop` is set.
pub fn count(
    opts: &ScanOptions,
    big_from: u64,
    threads: usize,
    stop: &AtomicBool,
) -> Result<Count, ScanError> {
    let walk = Walk {
        opts,
        exclude: glob_set(&opts.exclude)?,
        include: glob_set(&opts.include)?,
        big_from,
        tally: Tally::default(),
        stop,
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .thread_name(|i| format!("boxlift-count-{i}"))
        .build()
        .map_err(|e| ScanError::Root {
            path: opts.root.clone(),
            source: std::io::Error::other(e),
        })?;
    pool.scope(|s| walk.dir(s, &opts.root));
    let t = &walk.tally;
    Ok(Count {
        files: t.files.load(Relaxed),
        bytes: t.bytes.load(Relaxed),
        big_files: t.big_files.load(Relaxed),
        big_bytes: t.big_bytes.load(Relaxed),
    })
}

impl<'a> Walk<'a> {
    /// Read one directory: files are counted here, each subdirectory is a task of its own.
    fn dir<'s>(&'s self, s: &rayon::Scope<'s>, dir: &Path) {
        if self.stop.load(Relaxed) {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            let rel = path.strip_prefix(&self.opts.root).unwrap_or(&path);
            let name = entry.file_name();
            if !self.exclude.is_empty()
                && (self.exclude.is_match(rel) || self.exclude.is_match(&name))
            {
                continue;
            }
            let Ok(mut ft) = entry.file_type() else {
                continue;
            };
            let mut meta = None;
            if ft.is_symlink() {
                if !self.opts.follow_symlinks {
                    continue;
                }
                // Loops are the scan's to report; here a followed link is only counted.
                let Ok(m) = std::fs::metadata(&path) else {
                    continue;
                };
                ft = m.file_type();
                meta = Some(m);
            }
            if ft.is_dir() {
                s.spawn(move |s| self.dir(s, &path));
            } else if ft.is_file() {
                let Some(size) = meta
                    .map(|m| m.len())
                    .or_else(|| entry.metadata().ok().map(|m| m.len()))
                else {
                    continue;
                };
                self.file(rel, &name, size);
            }
        }
    }

    fn file(&self, rel: &Path, name: &std::ffi::OsStr, size: u64) {
        if !self.include.is_empty() && !self.include.is_match(rel) && !self.include.is_match(name) {
            return;
        }
        if let Some(shard) = &self.opts.shard
            && !shard.owns(&rel.to_string_lossy(), false)
        {
            return;
        }
        let t = &self.tally;
        t.files.fetch_add(1, Relaxed);
        t.bytes.fetch_add(size, Relaxed);
        if size >= self.big_from {
            t.big_files.fetch_add(1, Relaxed);
            t.big_bytes.fetch_add(size, Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_files_and_big_ones_under_the_scans_filters() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for (path, size) in [
            ("a.txt", 10usize),
            ("sub/b.txt", 20),
            ("sub/deep/c.bin", 5_000),
            ("sub/skip.tmp", 7),
            ("cache/d.txt", 30),
        ] {
            let p = root.join(path);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, vec![0u8; size]).unwrap();
        }
        let mut opts = ScanOptions::new(root);
        opts.exclude = vec!["*.tmp".into(), "cache".into()];
        let stop = AtomicBool::new(false);
        let c = count(&opts, 1_000, 2, &stop).unwrap();
        assert_eq!(
            c,
            Count {
                files: 3,
                bytes: 5_030,
                big_files: 1,
                big_bytes: 5_000
            }
        );
        opts.include = vec!["*.txt".into()];
        let c = count(&opts, 1_000, 1, &stop).unwrap();
        assert_eq!((c.files, c.bytes, c.big_files), (2, 30, 0));
        // Stopped before it starts: nothing counted.
        stop.store(true, Relaxed);
        assert_eq!(count(&opts, 1_000, 1, &stop).unwrap(), Count::default());
    }
}
