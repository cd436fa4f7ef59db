//! `scan`: walk a tree and produce its manifest rows (path, size, mtime, SHA-1, problems) in a
//! deterministic order, with bounded memory, hashing in parallel.
//!
//! ```text
//! walk thread (walkdir, sorted) ──► hash jobs on rayon ──┐
//!        │ finished rows (batched)                      ├─► channel ─► reorder window ─► sink
//!        └──────────────────────────────────────────────┘
//! ```
//! The walk takes one permit of a fixed window per row and the sink side returns it when the
//! row leaves in order, so at most [`WINDOW`] rows are ever in flight or waiting to be
//! reordered, however big the tree or slow one file's hash.
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, mpsc};

use globset::{Glob, GlobSetBuilder};

use crate::hash::{self, Checked, Stamp};
use crate::manifest::row::format_mtime;
use crate::manifest::{Kind, ManifestRow, Status};
use crate::plan::shard::Shard;

pub mod names;
pub mod quick;
mod walk;

/// Rows in flight between the walk and the sink, at most.
pub const WINDOW: usize = 8192;

/// Rows the walk sends in one channel message when they need no hashing.
const BATCH: usize = 256;

/// What to scan and how.
#[derive(Debug, Clone)]
pub struct ScanOptions {
    /// The tree's root directory. Paths in rows are relative to it.
    pub root: PathBuf,
    /// Compute SHA-1s (`--no-hash` turns it off).
    pub hash: bool,
    /// Follow symlinks (loops are detected and reported) instead of skipping them.
    pub follow_symlinks: bool,
    /// Globs; an entry whose relative path or name matches is left out (with its contents).
    pub exclude: Vec<String>,
    /// A previous manifest whose SHA-1s are reused for files with unchanged size and mtime.
    pub previous: Option<PathBuf>,
    /// Files bigger than this are `invalid:too_large` (the Box account's maximum file size).
    pub max_file_size: Option<u64>,
    /// Counters for a progress display.
    pub progress: Option<Arc<Progress>>,
    /// Only this shard's rows (`--shard K/N`): other shards' files are neither stat'ed nor
    /// hashed, and no row is made for them.
    pub shard: Option<Shard>,
}

impl ScanOptions {
    /// Hash everything under `root`, skip symlinks, no limits.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        ScanOptions {
            root: root.into(),
            hash: true,
            follow_symlinks: false,
            exclude: Vec::new(),
            previous: None,
            max_file_size: None,
            progress: None,
            shard: None,
        }
    }
}

/// Live counters a progress display reads (relaxed atomics; approximate by design).
#[derive(Debug, Default)]
pub struct Progress {
    /// Entries walked.
    pub walked: AtomicU64,
    /// Bytes of files walked.
    pub walked_bytes: AtomicU64,
    /// Bytes queued for hashing.
    pub queued_bytes: AtomicU64,
    /// Files hashed.
    pub hashed: AtomicU64,
    /// Bytes hashed.
    pub hashed_bytes: AtomicU64,
    /// Files whose SHA-1 came from `--previous`.
    pub reused: AtomicU64,
}

impl Progress {
    fn count_walked(&self, row: &ManifestRow) {
        self.walked.fetch_add(1, Ordering::Relaxed);
        self.walked_bytes.fetch_add(row.size, Ordering::Relaxed);
    }
    fn count_queued(&self, bytes: u64) {
        self.queued_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
    fn count_reused(&self) {
        self.reused.fetch_add(1, Ordering::Relaxed);
    }
    fn count_hashed(&self, bytes: u64) {
        self.hashed.fetch_add(1, Ordering::Relaxed);
        self.hashed_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// What a finished scan saw.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScanSummary {
    /// File rows.
    pub files: u64,
    /// Directory rows.
    pub dirs: u64,
    /// Bytes in `ok` files.
    pub bytes: u64,
    /// Rows that are not `ok`, by status (`skipped:symlink` → 3).
    pub problems: BTreeMap<String, u64>,
}

impl ScanSummary {
    fn count(&mut self, row: &ManifestRow) {
        match row.kind {
            Kind::File => self.files += 1,
            Kind::Dir => self.dirs += 1,
        }
        if row.status.is_ok() {
            self.bytes += row.size;
        } else {
            *self.problems.entry(row.status.to_string()).or_default() += 1;
        }
    }
}

/// The scan could not run (problems with single entries are rows, not errors).
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The root is missing, unreadable or not a directory.
    #[error("cannot scan {path}: {source}")]
    Root {
        /// The root.
        path: PathBuf,
        /// Why.
        source: io::Error,
    },
    /// An `--exclude` glob does not parse.
    #[error("bad --exclude glob {glob:?}: {source}")]
    Glob {
        /// The glob.
        glob: String,
        /// Why.
        source: globset::Error,
    },
    /// The `--previous` manifest cannot be used.
    #[error("--previous: {0}")]
    Previous(#[from] crate::manifest::read::ReadError),
    /// The sink refused a row (e.g. the manifest file could not be written).
    #[error("cannot write row: {0}")]
    Sink(io::Error),
    /// The walk thread died (a bug).
    #[error("the walk thread panicked")]
    WalkPanicked,
}

/// Scan `opts.root`, handing each row to `sink` in walk order. Rows stream: memory stays
/// bounded whatever the tree's size. A sink error stops the scan and is returned.
pub fn scan(
    opts: &ScanOptions,
    mut sink: impl FnMut(ManifestRow) -> io::Result<()>,
) -> Result<ScanSummary, ScanError> {
    let meta = std::fs::metadata(&opts.root).map_err(|source| ScanError::Root {
        path: opts.root.clone(),
        source,
    })?;
    if !meta.is_dir() {
        return Err(ScanError::Root {
            path: opts.root.clone(),
            source: io::Error::new(io::ErrorKind::NotADirectory, "not a directory"),
        });
    }
    let mut globs = GlobSetBuilder::new();
    for g in &opts.exclude {
        globs.add(Glob::new(g).map_err(|source| ScanError::Glob {
            glob: g.clone(),
            source,
        })?);
    }
    let exclude = globs.build().map_err(|source| ScanError::Glob {
        glob: opts.exclude.join(" "),
        source,
    })?;
    let previous = match &opts.previous {
        Some(p) => Some(quick::Previous::open(p)?),
        None => None,
    };

    let window = Window::new(WINDOW);
    let (tx, rx) = mpsc::channel::<Msg>();
    let mut summary = ScanSummary::default();
    let mut sink_err = None;

    std::thread::scope(|s| {
        let window = &window;
        let walker = s.spawn(move || {
            let mut seq = 0u64;
            let mut batch: Vec<(u64, ManifestRow)> = Vec::with_capacity(BATCH);
            let res = walk::walk(opts, &exclude, previous, |job| {
                if let Some(shard) = &opts.shard
                    && !shard.owns(&job.row().path, job.row().kind == Kind::Dir)
                {
                    return true;
                }
                if !window.try_acquire() {
                    // Hand over what we hold before waiting: the permits we wait for come
                    // back only when these rows leave.
                    if !batch.is_empty() {
                        let _ = tx.send(Msg::Batch(std::mem::take(&mut batch)));
                    }
                    if !window.acquire() {
                        return false;
                    }
                }
                match job {
                    walk::Job::Done(row) => {
                        batch.push((seq, row));
                        if batch.len() >= BATCH {
                            let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                            if tx.send(Msg::Batch(full)).is_err() {
                                return false;
                            }
                        }
                    }
                    walk::Job::Hash(row, path, stamp) => {
                        let tx = tx.clone();
                        let progress = opts.progress.clone();
                        let n = seq;
                        rayon::spawn(move || {
                            let row = hash_row(row, &path, stamp, progress.as_deref());
                            let _ = tx.send(Msg::One(n, row));
                        });
                    }
                }
                seq += 1;
                true
            });
            if !batch.is_empty() {
                let _ = tx.send(Msg::Batch(batch));
            }
            res
        });

        let mut ring: Vec<Option<ManifestRow>> = (0..WINDOW).map(|_| None).collect();
        let mut next = 0u64;
        'recv: for msg in rx {
            let mut put = |seq: u64, row| ring[(seq % WINDOW as u64) as usize] = Some(row);
            match msg {
                Msg::One(seq, row) => put(seq, row),
                Msg::Batch(rows) => rows.into_iter().for_each(|(seq, row)| put(seq, row)),
            }
            let mut released = 0;
            while let Some(row) = ring[(next % WINDOW as u64) as usize].take() {
                summary.count(&row);
                next += 1;
                released += 1;
                if let Err(e) = sink(row) {
                    sink_err = Some(e);
                    window.close();
                    break 'recv;
                }
            }
            window.release(released);
        }
        walker.join().map_err(|_| ScanError::WalkPanicked)?
    })?;
    match sink_err {
        Some(e) => Err(ScanError::Sink(e)),
        None => Ok(summary),
    }
}

enum Msg {
    One(u64, ManifestRow),
    Batch(Vec<(u64, ManifestRow)>),
}

/// Hash one file and finish its row.
fn hash_row(
    mut row: ManifestRow,
    path: &std::path::Path,
    stamp: Stamp,
    progress: Option<&Progress>,
) -> ManifestRow {
    match hash::hash_checked(path, stamp) {
        Ok(Checked::Stable { sha1, stamp: now }) => {
            row.sha1 = hex::encode(sha1);
            if now != stamp {
                // Changed once, then settled: the row describes what was hashed.
                row.size = now.size;
                row.mtime = format_mtime(now.mtime_secs, now.mtime_nanos);
            }
        }
        Ok(Checked::Changed { before, after }) => {
            row.status = Status::skipped("changed_while_hashing");
            row.detail = format!(
                "changed during two reads: size {} -> {}, mtime {} -> {}",
                before.size,
                after.size,
                format_mtime(before.mtime_secs, before.mtime_nanos),
                format_mtime(after.mtime_secs, after.mtime_nanos)
            );
        }
        Err(e) => {
            row.status = Status::skipped(walk::io_reason(Some(e.io().kind())));
            row.detail = e.io().to_string();
        }
    }
    if let Some(p) = progress {
        p.count_hashed(stamp.size);
    }
    row
}

/// A counting semaphore for the row window. The walk is the only waiter, so release only
/// signals when it is actually waiting (a futex wake per row would cost more than the row).
#[derive(Debug)]
struct Window {
    state: Mutex<WindowState>,
    cv: Condvar,
}

#[derive(Debug)]
struct WindowState {
    free: usize,
    closed: bool,
    waiting: bool,
}

impl Window {
    fn new(n: usize) -> Self {
        Window {
            state: Mutex::new(WindowState {
                free: n,
                closed: false,
                waiting: false,
            }),
            cv: Condvar::new(),
        }
    }

    fn try_acquire(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.free > 0 && !s.closed {
            s.free -= 1;
            true
        } else {
            false
        }
    }

    /// Wait for a permit; false when the window was closed (the sink failed).
    fn acquire(&self) -> bool {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        while s.free == 0 && !s.closed {
            s.waiting = true;
            s = self.cv.wait(s).unwrap_or_else(|e| e.into_inner());
        }
        s.waiting = false;
        if s.closed {
            return false;
        }
        s.free -= 1;
        true
    }

    fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.free += n;
        if s.waiting {
            self.cv.notify_one();
        }
    }

    fn close(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        s.closed = true;
        self.cv.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_come_in_walk_order_and_a_sink_error_stops_the_scan() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..300 {
            std::fs::write(dir.path().join(format!("f{i:04}")), vec![b'x'; i]).unwrap();
        }
        std::fs::create_dir(dir.path().join("d")).unwrap();
        let mut paths = Vec::new();
        let sum = scan(&ScanOptions::new(dir.path()), |r| {
            paths.push(r.path);
            Ok(())
        })
        .unwrap();
        let mut sorted = paths.clone();
        sorted.sort();
        assert_eq!(paths, sorted);
        assert_eq!((sum.files, sum.dirs), (300, 1));

        let mut n = 0;
        let err = scan(&ScanOptions::new(dir.path()), |_| {
            n += 1;
            if n == 10 {
                Err(io::Error::other("disk full"))
            } else {
                Ok(())
            }
        })
        .unwrap_err();
        assert!(matches!(err, ScanError::Sink(_)));
        assert_eq!(n, 10);
    }

    #[test]
    fn a_missing_root_is_an_error_not_a_row() {
        let err = scan(&ScanOptions::new("/nonexistent/boxlift"), |_| Ok(())).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/boxlift"), "{err}");
    }
}
