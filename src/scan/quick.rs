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

use crate::manifest::read::{ReadError, Reader};
use crate::manifest::{Kind, ManifestRow};

/// The walk order of two manifest paths: component by component, each compared as bytes.
pub fn walk_order(a: &str, b: &str) -> Ordering {
    a.split('/').cmp(b.split('/'))
}

/// Rows per message from the reader thread.
const BATCH: usize = 1024;

/// A previous manifest's rows, parsed on their own thread (CSV parsing would otherwise double
/// the walk thread's work) and handed over in batches through a bounded channel.
#[derive(Debug)]
struct Prefetch {
    rx: mpsc::Receiver<Vec<Result<ManifestRow, ReadError>>>,
    batch: std::vec::IntoIter<Result<ManifestRow, ReadError>>,
}

impl Iterator for Prefetch {
    type Item = Result<ManifestRow, ReadError>;
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(r) = self.batch.next() {
                return Some(r);
            }
            self.batch = self.rx.recv().ok()?.into_iter();
        }
    }
}

fn prefetch(reader: Reader<std::io::BufReader<std::fs::File>>) -> Prefetch {
    let (tx, rx) = mpsc::sync_channel(4);
    std::thread::spawn(move || {
        let mut batch = Vec::with_capacity(BATCH);
        for row in reader {
            let failed = row.is_err();
            batch.push(row);
            if batch.len() == BATCH || failed {
                // The receiver hangs up when the scan ends early: stop reading then.
                if tx
                    .send(std::mem::replace(&mut batch, Vec::with_capacity(BATCH)))
                    .is_err()
                {
                    return;
                }
            }
            if failed {
                return;
            }
        }
        let _ = tx.send(batch);
    });
    Prefetch {
        rx,
        batch: Vec::new().into_iter(),
    }
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
        let mut rows = prefetch(Reader::open(path)?).peekable();
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
                    return reusable(&row, size, mtime);
                }
            }
        }
    }
}

fn reusable(row: &ManifestRow, size: u64, mtime: &str) -> Option<String> {
    let ok = row.kind == Kind::File
        && row.status.is_ok()
        && row.sha1.len() == 40
        && row.size == size
        && !mtime.is_empty()
        && row.mtime == mtime;
    ok.then(|| row.sha1.clone())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Status;
    use crate::manifest::write::Writer;

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
