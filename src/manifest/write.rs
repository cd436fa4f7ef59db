//! Streaming manifest writer: rows go out as they come, in the order given (the scan gives walk
//! order, so the file is deterministic), with the header first.
use std::io::Write;

use super::row::{HEADER, ManifestRow, mtime_cell};

/// Writing a manifest failed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The CSV layer or the underlying writer failed.
    #[error("cannot write manifest row {path:?}: {source}")]
    Row {
        /// The row being written.
        path: String,
        /// Why.
        source: csv::Error,
    },
    /// Writing the header or flushing failed.
    #[error("cannot write manifest: {0}")]
    Io(#[from] std::io::Error),
}

/// A manifest writer over any `Write` (a file, stdout, a buffer).
#[derive(Debug)]
pub struct Writer<W: Write> {
    inner: csv::Writer<W>,
    /// Reused for the status cell: no allocation per row.
    status: String,
}

impl<W: Write> Writer<W> {
    /// Start a manifest: writes the header row.
    pub fn new(out: W) -> Result<Self, WriteError> {
        let mut inner = csv::WriterBuilder::new()
            .has_headers(false)
            .buffer_capacity(256 * 1024)
            .from_writer(out);
        inner.write_record(HEADER).map_err(|e| WriteError::Row {
            path: "<header>".into(),
            source: e,
        })?;
        Ok(Writer {
            inner,
            status: String::new(),
        })
    }

    /// Append one row. Written field by field (not through serde) because this is the hot
    /// path of a 10-million-row scan.
    pub fn write(&mut self, row: &ManifestRow) -> Result<(), WriteError> {
        let mut size = itoa_buf();
        let size = fmt_u64(row.size, &mut size);
        use std::fmt::Write as _;
        self.status.clear();
        let _ = write!(self.status, "{}", row.status);
        let status = &self.status;
        let mtime = mtime_cell(row.mtime.as_ref());
        self.inner
            .write_record([
                row.path.as_bytes(),
                row.kind.as_str().as_bytes(),
                size,
                mtime.as_bytes(),
                row.sha1.as_bytes(),
                status.as_bytes(),
                row.detail.as_bytes(),
            ])
            .map_err(|e| WriteError::Row {
                path: row.path.clone(),
                source: e,
            })
    }

    /// Flush buffered rows to the underlying writer.
    pub fn flush(&mut self) -> Result<(), WriteError> {
        Ok(self.inner.flush()?)
    }

    /// Flush and return the underlying writer.
    pub fn into_inner(self) -> Result<W, WriteError> {
        self.inner
            .into_inner()
            .map_err(|e| WriteError::Io(e.into_error()))
    }
}

fn itoa_buf() -> [u8; 20] {
    [0u8; 20]
}

/// Format without allocating (u64::MAX has 20 digits).
fn fmt_u64(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Kind, Status, read::Reader};

    #[test]
    fn written_rows_read_back_identically() {
        let rows = vec![
            ManifestRow {
                path: "a, \"quoted\"\nname".into(),
                kind: Kind::File,
                size: u64::MAX,
                mtime: "2024-01-01T00:00:00.000000001Z".parse().ok(),
                sha1: "da39a3ee5e6b4b0d3255bfef95601890afd80709".into(),
                status: Status::Ok,
                detail: String::new(),
            },
            ManifestRow {
                path: "d".into(),
                kind: Kind::Dir,
                size: 0,
                mtime: None,
                sha1: String::new(),
                status: Status::Skipped(crate::manifest::SkipReason::PermissionDenied),
                detail: "Permission denied (os error 13)".into(),
            },
        ];
        let mut w = Writer::new(Vec::new()).unwrap();
        for r in &rows {
            w.write(r).unwrap();
        }
        let bytes = w.into_inner().unwrap();
        assert!(bytes.starts_with(b"path,kind,size,mtime,sha1,status,detail\n"));
        let back: Vec<_> = Reader::new(&bytes[..]).map(|r| r.unwrap()).collect();
        assert_eq!(back, rows);
    }
}
