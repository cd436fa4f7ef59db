//! `--previous`: reuse a file's SHA-1 from an earlier manifest when its size and mtime have not
//! changed, so a scheduled re-scan costs a walk, not a re-hash.
//!
//! Both the walk and the manifest are in the same order (depth-first, siblings sorted by name
//! bytes), which is the component-wise order of paths. So the previous manifest is merged in
//! step with the walk instead of loaded into a map: constant memory for any tree size.
use std::cmp::Ordering;
use std::iter::Peekable;
use std::path::Path;
use std::sync::mpsc;

use crate::manifest::read::ReadError;
use crate::manifest::row::HEADER;

/// The walk order of two manifest paths: component by component, each compared as bytes.
pub fn walk_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Rows per message from the reader thread.
const BATCH: usize = 1024;

/// What the quick check needs of a previous row that could be reused (an `ok` file with a
/// SHA-1); other rows are dropped by the reader thread.
#[derive(Debug)]
struct QuickRow {
    path: String,
    size: u64,
    mtime: String,
    sha1: String,
}

/// A previous manifest's candidate rows, parsed on their own thread (parsing would otherwise
/// double the walk thread's work) and handed over in batches through a bounded channel.
#[derive(Debug)]
struct Prefetch {
    rx: mpsc::Receiver<Vec<Result<QuickRow, ReadError>>>,
    batch: std::vec::IntoIter<Result<QuickRow, ReadError>>,
}

impl Iterator for Prefetch {
    type Item = Result<QuickRow, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.batch.next() {
                return Some(r);
            }
            self.batch = self.rx.recv().ok()?.into_iter();
        }
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
            let mut batch = Vec::with_capacity(BATCH);
            loop {
                let row = match rdr.read_byte_record(&mut rec) {
                    Ok(false) => break,
                    Ok(true) => match candidate(&rec) {
                        Some(r) => Ok(r),
                        None => continue,
                    },
                    Err(source) => Err(ReadError::Row {
                        line: source.position().map(|p| p.line()).unwrap_or(0),
                        source,
                    }),
                };
                let failed = row.is_err();
                batch.push(row);
                if batch.len() == BATCH || failed {
                    // The receiver hangs up when the scan ends early: stop reading then.
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.send(full).is_err() || failed {
                        return;
                    }
                }
            }
            let _ = tx.send(batch);
        });
    }
    Ok(Prefetch {
        rx,
        batch: Vec::new().into_iter(),
    })
}

/// The quick-check fields of a row that could be reused: an `ok` file with a 40-digit SHA-1.
fn candidate(rec: &csv::ByteRecord) -> Option<QuickRow> {
    let field = |i| rec.get(i).unwrap_or_default();
    if field(1) != b"file" || field(5) != b"ok" || field(4).len() != 40 {
        return None;
    }
    let text = |i| std::str::from_utf8(field(i)).ok();
    Some(QuickRow {
        path: text(0)?.to_string(),
        size: text(2)?.parse().ok()?,
        mtime: text(3)?.to_string(),
        sha1: text(4)?.to_string(),
    })
}

/// A previous manifest, consumed in walk order.
#[derive(Debug)]
pub struct Previous {
    rows: Peekable<Prefetch>,
    /// Set when the previous manifest turned out unreadable part-way: from then on nothing is
    /// reused (hashing is always correct, only slower).
    failed: Option<ReadError>,
}

impl Previous {
    /// Open a previous manifest; a missing or foreign file is an error now, not mid-scan.
    pub fn open(path: &Path) -> Result<Previous, ReadError> {
        let mut rows = prefetch(path)?.peekable();
        if let Some(Err(_)) = rows.peek() {
            let Some(Err(e)) = rows.next() else {
                unreachable!("peeked an error")
            };
            return Err(e);
        }
        Ok(Previous { rows, failed: None })
    }

    /// The SHA-1 to reuse for the file at `path` with this size and mtime, if the previous
    /// manifest has it as a hashed, `ok` file with the same size and mtime. Calls must come in
    /// walk order (every walked path, files and directories, may be passed).
    pub fn reuse(&mut self, path: &str, size: u64, mtime: &str) -> Option<String> {
        if self.failed.is_some() {
            return None;
        }
        loop {
            let ord = match self.rows.peek()? {
                Ok(row) => walk_order(&row.path, path),
                Err(_) => {
                    if let Some(Err(e)) = self.rows.next() {
                        tracing::warn!("--previous manifest unusable from here on: {e}");
                        self.failed = Some(e);
                    }
                    return None;
                }
            };
            match ord {
                Ordering::Less => {
                    self.rows.next();
                }
                Ordering::Greater => return None,
                Ordering::Equal => {
                    let Some(Ok(row)) = self.rows.next() else {
                        unreachable!("peeked a row")
                    };
                    let same = row.size == size && !mtime.is_empty() && row.mtime == mtime;
                    return same.then_some(row.sha1);
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
        let row = |path: &str, size, sha: &str, status: Status| ManifestRow {
            path: path.into(),
            kind: Kind::File,
            size,
            mtime: "T".into(),
            sha1: sha.into(),
            status,
            detail: String::new(),
        };
        let sha = "a".repeat(40);
        let mut w = Writer::new(std::fs::File::create(&p).unwrap()).unwrap();
        for r in [
            row("a", 1, &sha, Status::Ok),
            row("gone", 1, &sha, Status::Ok),
            row("m", 1, &sha, Status::skipped("changed_while_hashing")),
            row("n", 2, &sha, Status::Ok),
            row("z", 3, &sha, Status::Ok),
        ] {
            w.write(&r).unwrap();
        }
        w.flush().unwrap();
        drop(w);
        let mut prev = Previous::open(&p).unwrap();
        assert_eq!(prev.reuse("a", 1, "T"), Some(sha.clone()));
        assert_eq!(prev.reuse("b", 1, "T"), None); // new file; "gone" is passed over
        assert_eq!(prev.reuse("m", 1, "T"), None); // not ok before: hash again
        assert_eq!(prev.reuse("n", 2, "U"), None); // mtime moved
        assert_eq!(prev.reuse("z", 3, "T"), Some(sha));
        assert_eq!(prev.reuse("zz", 3, "T"), None);
    }

    #[test]
    fn a_foreign_file_is_refused_up_front() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x.csv");
        std::fs::write(&p, "hello,world\n").unwrap();
        assert!(matches!(Previous::open(&p), Err(ReadError::Header { .. })));
    }
}
