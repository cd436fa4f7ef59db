//! `JournalFile`: a file the state journal says boxlift put in Box, as the mirror planner
//! (`plan::moves`, `plan::deletes`) reads it; here in the leaf so `state` need not import `plan`.

/// A file the journal says boxlift put in Box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalFile {
    /// '/'-separated path relative to the source root.
    pub path: String,
    /// Size when it was uploaded.
    pub size: u64,
    /// SHA-1 (hex) when it was uploaded.
    pub sha1: String,
    /// Box file id.
    pub box_file_id: String,
    /// The Box version id the journal recorded, for `If-Match`.
    pub box_file_version_id: String,
}
