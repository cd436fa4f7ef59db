//! `Event`: the seam between the pipeline stages and their observers (report CSV, progress, state
//! journal), as nextest's runner feeds its reporters. Stages only emit; they never know who
//! listens, so indicatif and SQLite stay out of them. Events are the only way counts reach
//! observers.
use super::row::ReportRow;
use crate::manifest::Kind;

/// Something that happened in a migration run.
// `FileDone` is the common, large variant; each event is moved once through a channel, so
// boxing it would only add an allocation per row.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Event {
    /// A manifest row entered the pipeline (grows the progress totals while the scan streams).
    Planned {
        /// Bytes the row will send if uploaded (0 for rows that need no upload).
        bytes: u64,
        /// File or directory (progress counts files only).
        kind: Kind,
    },
    /// The totals of the counting pass (names and sizes, no contents) or the previous
    /// manifest, known before the scan reaches them: progress shows the total and an ETA from
    /// the start of a run.
    Expected {
        /// Files it lists (directories left out).
        files: u64,
        /// Their bytes.
        bytes: u64,
        /// Files at or above the chunked threshold (sent in parts, bound by bandwidth).
        big_files: u64,
        /// Their bytes.
        big_bytes: u64,
    },
    /// The scan has produced every row; totals are now final.
    ScanFinished,
    /// A file's upload began.
    FileStarted {
        /// Relative path.
        path: String,
        /// Size in bytes.
        size: u64,
    },
    /// A file's bytes are finished with (sent, found in Box, or given up), for progress.
    BytesSent {
        /// Bytes sent.
        bytes: u64,
    },
    /// A Box request was retried, emitted once per retry by the client's retry hook
    /// (`status` is the HTTP status that caused it; `None` when there was no reply).
    Retried {
        /// HTTP status of the failed attempt (429 counts as throttled).
        status: Option<u16>,
    },
    /// A chunked upload session was created: journal it before its parts go out, so a re-run
    /// resumes it instead of sending the file again.
    SessionOpened(SessionRecord),
    /// A local directory's Box folder id became known (created or found).
    FolderResolved {
        /// '/'-separated directory path relative to the source root ("" is the root).
        path: String,
        /// Box folder id.
        folder_id: String,
    },
    /// Box folder `folder_id` of local directory `path` is gone (trashed or deleted since it
    /// was resolved): the journal forgets what it recorded under `path` (folders, finished
    /// files, open sessions), so the next run sends those files again; the executor creates
    /// the folder again.
    SubtreeGone {
        /// '/'-separated directory path relative to the source root (never "").
        path: String,
        /// The Box folder id that answered 404.
        folder_id: String,
    },
    /// A row finished, whatever the outcome.
    FileDone(ReportRow),
}

/// A chunked upload session in flight, as the state journal keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Relative path of the file.
    pub path: String,
    /// Box's upload session id.
    pub session_id: String,
    /// File size the session was opened for.
    pub size: u64,
    /// SHA-1 of the file content the session carries.
    pub sha1: String,
    /// The `As-User` that opened it ("" for the service account): only it may resume it.
    pub as_user: String,
}
