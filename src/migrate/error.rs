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
    /// A mirror run's guard refused to delete anything (read errors, an empty or missing
    /// source root, over `--max-delete`): nothing was changed.
    #[error("{0}")]
    MirrorRefused(crate::plan::deletes::DeleteRefused),
    /// `--permissions`: bad rows, or collaborators Box does not know (checked before any
    /// upload: nothing was uploaded or granted).
    #[error(transparent)]
    Permissions(#[from] crate::permissions::GrantsError),
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
    /// upload, so a run that cannot fit fails at once, not after hours of uploads).
    #[error(
        "not enough space in Box: the account has {free} bytes free ({used} used), that is {} free and {} used, and this run has at least {to_send} bytes ({}) to send; free space in Box or raise the account's storage, then run again",
        si(.free),
        si(.used),
        si(.to_send)
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
    /// Box refused a request in a way no retry and no other file can get past (credentials
    /// refused and not refreshable, destination gone): the job stopped at the first such answer,
    /// with what was in flight finished and the state saved.
    #[error(
        "the job stopped: {message} (uploading {path}); {remedy}, then run the same command to resume (its state is saved)"
    )]
    Stopped {
        /// The row whose request met it.
        path: String,
        /// What Box said.
        message: String,
        /// What to do about it.
        remedy: String,
    },
    /// Box refuses writes in the destination for every `--as-user` identity (checked before
    /// the run, as `audit --dest` does).
    #[error(
        "no --as-user identity can write to destination folder {dest}: {detail}; make them collaborators (Editor or above) on it, or give other --as-user ids"
    )]
    NoIdentity {
        /// The destination folder id.
        dest: String,
        /// What Box said of each identity.
        detail: String,
    },
    /// The journal or the report could not be written (disk full, permissions): the job stopped
    /// at the first such error (going on would upload what it cannot record).
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
    /// `--map` is wrong: a bad line, a source not under SRC, overlapping sources, unknown
    /// owners (checked before any upload).
    #[error(transparent)]
    Map(#[from] crate::plan::owners::MapError),
    /// `--map` with `--track-moves`/`--delete-missing`: the mirror phase acts as the service
    /// account, which cannot see the owners' folders.
    #[error(
        "--map cannot be combined with --track-moves or --delete-missing yet (the mirror phase cannot act As-User each owner); run the mapped migration without them"
    )]
    MapWithMirror,
    /// `--map` owners cannot write where their files go (or their home folder cannot be made):
    /// every such line named, before any upload.
    #[error(
        "--map {}: {detail}; make each owner a collaborator (Editor or above) on its dest folder, or leave dest empty for a folder in the owner's own root",
        file.display()
    )]
    OwnerAccess {
        /// The map file.
        file: PathBuf,
        /// One clause per refused line.
        detail: String,
    },
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

/// The exact byte count's companion in the summary's decimal SI units (`5.0 kB`), so an
/// operator reads the size at a glance and can still compare it with Box's exact figures.
fn si(n: &u64) -> String {
    crate::report::summary::human_bytes(*n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_space_gives_exact_bytes_and_decimal_units() {
        let e = MigrateError::NoSpace {
            free: 5000,
            used: 0,
            to_send: 159_413_260,
        };
        let msg = e.to_string();
        assert!(msg.contains("5000 bytes free (0 used)"), "{msg}");
        assert!(msg.contains("that is 5.0 kB free and 0 B used"), "{msg}");
        assert!(
            msg.contains("at least 159413260 bytes (159.4 MB) to send"),
            "{msg}"
        );
    }
}
