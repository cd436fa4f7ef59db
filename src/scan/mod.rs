//! `scan`: walk a tree and produce its manifest rows (path, size, mtime, SHA-1, problems) in a
//! deterministic order, with bounded memory, hashing in parallel.
//!
//! ```text
//! walk thread (walkdir, sorted) ──► hash jobs (big files first) on rayon ──┐
//!        │ finished rows (batched)                                       ├─► reorder slots ─► sink
//!        └────────────────────────────────────────────────────────────────┘
//! ```
//! The walk takes one permit of a fixed window per row and the sink side returns it when the
//! row leaves in order, so at most [`WINDOW`] rows are ever in flight or waiting to be
//! reordered, however big the tree or slow one file's hash.
//! The window itself (permits, reorder slots, the hash-job queue) is in `window.rs`.
use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use globset::{Glob, GlobSetBuilder};

use self::shard::Shard;
use crate::hash::{self, Checked, Stamp};
use crate::manifest::row::{format_mtime, mtime_from};
use crate::manifest::{Kind, ManifestRow, SkipReason, Status};

pub mod count;
pub mod names;
pub mod output;
pub mod quick;
pub mod shard;
mod walk;
mod window;

use self::window::{HashJob, Shared, WalkEnd};

/// Rows in flight between the walk and the sink, at most.
///
/// Rows leave in walk order, so while a big file hashes, the rows walked after it wait for it,
/// and once the window is full every other core goes idle. The window should cover what the
/// other cores hash meanwhile: behind a 2 GiB file (1.16 s at 1.86 GB/s) one other core hashes
/// about 33,000 files of 64 KiB. With 8,192 rows the other core stalled for most of those
/// 1.16 s (benches/scan.rs: 1 × 2 GiB + 20,000 × 64 KiB took 1.4 to 1.6 s, bound 1.16 s). A
/// waiting row is about 300 bytes, so a full window of 65,536 is about 20 MB; its slots grow
/// only as far as a scan needs them.
pub const WINDOW: usize = 65_536;

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
    /// Globs; when given, a file is taken only if its relative path or name matches one
    /// (directories are still walked).
    pub include: Vec<String>,
    /// A list of relative paths (one a line): only those files, and their directories.
    pub files_from: Option<PathBuf>,
    /// Files modified less than this long before the scan started are `skipped:too_recent`.
    pub min_age: Option<std::time::Duration>,
    /// A previous manifest whose SHA-1s are reused for files with unchanged size and mtime.
    pub previous: Option<PathBuf>,
    /// An interrupted run's partial manifest, consulted before `previous` the same way; one
    /// that cannot be read is passed over with a warning (it may end in a torn row).
    pub resume: Option<PathBuf>,
    /// SHA-1s known without reading (migrate's state journal), consulted first.
    pub known: Option<quick::Known>,
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
            include: Vec::new(),
            files_from: None,
            min_age: None,
            previous: None,
            resume: None,
            known: None,
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
    /// Files hashed (live: includes files hashed ahead of the sink, see [`Self::hashed_kept`]).
    pub hashed: AtomicU64,
    /// Bytes hashed.
    pub hashed_bytes: AtomicU64,
    /// Files whose SHA-1 came from `--previous` (or an interrupted run's partial manifest).
    pub reused: AtomicU64,
    /// Files whose SHA-1 came from [`ScanOptions::known`] (the state journal): stat'ed only.
    pub known: AtomicU64,
    /// Files read and hashed whose rows the sink took: what a summary reports. Hashing threads
    /// run up to [`WINDOW`] rows ahead of the sink, and when a run stops (cancel, sink error)
    /// the rows hashed ahead are dropped, their SHA-1s kept nowhere; [`Self::hashed`] counts
    /// them, this does not.
    pub hashed_kept: AtomicU64,
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
    fn count_known(&self) {
        self.known.fetch_add(1, Ordering::Relaxed);
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
    /// An `--exclude` or `--include` glob does not parse.
    #[error("bad glob {glob:?}: {source}")]
    Glob {
        /// The glob.
        glob: String,
        /// Why.
        source: globset::Error,
    },
    /// The `--files-from` list cannot be read.
    #[error("cannot read --files-from {path}: {source}")]
    FilesFrom {
        /// The list.
        path: PathBuf,
        /// Why.
        source: io::Error,
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

/// Check the root, build the walk's filter and load the manifests whose SHA-1s a scan may
/// reuse (an interrupted run's partial manifest, then `--previous`).
fn prepare(opts: &ScanOptions) -> Result<(walk::Filter, quick::Previous), ScanError> {
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
    let filter = walk::Filter {
        exclude: glob_set(&opts.exclude)?,
        include: glob_set(&opts.include)?,
        files_from: match &opts.files_from {
            Some(p) => Some(
                walk::FileList::read(p).map_err(|source| ScanError::FilesFrom {
                    path: p.clone(),
                    source,
                })?,
            ),
            None => None,
        },
        modified_after: opts.min_age.map(|age| std::time::SystemTime::now() - age),
    };
    let mut previous = quick::Previous::empty();
    if let Some(p) = &opts.resume {
        // The interrupted run may have been killed mid-row: a torn first row is no reason to
        // stop, only to hash.
        if let Err(e) = previous.push(p) {
            tracing::warn!(
                "the partial manifest {} of an interrupted run is not usable, hashing instead: {e}",
                p.display()
            );
        }
    }
    if let Some(p) = &opts.previous {
        previous.push(p)?;
    }
    Ok((filter, previous))
}

/// Scan `opts.root`, handing each row to `sink` in walk order. Rows stream: memory stays
/// bounded whatever the tree's size. A sink error stops the scan and is returned.
pub fn scan(
    opts: &ScanOptions,
    mut sink: impl FnMut(ManifestRow) -> io::Result<()>,
) -> Result<ScanSummary, ScanError> {
    let (filter, previous) = prepare(opts)?;

    let shared = Arc::new(Shared::new(WINDOW));
    let mut summary = ScanSummary::default();
    let mut sink_err = None;

    std::thread::scope(|s| {
        let walk_shared = shared.clone();
        let walker = s.spawn(move || {
            let shared = walk_shared;
            // Marks the walk finished however it ends; after a panic the sink stops instead
            // of waiting for rows that will never come.
            let _end = WalkEnd(&shared);
            let mut batch: Vec<(u64, ManifestRow)> = Vec::with_capacity(BATCH);
            let res = walk::walk(opts, &filter, previous, |job| {
                if let Some(shard) = &opts.shard
                    && !shard.owns(&job.row().path, job.row().kind == Kind::Dir)
                {
                    return true;
                }
                let seq = match shared.try_acquire() {
                    Some(seq) => seq,
                    None => {
                        // Hand over what we hold before waiting: the permits we wait for come
                        // back only when these rows leave.
                        shared.put_many(&mut batch);
                        match shared.acquire() {
                            Some(seq) => seq,
                            None => return false,
                        }
                    }
                };
                match job {
                    walk::Job::Done(row) => {
                        batch.push((seq, row));
                        if batch.len() >= BATCH {
                            shared.put_many(&mut batch);
                        }
                    }
                    walk::Job::Hash(row, path, stamp) => {
                        shared.push_job(HashJob {
                            seq,
                            row,
                            path,
                            stamp,
                        });
                        let shared = shared.clone();
                        let progress = opts.progress.clone();
                        rayon::spawn(move || shared.run_one(progress.as_deref()));
                    }
                }
                true
            });
            shared.put_many(&mut batch);
            res
        });

        let mut ready = Vec::with_capacity(BATCH);
        'rows: while shared.take_ready(&mut ready) {
            let n = ready.len();
            for (row, hashed) in ready.drain(..) {
                summary.count(&row);
                if let Err(e) = sink(row) {
                    sink_err = Some(e);
                    shared.close();
                    break 'rows;
                }
                if let (true, Some(p)) = (hashed, &opts.progress) {
                    p.hashed_kept.fetch_add(1, Ordering::Relaxed);
                }
            }
            shared.release(n);
        }
        walker.join().map_err(|_| ScanError::WalkPanicked)?
    })?;
    match sink_err {
        Some(e) => Err(ScanError::Sink(e)),
        None => Ok(summary),
    }
}

/// The globs as one set (an error names the glob that does not parse).
fn glob_set(globs: &[String]) -> Result<globset::GlobSet, ScanError> {
    let mut set = GlobSetBuilder::new();
    for g in globs {
        set.add(Glob::new(g).map_err(|source| ScanError::Glob {
            glob: g.clone(),
            source,
        })?);
    }
    set.build().map_err(|source| ScanError::Glob {
        glob: globs.join(" "),
        source,
    })
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
                row.mtime = mtime_from(now.mtime_secs, now.mtime_nanos);
            }
        }
        Ok(Checked::Changed { before, after }) => {
            row.status = Status::Skipped(SkipReason::ChangedWhileHashing);
            row.detail = format!(
                "changed during two reads: size {} -> {}, mtime {} -> {}",
                before.size,
                after.size,
                format_mtime(before.mtime_secs, before.mtime_nanos),
                format_mtime(after.mtime_secs, after.mtime_nanos)
            );
        }
        Err(e) => {
            row.status = Status::Skipped(walk::io_reason(Some(e.io().kind())));
            row.detail = e.io().to_string();
        }
    }
    if let Some(p) = progress {
        p.count_hashed(stamp.size);
    }
    row
}

#[cfg(test)]
mod tests {
    use std::collections::BinaryHeap;

    use super::window::BIG_FIRST;
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

    #[test]
    fn a_stopped_scan_counts_only_the_hashed_rows_the_sink_took() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..2000 {
            std::fs::write(dir.path().join(format!("f{i:05}")), vec![b'x'; 4096]).unwrap();
        }
        let progress = Arc::new(Progress::default());
        let mut opts = ScanOptions::new(dir.path());
        opts.progress = Some(progress.clone());
        let mut taken = 0u64;
        let err = scan(&opts, |_| {
            if taken == 100 {
                // Let the hashing threads run ahead, as they do while a cancelled run's sink
                // waits on the upload stage.
                while progress.hashed.load(Ordering::Relaxed) <= 200 {
                    std::thread::yield_now();
                }
                return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
            }
            taken += 1;
            Ok(())
        })
        .unwrap_err();
        assert!(matches!(err, ScanError::Sink(_)));
        assert!(progress.hashed.load(Ordering::Relaxed) > 200);
        assert_eq!(progress.hashed_kept.load(Ordering::Relaxed), 100);
    }

    #[test]
    fn big_files_are_hashed_first_then_walk_order() {
        let job = |seq, size| HashJob {
            seq,
            row: ManifestRow {
                path: format!("f{seq}"),
                kind: Kind::File,
                size,
                mtime: None,
                sha1: String::new(),
                status: Status::Ok,
                detail: String::new(),
            },
            path: PathBuf::new(),
            stamp: Stamp {
                size,
                mtime_secs: 0,
                mtime_nanos: 0,
            },
        };
        let mut heap = BinaryHeap::new();
        for (seq, size) in [(0, 10), (1, BIG_FIRST), (2, 5), (3, 4 * BIG_FIRST), (4, 0)] {
            heap.push(job(seq, size));
        }
        let order: Vec<u64> = std::iter::from_fn(|| heap.pop().map(|j| j.seq)).collect();
        assert_eq!(order, [1, 3, 0, 2, 4]);
    }

    #[test]
    fn big_files_jumping_the_queue_keep_rows_in_walk_order() {
        let dir = tempfile::tempdir().unwrap();
        let mut want = Vec::new();
        for i in 0..200 {
            let size = if i % 70 == 69 {
                BIG_FIRST as usize + i
            } else {
                i
            };
            let data: Vec<u8> = (0..size).map(|j| (j * 7 + i) as u8).collect();
            let p = dir.path().join(format!("f{i:04}"));
            std::fs::write(&p, &data).unwrap();
            want.push((
                format!("f{i:04}"),
                hex::encode(hash::hash_file(&p).unwrap()),
            ));
        }
        let mut got = Vec::new();
        let sum = scan(&ScanOptions::new(dir.path()), |r| {
            got.push((r.path, r.sha1));
            Ok(())
        })
        .unwrap();
        assert_eq!(got, want);
        assert_eq!(sum.files, 200);
    }
}
