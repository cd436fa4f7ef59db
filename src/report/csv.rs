//! `ReportRow` (the columns README documents) and `ReportWriter`, which flushes after every row
//! so that a `kill -9` loses no finished row.
use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

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
}

impl Action {
    /// Every action, in the order the summary lists them.
    pub const ALL: [Action; 16] = [
        Action::Uploaded,
        Action::NewVersion,
        Action::Renamed,
        Action::Copied,
        Action::FolderCreated,
        Action::SkippedExists,
        Action::SkippedDone,
        Action::SkippedConflict,
        Action::Skipped,
        Action::Invalid,
        Action::Failed,
        Action::WouldUpload,
        Action::WouldVersion,
        Action::WouldRename,
        Action::WouldCopy,
        Action::WouldCreate,
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
            Action::Failed => "failed",
            Action::Invalid => "invalid",
            Action::Skipped => "skipped",
            Action::WouldUpload => "would_upload",
            Action::WouldVersion => "would_version",
            Action::WouldRename => "would_rename",
            Action::WouldCreate => "would_create",
            Action::WouldCopy => "would_copy",
        }
    }

    /// Rows that make the run's exit status 1: the file is not where the user wants it.
    pub fn is_failure(self) -> bool {
        matches!(self, Action::Failed | Action::Invalid)
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

/// One row of the report CSV. Column order is the struct's field order (README documents it).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ReportRow {
    /// '/'-separated path relative to the source root (as in the manifest).
    pub path: String,
    /// `file` or `dir`.
    pub kind: String,
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
}

impl ReportRow {
    /// A row for `path` of kind `file`/`dir` with the local facts filled in.
    pub fn new(path: &str, kind: &str, size: u64, sha1: &str) -> Self {
        ReportRow {
            path: path.to_string(),
            kind: kind.to_string(),
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
        source: ::csv::Error,
    },
}

/// Writes report rows, flushing after each so a killed run keeps what it finished.
pub struct ReportWriter {
    path: PathBuf,
    out: ::csv::Writer<BufWriter<File>>,
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
        })
    }

    /// Append one row and flush it to the OS.
    pub fn write(&mut self, row: &ReportRow) -> Result<(), ReportError> {
        self.out.serialize(row).map_err(|source| ReportError::Csv {
            path: self.path.clone(),
            source,
        })?;
        self.flush()
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

/// Read a report back (for printing it, merging, or tests).
pub fn read_report(path: &Path) -> Result<Vec<ReportRow>, ReportError> {
    let mut rd = ::csv::Reader::from_path(path).map_err(|source| ReportError::Csv {
        path: path.to_path_buf(),
        source,
    })?;
    rd.deserialize()
        .collect::<Result<Vec<ReportRow>, _>>()
        .map_err(|source| ReportError::Csv {
            path: path.to_path_buf(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_survive_without_close_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/report.csv");
        let mut w = ReportWriter::create(&path).unwrap();
        let mut row = ReportRow::new("a/b, \"c\".txt", "file", 3, "abc").with(Action::Uploaded);
        row.box_file_id = "12".into();
        row.attempts = 2;
        w.write(&row).unwrap();
        let bad = ReportRow::new("x", "file", 0, "")
            .with(Action::Failed)
            .with_error("item_name_invalid", "bad name");
        w.write(&bad).unwrap();
        // Simulate a crash: the writer is leaked, never dropped or closed.
        std::mem::forget(w);
        let back = read_report(&path).unwrap();
        assert_eq!(back, vec![row, bad]);
        let header = std::fs::read_to_string(&path).unwrap();
        assert!(header.starts_with(
            "path,kind,size,sha1,action,box_file_id,box_file_version_id,box_folder_id,box_sha1,as_user,attempts,bytes_sent,duration_ms,error_code,error_message,box_request_id\n"
        ));
    }

    #[test]
    fn action_words_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
        }
        assert!("nope".parse::<Action>().is_err());
    }
}
