//! Why a migration could not run or finish. Failed *files* are report rows, never errors; these
//! are the run-level failures (exit 2), each keeping its cause as `source`.
use std::io;
use std::path::PathBuf;

use crate::box_api::ApiError;
use crate::manifest::write::WriteError;
use crate::plan::kind::ThresholdError;
use crate::report::ReportError;
use crate::scan::ScanError;
use crate::state::StateError;

/// A migration run failed as a whole.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// The chunked-upload threshold is outside what Box accepts.
    #[error("bad chunked threshold")]
    Threshold(#[source] ThresholdError),
    /// The source is not a directory.
    #[error("{} is not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The Box client could not be built (bad CA certificate...).
    #[error("cannot build the Box client")]
    Client(#[source] Box<ApiError>),
    /// The async runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] io::Error),
    /// The destination folder is missing or the credentials are refused: checked with one call
    /// before any row, so such a run stops before it starts.
    #[error("destination folder {id}: {source}{}", source.dest_hint())]
    Destination {
        /// The folder id.
        id: String,
        /// Box's answer (boxed: it is large, and this path is cold).
        #[source]
        source: Box<ApiError>,
    },
    /// The state journal could not be opened or written.
    #[error("state journal")]
    State(#[source] StateError),
    /// The report could not be created or written.
    #[error("report")]
    Report(#[source] ReportError),
    /// The scan failed as a whole (root unreadable, bad glob...).
    #[error("scan of {}", root.display())]
    Scan {
        /// The source root.
        root: PathBuf,
        /// Why.
        #[source]
        source: ScanError,
    },
    /// The manifest could not be written.
    #[error("manifest")]
    Manifest(#[source] WriteError),
    /// A local file operation of the run's own files failed.
    #[error(transparent)]
    Local(#[from] LocalError),
    /// `--repair` re-sends files; a dry run sends nothing.
    #[error(
        "--repair cannot be combined with --dry-run (a repair forgets the paths in the journal and sends them again)"
    )]
    RepairDryRun,
    /// A pipeline thread panicked (a bug).
    #[error("the {0} thread panicked")]
    Panicked(&'static str),
}

/// A local file operation on the run's own files (manifest, its directory) failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot {op} {}", path.display())]
pub struct LocalError {
    /// What was being done (`create`, `rename ... to`).
    pub op: String,
    /// The file.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: io::Error,
}

impl LocalError {
    pub(super) fn new(op: impl Into<String>, path: impl Into<PathBuf>, source: io::Error) -> Self {
        LocalError {
            op: op.into(),
            path: path.into(),
            source,
        }
    }
}
