//! What planning hands the upload stage: one `Work` per manifest row, a `FileTask` for each file
//! that needs Box. Plain data: the upload stage runs it.
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use chrono::{DateTime, Utc};

use super::kind::UploadKind;
use crate::model::ReportRow;
use crate::state::DoneFile;

/// One planned manifest row.
// `Done` rows are the common case on re-runs; each is moved once through the channel.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum Work {
    /// Decided without Box (invalid, skipped, done by an earlier run): just report it.
    Done(ReportRow),
    /// A directory to mirror; `known` is its folder id from the journal (no call needed).
    Dir {
        /// Relative path.
        path: String,
        /// Folder id from the journal.
        known: Option<String>,
    },
    /// A file to bring into Box.
    File(Box<FileTask>),
}

/// One file to bring into Box, as the planner hands it over.
#[derive(Debug, Clone)]
pub struct FileTask {
    /// '/'-separated path relative to the source root.
    pub path: String,
    /// Absolute local path.
    pub abs: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-1 hex.
    pub sha1: String,
    /// Local modification time (sent as `content_modified_at`).
    pub modified: Option<DateTime<Utc>>,
    /// One direct upload, or an upload session.
    pub upload: UploadKind,
    /// What an earlier run uploaded at this path (content has changed since).
    pub prior: Option<DoneFile>,
    /// An upload session an earlier run opened for this very content.
    pub resume_session: Option<String>,
    /// An upload session an earlier run opened for this path whose content has changed since:
    /// aborted (`DELETE /files/upload_sessions/{id}`) before anything else, so no session
    /// boxlift opened stays open in Box.
    pub stale_session: Option<String>,
    /// The parent directory's Box folder id, if the journal knows it.
    pub folder_hint: Option<String>,
    /// The managed user this file must be uploaded as: the owner of the journalled session it
    /// resumes (a session belongs to the user that opened it). `None`: the least busy
    /// identity when the file starts (`BoxClient::lease`).
    pub as_user: Option<String>,
    /// Bytes of confirmed parts, already counted by progress (chunked files).
    pub parts_done: Arc<AtomicU64>,
}
