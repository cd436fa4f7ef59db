//! The migration report: one CSV row per manifest row, flushed as each file finishes, and a
//! summary table at the end. A killed run keeps every row it wrote. `boxlift report` merges
//! reports (`merge`) and turns one into a self-contained HTML page (`html`).
//!
//! The row itself ([`ReportRow`], [`Action`]) lives in the leaf [`crate::model`]: the planner,
//! upload and the state journal make and read rows without importing this observer.
use std::io;
use std::path::PathBuf;

pub mod html;
pub mod merge;
pub mod prune;
pub mod read;
pub mod summary;
pub mod write;

pub use self::read::{ReportReader, read_report};
pub use self::summary::Summary;
pub use self::write::ReportWriter;
pub use crate::model::row::COLUMNS;
pub use crate::model::{Action, ReportRow};

/// Errors writing or reading a report.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The report file could not be created or written.
    #[error("report {path}: {source}")]
    Io {
        /// The report file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A row could not be encoded or decoded.
    #[error("report {path}: {source}")]
    Csv {
        /// The report file.
        path: PathBuf,
        /// The CSV error.
        source: csv::Error,
    },
    /// The first line is not a report header (another CSV, e.g. a manifest, or an empty file).
    #[error("report {path}: line 1 is not a boxlift report header: missing column(s) {missing}")]
    Header {
        /// The report file.
        path: PathBuf,
        /// The missing column names, comma-separated.
        missing: String,
    },
    /// A row that cannot be read (bad number, unknown action...).
    #[error("report {path}: line {line}: {reason}")]
    Row {
        /// The report file.
        path: PathBuf,
        /// 1-based line where the row starts.
        line: u64,
        /// What is wrong with it.
        reason: String,
    },
}
