//! The `/_emulator/state` JSON: counters and the whole tree, so tests assert on what the
//! emulator saw and holds rather than on the client's logs.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// What `GET /_emulator/state` and [`super::EmulatorHandle::state`] return.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct EmulatorState {
    /// What happened so far.
    pub counters: Counters,
    /// Every file and folder except the root, in path order.
    pub tree: Vec<TreeEntry>,
}

/// Counters since the emulator started (not persisted across restarts).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Counters {
    /// Requests by route (`"POST /api/2.0/files/content"`) then by status (`"201"`).
    pub requests: BTreeMap<String, BTreeMap<String, u64>>,
    /// Requests by HTTP version (`"HTTP/1.1"`, `"HTTP/2.0"`) then by route.
    #[serde(default)]
    pub versions: BTreeMap<String, BTreeMap<String, u64>>,
    /// 429 replies sent.
    pub rate_limited: u64,
    /// Faults injected, by kind (`fail_500`, `drop`, `lost_reply_5xx`, `lost_reply_drop`,
    /// `commit_202`, `parts_mismatch`, `folder_race`).
    pub faults: BTreeMap<String, u64>,
    /// Body bytes of direct uploads, new versions and parts received.
    pub bytes_received: u64,
    /// Folders created (including race duplicates).
    pub folders_created: u64,
    /// Files created (direct upload, commit of a new-file session, copy).
    pub files_created: u64,
    /// New versions of existing files.
    pub versions_created: u64,
    /// Successful direct uploads and new versions (multipart).
    pub uploads: u64,
    /// Upload parts accepted.
    pub parts_received: u64,
    /// Upload sessions created.
    pub sessions_created: u64,
    /// Upload sessions committed.
    pub sessions_committed: u64,
    /// Upload sessions aborted.
    pub sessions_aborted: u64,
    /// TLS handshakes completed (TLS listener only).
    #[serde(default)]
    pub tls_handshakes: u64,
    /// TLS handshakes that failed: the client refused the certificate, or gave up.
    #[serde(default)]
    pub tls_handshakes_failed: u64,
}

impl Counters {
    /// Every request answered, whatever its route and status.
    pub fn total_requests(&self) -> u64 {
        self.requests.values().flat_map(|m| m.values()).sum()
    }
}

/// One file or folder of the tree.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct TreeEntry {
    /// '/'-separated path from the root (root excluded), e.g. `docs/a.txt`.
    pub path: String,
    /// `"file"` or `"folder"`.
    pub kind: String,
    /// Box id.
    pub id: String,
    /// Parent folder id (`"0"` for the root's children).
    pub parent_id: String,
    /// File size in bytes (0 for folders).
    pub size: u64,
    /// SHA-1 hex of the current version (files only).
    pub sha1: Option<String>,
    /// Number of versions (files; 0 for folders).
    pub versions: u32,
    /// The owner's user id (the owner of the root it is under; `11446498`, the service
    /// account, for the tree the emulator's tokens see). Items under a declared user's own
    /// root have paths starting `@USER_ID/`.
    #[serde(default)]
    pub owner: String,
    /// The user id that created (uploaded) it.
    #[serde(default)]
    pub created_by: String,
}
