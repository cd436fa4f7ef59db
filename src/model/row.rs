//! `ReportRow` and `Action`: one row of the migration report (the columns docs/report.md
//! documents).
//! Every stage that decides a row's outcome (planner, upload) and every observer (report CSV,
//! state journal, progress) speaks this type, so it sits in the leaf `model`.
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::manifest::Kind;

/// What happened to one manifest row. The string forms are the report's `action` column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A new file was uploaded.
    Uploaded,
    /// The file existed in Box with other content and got a new version (`--on-conflict version`).
    NewVersion,
    /// A file of that name was there with other content; uploaded under another name (`rename`).
    Renamed,
    /// Box already holds this file with the same SHA-1 (earlier tool, earlier or partial run).
    SkippedExists,
    /// The state journal says this exact file (size, mtime, SHA-1) was done by an earlier run.
    SkippedDone,
    /// A file of that name is in Box with other content and `--on-conflict skip` kept it.
    SkippedConflict,
    /// `--dedup`: identical content was uploaded once; this copy is Box's server-side copy.
    Copied,
    /// A folder was created in Box (or found there) to mirror a local directory.
    FolderCreated,
    /// Box holds something at this path that boxlift will not replace; `error_code` says
    /// what: `item_name_in_use`, another kind of item is there (a file where a folder goes, or
    /// the reverse); `conflict_changed_in_box`, someone's newer version (`--on-conflict version`
    /// or `fail`). Dry and real runs report it alike (`plan::conflict`). A failure: the local
    /// item is not where the user wants it.
    Conflict,
    /// The upload failed (see `error_code`, `error_message`).
    Failed,
    /// Box would reject the entry (name, size...): not sent.
    Invalid,
    /// The scan skipped the entry (symlink, special file, unreadable...).
    Skipped,
    /// Dry run: would be uploaded as a new file.
    WouldUpload,
    /// Dry run: would be uploaded as a new version of an existing file.
    WouldVersion,
    /// Dry run: would be uploaded under another name.
    WouldRename,
    /// Dry run: a folder would be created.
    WouldCreate,
    /// Dry run: would be copied server-side from identical content (`--dedup`).
    WouldCopy,
    /// `--track-moves`: the file (or folder) was moved or renamed in Box from `old_path`
    /// instead of uploaded again (same size and SHA-1 as the journal's vanished path).
    Moved,
    /// `--delete-missing`: an item boxlift uploaded and the source no longer has went to
    /// Box's trash (never purged).
    Deleted,
    /// Dry run: would be moved or renamed in Box from `old_path`.
    WouldMove,
    /// Dry run: would go to Box's trash.
    WouldDelete,
    /// `--permissions`: a collaboration exists on the folder `path` (made by this run, or Box
    /// answered `user_already_collaborator`). `box_folder_id` is the folder, `box_file_id` the
    /// collaboration's id when this run made it, `error_message` says `KIND:ID ROLE` (the Box
    /// user or group id and the role, e.g. `group:42 editor`).
    Collaborated,
}

impl Action {
    /// Every action, in the order the summary lists them.
    pub const ALL: [Action; 22] = [
        Action::Uploaded,
        Action::NewVersion,
        Action::Renamed,
        Action::Copied,
        Action::Moved,
        Action::Deleted,
        Action::FolderCreated,
        Action::Collaborated,
        Action::SkippedExists,
        Action::SkippedDone,
        Action::SkippedConflict,
        Action::Skipped,
        Action::Invalid,
        Action::Conflict,
        Action::Failed,
        Action::WouldUpload,
        Action::WouldVersion,
        Action::WouldRename,
        Action::WouldCopy,
        Action::WouldCreate,
        Action::WouldMove,
        Action::WouldDelete,
    ];

    /// The `action` column's word.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Uploaded => "uploaded",
            Action::NewVersion => "new_version",
            Action::Renamed => "renamed",
            Action::SkippedExists => "skipped_exists",
            Action::SkippedDone => "skipped_done",
            Action::SkippedConflict => "skipped_conflict",
            Action::Copied => "copied",
            Action::FolderCreated => "folder_created",
            Action::Conflict => "conflict",
            Action::Failed => "failed",
            Action::Invalid => "invalid",
            Action::Skipped => "skipped",
            Action::WouldUpload => "would_upload",
            Action::WouldVersion => "would_version",
            Action::WouldRename => "would_rename",
            Action::WouldCreate => "would_create",
            Action::WouldCopy => "would_copy",
            Action::Moved => "moved",
            Action::Deleted => "deleted",
            Action::WouldMove => "would_move",
            Action::WouldDelete => "would_delete",
            Action::Collaborated => "collaborated",
        }
    }

    /// Rows that make the run's exit status 1: the file is not where the user wants it.
    pub fn is_failure(self) -> bool {
        matches!(self, Action::Failed | Action::Invalid | Action::Conflict)
    }

    /// Rows that sent file content to Box in this run.
    pub fn sent_content(self) -> bool {
        matches!(
            self,
            Action::Uploaded | Action::NewVersion | Action::Renamed
        )
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Action::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown report action {s:?}"))
    }
}

/// One row of the report CSV. Column order is the struct's field order (docs/report.md
/// documents it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReportRow {
    /// '/'-separated path relative to the source root (as in the manifest).
    pub path: String,
    /// File or directory (the manifest's kind; `file`/`dir` in the CSV).
    pub kind: Kind,
    /// Local size in bytes.
    pub size: u64,
    /// Local SHA-1 (hex), empty for directories and unhashed entries.
    pub sha1: String,
    /// What happened (see [`Action`]); `None` only while building a row.
    pub action: Option<Action>,
    /// Box file id of the file in Box (uploaded, versioned, found or copied).
    pub box_file_id: String,
    /// Box file version id.
    pub box_file_version_id: String,
    /// Box folder id of the file's parent (or of the folder itself for directories).
    pub box_folder_id: String,
    /// The SHA-1 Box reports for its copy.
    pub box_sha1: String,
    /// The managed user the request acted as (`As-User`), if any.
    pub as_user: String,
    /// HTTP attempts the upload took (1 = no retry).
    pub attempts: u32,
    /// Bytes sent for this row in this run (retries and resumed parts count).
    pub bytes_sent: u64,
    /// Wall time spent on this row in milliseconds.
    pub duration_ms: u64,
    /// Box error code (`item_name_in_use`...) or boxlift's reason (`name_invalid`...).
    pub error_code: String,
    /// Human-readable error.
    pub error_message: String,
    /// Box's `request_id` of the last failing call, for Box support.
    pub box_request_id: String,
    /// When the row finished; the report writes RFC 3339 UTC with milliseconds
    /// (`2026-01-02T03:04:05.678Z`). `report::ReportWriter::write` stamps it when `None`;
    /// reports written before this column existed read back with it `None`.
    #[serde(default, with = "finished_at_cell")]
    pub finished_at: Option<DateTime<Utc>>,
    /// Of `duration_ms`, the time the row's requests waited for pacing permits (at most
    /// `duration_ms`): the rest is time sending and waiting on Box. Reports written before
    /// this column existed read back with 0.
    #[serde(default)]
    pub queued_ms: u64,
    /// The local modification time the row's size and SHA-1 belong to. Not a report column:
    /// the state journal keeps it, so a re-run trusts an unchanged finished file (same size and
    /// mtime) without opening it: a resumed run re-reads nothing it already sent.
    #[serde(skip)]
    pub mtime: Option<DateTime<Utc>>,
    /// `moved`/`would_move` rows: the path the item had before (relative to the source root,
    /// as `path`). The last column; reports written before it existed read back with it empty.
    #[serde(default)]
    pub old_path: String,
}

impl ReportRow {
    /// A row for `path` of this kind with the local facts filled in.
    pub fn new(path: &str, kind: Kind, size: u64, sha1: &str) -> Self {
        ReportRow {
            path: path.to_string(),
            kind,
            size,
            sha1: sha1.to_string(),
            ..Default::default()
        }
    }

    /// The row's action (`failed` if it was never set, which would be a bug worth seeing).
    pub fn action(&self) -> Action {
        self.action.unwrap_or(Action::Failed)
    }

    /// Set the action, builder style.
    pub fn with(mut self, action: Action) -> Self {
        self.action = Some(action);
        self
    }

    /// Set an error code and message, builder style.
    pub fn with_error(mut self, code: &str, message: impl Into<String>) -> Self {
        self.error_code = code.to_string();
        self.error_message = message.into();
        self
    }
}

/// Now, to the millisecond the report keeps (so a row reads back equal to what was written).
pub fn now_millis() -> DateTime<Utc> {
    use chrono::DurationRound;
    let now = Utc::now();
    now.duration_trunc(chrono::TimeDelta::milliseconds(1))
        .unwrap_or(now)
}

/// The `finished_at` cell: RFC 3339 UTC with milliseconds, empty when unknown.
pub fn format_finished_at(t: &DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// `finished_at` as the CSV holds it: formatted by the writer, parsed (and checked) by the
/// reader.
mod finished_at_cell {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(
        t: &Option<DateTime<Utc>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_str(&super::format_finished_at(t)),
            None => s.serialize_str(""),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        let s = String::deserialize(d)?;
        if s.is_empty() {
            return Ok(None);
        }
        DateTime::parse_from_rfc3339(&s)
            .map(|t| Some(t.with_timezone(&Utc)))
            .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an RFC 3339 time")))
    }
}

/// The report's columns, in order. The last ones came later and may be absent from older
/// reports: `finished_at`, `queued_ms`, then `old_path` ([`REQUIRED_COLUMNS`] is the rest).
pub const COLUMNS: [&str; 19] = [
    "path",
    "kind",
    "size",
    "sha1",
    "action",
    "box_file_id",
    "box_file_version_id",
    "box_folder_id",
    "box_sha1",
    "as_user",
    "attempts",
    "bytes_sent",
    "duration_ms",
    "error_code",
    "error_message",
    "box_request_id",
    "finished_at",
    "queued_ms",
    "old_path",
];

/// The columns every report has (older boxlifts wrote no `finished_at` nor `old_path`).
pub const REQUIRED_COLUMNS: [&str; 16] = {
    let mut out = [""; 16];
    let mut i = 0;
    while i < 16 {
        out[i] = COLUMNS[i];
        i += 1;
    }
    out
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_words_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
        }
        assert!("nope".parse::<Action>().is_err());
    }
}
