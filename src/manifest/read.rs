//! Streaming manifest reader: iterates rows without loading the file, so `migrate` and `audit`
//! handle 10-million-row manifests in constant memory.
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use super::row::{HEADER, ManifestRow};

/// Reading a manifest failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be opened.
    #[error("cannot open manifest {path}: {source}")]
    Open {
        /// The manifest path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The header row is not the manifest header.
    #[error("not a boxlift manifest: header is {found:?}, expected {expected:?}")]
    Header {
        /// What the file has.
        found: String,
        /// What a manifest has.
        expected: String,
    },
    /// A row could not be parsed.
    #[error("manifest line {line}: {source}")]
    Row {
        /// 1-based line number (the header is line 1).
        line: u64,
        /// Why.
        source: csv::Error,
    },
}

/// Iterator over a manifest's rows.
#[derive(Debug)]
pub struct Reader<R: Read> {
    inner: csv::Reader<R>,
    record: csv::StringRecord,
    checked_header: bool,
    done: bool,
}

impl Reader<BufReader<File>> {
    /// Open a manifest file.
    pub fn open(path: &Path) -> Result<Self, ReadError> {
        let file = File::open(path).map_err(|e| ReadError::Open {
            path: path.display().to_string(),
            source: e,
        })?;
        Ok(Reader::new(BufReader::with_capacity(256 * 1024, file)))
    }
}

impl<R: Read> Reader<R> {
    /// Read a manifest from any reader (the header is checked on the first `next`).
    pub fn new(input: R) -> Self {
        let inner = csv::ReaderBuilder::new()
            .has_headers(false)
            .buffer_capacity(256 * 1024)
            .from_reader(input);
        Reader {
            inner,
            record: csv::StringRecord::new(),
            checked_header: false,
            done: false,
        }
    }

    /// Read the next record into `self.record`; None at the end.
    fn read_one(&mut self) -> Option<Result<(), ReadError>> {
        match self.inner.read_record(&mut self.record) {
            Ok(true) => Some(Ok(())),
            Ok(false) => None,
            Err(e) => Some(Err(ReadError::Row {
                line: e.position().map(|p| p.line()).unwrap_or(0),
                source: e,
            })),
        }
    }
}

impl<R: Read> Iterator for Reader<R> {
    type Item = Result<ManifestRow, ReadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        if !self.checked_header {
            self.checked_header = true;
            match self.read_one() {
                None => {
                    self.done = true;
                    return None;
                }
                Some(Err(e)) => {
                    self.done = true;
                    return Some(Err(e));
                }
                Some(Ok(())) => {
                    let h = &self.record;
                    if h.iter().ne(HEADER.iter().copied()) {
                        self.done = true;
                        return Some(Err(ReadError::Header {
                            found: h.iter().collect::<Vec<_>>().join(","),
                            expected: HEADER.join(","),
                        }));
                    }
                }
            }
        }
        if let Err(e) = self.read_one()? {
            return Some(Err(e));
        }
        let rec = &self.record;
        let line = rec.position().map(|p| p.line()).unwrap_or(0);
        Some(
            rec.deserialize::<ManifestRow>(None)
                .map_err(|source| ReadError::Row { line, source }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_foreign_header_and_bad_rows() {
        let mut r = Reader::new(&b"name,size\nx,1\n"[..]);
        assert!(matches!(r.next(), Some(Err(ReadError::Header { .. }))));
        assert!(r.next().is_none());

        let text = b"path,kind,size,mtime,sha1,status,detail\na,file,notanumber,,,ok,\n";
        let mut r = Reader::new(&text[..]);
        match r.next() {
            Some(Err(ReadError::Row { line, .. })) => assert_eq!(line, 2),
            other => panic!("expected a row error, got {other:?}"),
        }
    }

    #[test]
    fn empty_input_is_empty() {
        assert!(Reader::new(&b""[..]).next().is_none());
    }
}
