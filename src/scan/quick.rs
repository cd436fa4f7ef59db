//! `--previous`: reuse a file's SHA-1 from an earlier manifest when its size and mtime have not
//! changed, so a scheduled re-scan costs a walk, not a re-hash. The same for an interrupted
//! run's partial manifest, and for a [`KnownFiles`] source (migrate's state journal), so a
//! resumed migration opens no file it already finished.
//!
//! Both the walk and the manifest are in the same order (depth-first, siblings sorted by name
//! bytes), which is the component-wise order of paths. So the previous manifest is merged in
//! step with the walk instead of loaded into a map: constant memory for any tree size.
use std::cmp::Ordering;
use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use chrono::{DateTime, Utc};

use crate::manifest::read::ReadError;
use crate::manifest::row::{HEADER, mtime_cell};

/// The walk order of two manifest paths: component by component, each compared as bytes.
pub fn walk_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Rows per message from the reader thread.
const BATCH: usize = 1024;

/// What the quick check needs of a previous row that could be reused (an `ok` file with a
/// SHA-1), as ranges into its batch's text; other rows are dropped by the reader thread.
///
/// One text buffer per batch instead of three `String`s per row: the walk thread freed those
/// strings (allocated on the reader thread), and the cross-thread frees alone cost about 5%
/// of the walk thread in a 200,000-file re-scan.
#[derive(Debug)]
struct QuickRow {
    path: std::ops::Range<usize>,
    mtime: std::ops::Range<usize>,
    sha1: std::ops::Range<usize>,
    size: u64,
}

/// Candidate rows parsed by the reader thread, in file order; `err` (the row that could not
/// be read, after which the thread stopped) comes after `rows`.
#[derive(Debug, Default)]
struct Batch {
    text: String,
    rows: Vec<QuickRow>,
    err: Option<ReadError>,
}

/// A previous manifest's candidate rows, parsed on their own thread (parsing would otherwise
/// double the walk thread's work) and handed over in batches through a bounded channel.
#[derive(Debug)]
struct Prefetch {
    rx: mpsc::Receiver<Batch>,
    batch: Batch,
    /// Index in `batch.rows` of the current row.
    at: usize,
}

/// The current row of a [`Prefetch`].
enum Head<'a> {
    Row(&'a str, &'a QuickRow),
    Err,
    End,
}

impl Prefetch {
    /// The current row, receiving the next batch when this one is used up.
    fn head(&mut self) -> Head<'_> {
        while self.at == self.batch.rows.len() && self.batch.err.is_none() {
            match self.rx.recv() {
                Ok(b) => {
                    self.batch = b;
                    self.at = 0;
                }
                Err(_) => return Head::End,
            }
        }
        match self.batch.rows.get(self.at) {
            Some(r) => Head::Row(&self.batch.text, r),
            None => Head::Err,
        }
    }

    /// Take the error `head` reported.
    fn take_err(&mut self) -> Option<ReadError> {
        self.batch.err.take()
    }
}

/// Open `path`, check its header here (so a foreign file fails before the walk), then parse
/// the rows on a thread: raw byte records, only the fields the quick check reads.
fn prefetch(path: &Path) -> Result<Prefetch, ReadError> {
    let file = std::fs::File::open(path).map_err(|source| ReadError::Open {
        path: path.display().to_string(),
        source,
    })?;
    let mut rdr = csv::ReaderBuilder::new()
        .has_headers(false)
        .buffer_capacity(256 * 1024)
        .from_reader(file);
    let mut rec = csv::ByteRecord::new();
    let has_header = rdr
        .read_byte_record(&mut rec)
        .map_err(|source| ReadError::Row { line: 1, source })?;
    if has_header && rec.iter().ne(HEADER.iter().map(|h| h.as_bytes())) {
        return Err(ReadError::Header {
            found: rec
                .iter()
                .map(String::from_utf8_lossy)
                .collect::<Vec<_>>()
                .join(","),
            expected: HEADER.join(","),
        });
    }
    let (tx, rx) = mpsc::sync_channel(4);
    if has_header {
        std::thread::spawn(move || {
            let new_batch = || Batch {
                text: String::with_capacity(64 * 1024),
                rows: Vec::with_capacity(BATCH),
                err: None,
            };
            let mut batch = new_batch();
            loop {
                match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => {
                        if let Some(r) = candidate(&rec, &mut batch.text) {
                            batch.rows.push(r);
                        }
                    }
                    Err(source) => {
                        batch.err = Some(ReadError::Row {
                            line: source.position().map(|p| p.line()).unwrap_or(0),
                            source,
                        });
                    }
                }
                if batch.rows.len() == BATCH || batch.err.is_some() {
                    // The receiver hangs up when the scan ends early: stop reading then.
                    let failed = batch.err.is_some();
                    if tx.send(std::mem::replace(&mut batch, new_batch())).is_err() || failed {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
    }
    Ok(Prefetch {
        rx,
        batch: Batch::default(),
        at: 0,
    })
}

/// The quick-check fields of a row that could be reused (an `ok` file with a 40-byte SHA-1),
/// appended to `text`; `text` is left as it was when the row is not a candidate.
fn candidate(rec: &csv::ByteRecord, text: &mut String) -> Option<QuickRow> {
    let field = |i| rec.get(i).unwrap_or_default();
    if field(1) != b"file" || field(5) != b"ok" || field(4).len() != 40 {
        return None;
    }
    let utf8 = |i| std::str::from_utf8(field(i)).ok();
    let (path, mtime, sha1) = (utf8(0)?, utf8(3)?, utf8(4)?);
    let size = utf8(2)?.parse().ok()?;
    let mut push = |s: &str| {
        let start = text.len();
        text.push_str(s);
        start..text.len()
    };
    Some(QuickRow {
        path: push(path),
        mtime: push(mtime),
        sha1: push(sha1),
        size,
    })
}

/// Where the walk may find a file's SHA-1 without reading it, looked up by path with the size
/// and mtime the walk just stat'ed; `None` means "hash it".
pub trait KnownFiles: Send {
    /// The SHA-1 of `path` if it is known for exactly this size and mtime.
    fn sha1(&mut self, path: &str, size: u64, mtime: &DateTime<Utc>) -> Option<String>;
}

/// A shared [`KnownFiles`] for [`crate::scan::ScanOptions`] (looked up from the walk thread).
#[derive(Clone)]
pub struct Known(Arc<Mutex<dyn KnownFiles>>);

impl Known {
    /// Share `source` with the walk.
    pub fn new(source: impl KnownFiles + 'static) -> Self {
        Known(Arc::new(Mutex::new(source)))
    }

    /// The known SHA-1 of `path` at this size and mtime.
    pub fn sha1(&self, path: &str, size: u64, mtime: Option<&DateTime<Utc>>) -> Option<String> {
        let mtime = mtime?;
        // A poisoned lock only means another lookup panicked; the source itself is intact.
        let mut source = self.0.lock().unwrap_or_else(|p| p.into_inner());
        source.sha1(path, size, mtime)
    }
}

impl fmt::Debug for Known {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Known")
    }
}

/// Previous manifests, consumed in walk order: the first that has a row reusable for a path
/// wins (an interrupted run's partial manifest is passed before the last complete one).
#[derive(Debug)]
pub struct Previous {
    sources: Vec<Source>,
}

/// One previous manifest.
#[derive(Debug)]
struct Source {
    rows: Prefetch,
    /// Set when the previous manifest turned out unreadable part-way: from then on nothing is
    /// reused (hashing is always correct, only slower).
    failed: Option<ReadError>,
}

impl Previous {
    /// Open a previous manifest; a missing or foreign file is an error now, not mid-scan.
    pub fn open(path: &Path) -> Result<Previous, ReadError> {
        Ok(Previous {
            sources: vec![Source::open(path)?],
        })
    }

    /// Also consult `path` (after the sources opened before it).
    pub fn push(&mut self, path: &Path) -> Result<(), ReadError> {
        self.sources.push(Source::open(path)?);
        Ok(())
    }

    /// No source at all (only [`Previous::push`] adds them).
    pub fn empty() -> Previous {
        Previous {
            sources: Vec::new(),
        }
    }

    /// The SHA-1 to reuse for the file at `path` with this size and mtime, from the first
    /// source that has it as a hashed, `ok` file with the same size and mtime. Calls must come
    /// in walk order (every walked path, files and directories, may be passed).
    pub fn reuse(
        &mut self,
        path: &str,
        size: u64,
        mtime: Option<&DateTime<Utc>>,
    ) -> Option<String> {
        // Sources not asked for this path catch up on the next call: each skips what is
        // behind the path it is asked for.
        self.sources
            .iter_mut()
            .find_map(|s| s.reuse(path, size, mtime))
    }
}

impl Source {
    fn open(path: &Path) -> Result<Source, ReadError> {
        let mut rows = prefetch(path)?;
        if let Head::Err = rows.head()
            && let Some(e) = rows.take_err()
        {
            return Err(e);
        }
        Ok(Source { rows, failed: None })
    }

    fn reuse(&mut self, path: &str, size: u64, mtime: Option<&DateTime<Utc>>) -> Option<String> {
        if self.failed.is_some() {
            return None;
        }
        loop {
            let (text, row) = match self.rows.head() {
                Head::Row(text, row) => (text, row),
                Head::End => return None,
                Head::Err => {
                    if let Some(e) = self.rows.take_err() {
                        tracing::warn!("--previous manifest unusable from here on: {e}");
                        self.failed = Some(e);
                    }
                    return None;
                }
            };
            let prev = &text[row.path.clone()];
            // Same bytes is the common case of a re-scan; only different paths need the
            // component-wise comparison.
            let ord = if prev == path {
                Ordering::Equal
            } else {
                walk_order(prev, path)
            };
            match ord {
                Ordering::Less => self.rows.at += 1,
                Ordering::Greater => return None,
                Ordering::Equal => {
                    // Formatted only for the one row at this path: the previous manifest's cell
                    // is text, compared as the writer would write ours.
                    let same = row.size == size
                        && mtime.is_some_and(|t| text[row.mtime.clone()] == mtime_cell(Some(t)));
                    let sha1 = same.then(|| text[row.sha1.clone()].to_string());
                    self.rows.at += 1;
                    return sha1;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::write::Writer;
    use crate::manifest::{Kind, ManifestRow, Status};

    #[test]
    fn walk_order_is_depth_first_by_component() {
        // "a" and its contents come before "a.txt", though '/' < '.' is false bytewise.
        let mut v = vec!["a.txt", "a/z", "a", "b", "a/b/c", "A"];
        v.sort_by(|x, y| walk_order(x, y));
        assert_eq!(v, ["A", "a", "a/b/c", "a/z", "a.txt", "b"]);
    }

    #[test]
    fn merges_in_step_with_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.csv");
        let t: DateTime<Utc> = "2026-01-02T03:04:05.000000006Z".parse().unwrap();
        let u: DateTime<Utc> = "2026-01-02T03:04:06Z".parse().unwrap();
        let row = |path: &str, size, sha: &str, status: Status| ManifestRow {
            path: path.into(),
            kind: Kind::File,
            size,
            mtime: Some(t),
            sha1: sha.into(),
            status,
            detail: String::new(),
        };
        let sha = "a".repeat(40);
        let mut w = Writer::new(std::fs::File::create(&p).unwrap()).unwrap();
        for r in [
            row("a", 1, &sha, Status::Ok),
            row("gone", 1, &sha, Status::Ok),
            row(
                "m",
                1,
                &sha,
                Status::Skipped(crate::manifest::SkipReason::ChangedWhileHashing),
            ),
            row("n", 2, &sha, Status::Ok),
            row("z", 3, &sha, Status::Ok),
        ] {
            w.write(&r).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let mut prev = Previous::open(&p).unwrap();
        assert_eq!(prev.reuse("a", 1, Some(&t)), Some(sha.clone()));
        assert_eq!(prev.reuse("b", 1, Some(&t)), None); // new file; "gone" is passed over
        assert_eq!(prev.reuse("m", 1, Some(&t)), None); // not ok before: hash again
        assert_eq!(prev.reuse("n", 2, Some(&u)), None); // mtime moved
        assert_eq!(prev.reuse("z", 3, Some(&t)), Some(sha));
        assert_eq!(prev.reuse("zz", 3, Some(&t)), None);
    }

    #[test]
    fn a_foreign_file_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "hello,world\n").unwrap();
        assert!(matches!(Previous::open(&p), Err(ReadError::Header { .. })));
    }

    #[test]
    fn reuses_across_batches_and_stops_at_a_broken_row() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.csv");
        let sha = |i: usize| format!("{i:040x}");
        let at = |i: usize| DateTime::from_timestamp(1_700_000_000 + i as i64, 0).unwrap();
        let mut text = HEADER.join(",") + "\n";
        // More rows than one reader batch, with directories and problems in between.
        for i in 0..(3 * BATCH + 7) {
            let mtime = mtime_cell(Some(&at(i)));
            text += &format!("d{:02}/f{i:05},file,{i},{mtime},{},ok,\n", i / 500, sha(i));
            if i % 100 == 0 {
                text += &format!(
                    "d{:02}/f{i:05}x,file,1,{mtime},,skipped:vanished,gone\n",
                    i / 500
                );
            }
        }
        text += "broken,row\n";
        text += &format!("z,file,1,{},{},ok,\n", mtime_cell(Some(&at(0))), sha(1));
        std::fs::write(&p, text).unwrap();
        let mut prev = Previous::open(&p).unwrap();
        for i in (0..(3 * BATCH + 7)).step_by(3) {
            let path = format!("d{:02}/f{i:05}", i / 500);
            assert_eq!(
                prev.reuse(&path, i as u64, Some(&at(i))),
                Some(sha(i)),
                "{path}"
            );
            assert_eq!(prev.reuse(&(path + "x"), 1, Some(&at(i))), None);
        }
        // The row after the broken one is never reused: the manifest is unusable from there.
        assert_eq!(prev.reuse("z", 1, Some(&at(0))), None);
        assert!(prev.sources[0].failed.is_some());
    }

    #[test]
    fn a_broken_first_row_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("old.csv");
        std::fs::write(&p, HEADER.join(",") + "\nonly,three,fields\n").unwrap();
        let err = Previous::open(&p).unwrap_err();
        assert!(matches!(err, ReadError::Row { line: 2, .. }), "{err}");
    }
}
