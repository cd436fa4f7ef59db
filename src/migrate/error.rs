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
    /// The account's free space cannot hold what is left to send (checked before the first
    /// upload, issue 12 item 2).
    #[error(
        "not enough space in Box: the account has {free} bytes free ({used} used) and this run has at least {to_send} bytes to send; free space in Box or raise the account's storage, then run again"
    )]
    NoSpace {
        /// Bytes the account can still store.
        free: u64,
        /// Bytes it stores.
        used: u64,
        /// Bytes to send, at least (the walk stops once past `free`).
        to_send: u64,
    },
    /// Box refused an upload because the account is full: the job stopped at the first such
    /// refusal, with what was in flight finished and the state saved.
    #[error(
        "Box storage is full (storage_limit_exceeded uploading {path}: {message}); the job stopped and its state is saved: free space in Box or raise the account's storage, then run the same command to resume"
    )]
    QuotaExceeded {
        /// The file whose upload was refused.
        path: String,
        /// Box's message.
        message: String,
    },
    /// The journal or the report could not be written (disk full, permissions): the job stopped
    /// at the first such error (issue 12, item 3).
    #[error(
        "uploads stopped, the run cannot record what it does (free space on that filesystem or fix its permissions, then run the same command to resume)"
    )]
    LocalWrite(#[source] LocalWriteError),
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

/// Which of the run's records could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LocalWriteError {
    /// The state journal.
    #[error(transparent)]
    State(StateError),
    /// The report.
    #[error(transparent)]
    Report(ReportError),
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
