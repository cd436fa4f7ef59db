//! `ReportWriter`: appends report rows and flushes after each, so that a `kill -9` loses no
//! finished row.
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::model::ReportRow;

/// Writes report rows, flushing after each so a killed run keeps what it finished.
pub struct ReportWriter {
    path: PathBuf,
    out: ::csv::Writer<BufWriter<File>>,
}

impl fmt::Debug for ReportWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportWriter")
            .field("path", &self.path)
            .finish()
    }
}

impl ReportWriter {
    /// Create (truncate) the report at `path`, creating its directory.
    pub fn create(path: &Path) -> Result<Self, ReportError> {
        let io_err = |source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io_err)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)
            .map_err(io_err)?;
        let out = ::csv::WriterBuilder::new()
            .has_headers(true)
            .from_writer(BufWriter::new(file));
        Ok(ReportWriter {
            path: path.to_path_buf(),
            out,
        })
    }

    /// Append one row and flush it to the OS. An empty `finished_at` is stamped with now.
    pub fn write(&mut self, row: &ReportRow) -> Result<(), ReportError> {
        if row.finished_at.is_empty() {
            let mut stamped = row.clone();
            stamped.finished_at = now_rfc3339_millis();
            self.write_as_is(&stamped)?;
        } else {
            self.write_as_is(row)?;
        }
        self.flush()
    }

    /// Append one row exactly as given (no `finished_at` stamp), buffered: for tools that copy
    /// rows between reports, such as `report merge`, which [`flush`](Self::flush) at the end.
    pub fn write_as_is(&mut self, row: &ReportRow) -> Result<(), ReportError> {
        self.out.serialize(row).map_err(|source| ReportError::Csv {
            path: self.path.clone(),
            source,
        })
    }

    /// Flush buffered rows to the OS.
    pub fn flush(&mut self) -> Result<(), ReportError> {
        self.out.flush().map_err(|source| ReportError::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// The report's path.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Now as the `finished_at` column writes it: RFC 3339, UTC, milliseconds.
pub fn now_rfc3339_millis() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
