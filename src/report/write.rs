//! `ReportWriter`: appends report rows and flushes after each, so that a `kill -9` loses no
//! finished row.
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::BufWriter;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::model::ReportRow;
use crate::model::row::now_millis;

/// Writes report rows, flushing after each so a killed run keeps what it finished.
pub struct ReportWriter {
    path: PathBuf,
    out: ::csv::Writer<BufWriter<File>>,
    /// [`write`](Self::write) keeps `skipped_done` rows (`migrate --report-all`).
    skipped_done: bool,
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
            skipped_done: true,
        })
    }

    /// Whether [`write`](Self::write) keeps `skipped_done` rows (files an earlier run finished
    /// and this one left alone). A migration's report leaves them out unless `--report-all`:
    /// a nightly run over a migrated tree would otherwise repeat every unchanged file (8 changed
    /// files gave 3,941 rows). The journal holds them all (`boxlift report export`).
    pub fn keep_skipped_done(mut self, keep: bool) -> Self {
        self.skipped_done = keep;
        self
    }

    /// Append one row and flush it to the OS (a `skipped_done` row only if
    /// [`keep_skipped_done`](Self::keep_skipped_done)). An empty `finished_at` is stamped with now.
    pub fn write(&mut self, row: &ReportRow) -> Result<(), ReportError> {
        if !self.skipped_done && row.action() == crate::model::Action::SkippedDone {
            return Ok(());
        }
        if row.finished_at.is_none() {
            let mut stamped = row.clone();
            stamped.finished_at = Some(now_millis());
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
