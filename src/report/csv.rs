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
    /// When the row finished: RFC 3339 UTC with milliseconds (`2026-01-02T03:04:05.678Z`).
    /// [`ReportWriter::write`] stamps it when empty; reports written before this column existed
    /// read back with it empty.
    #[serde(default)]
    pub finished_at: String,
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

/// The report's columns, in order (the last, `finished_at`, may be absent from older reports).
pub const COLUMNS: [&str; 17] = [
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
];

/// Columns a file must have to be read as a report (`finished_at` came later: optional).
const REQUIRED_COLUMNS: &[&str] = COLUMNS.split_last().expect("COLUMNS is not empty").1;

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

    /// Append one row and flush it to the OS. An empty `finished_at` is stamped with now.
    pub fn write(&mut self, row: &ReportRow) -> Result<(), ReportError> {
        if row.finished_at.is_empty() {
            let mut stamped = row.clone();
            stamped.finished_at = now_rfc3339_millis();
            self.write_as_is(&stamped)?;
        } else {
            self.write_as_is(row)?;
        }
        self.flush()
    }

    /// Append one row exactly as given (no `finished_at` stamp), buffered: for tools that copy
    /// rows between reports, such as `report merge`, which [`flush`](Self::flush) at the end.
    pub fn write_as_is(&mut self, row: &ReportRow) -> Result<(), ReportError> {
        self.out.serialize(row).map_err(|source| ReportError::Csv {
            path: self.path.clone(),
            source,
        })
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

/// Now as the `finished_at` column writes it: RFC 3339, UTC, milliseconds.
pub fn now_rfc3339_millis() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// Parse a `finished_at` value into milliseconds since the Unix epoch (`None` if malformed).
pub fn parse_finished_at(s: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.timestamp_millis())
}

/// Streams a report's rows, one at a time (memory does not grow with the report). The header
/// is checked on open; each row's errors name the file and the line.
pub struct ReportReader {
    path: PathBuf,
    rd: ::csv::Reader<File>,
    headers: ::csv::StringRecord,
    action_col: usize,
    record: ::csv::StringRecord,
    /// Whether the file has the `finished_at` column.
    has_finished_at: bool,
}

impl fmt::Debug for ReportReader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReportReader")
            .field("path", &self.path)
            .finish()
    }
}

impl ReportReader {
    /// Open `path` and check its header has every report column.
    pub fn open(path: &Path) -> Result<Self, ReportError> {
        let file = File::open(path).map_err(|source| ReportError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        let mut rd = ::csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(file);
        let headers = rd
            .headers()
            .map_err(|source| ReportError::Csv {
                path: path.to_path_buf(),
                source,
            })?
            .clone();
        let missing: Vec<&str> = REQUIRED_COLUMNS
            .iter()
            .copied()
            .filter(|c| !headers.iter().any(|h| h == *c))
            .collect();
        if !missing.is_empty() {
            return Err(ReportError::Header {
                path: path.to_path_buf(),
                missing: missing.join(", "),
            });
        }
        let action_col = headers.iter().position(|h| h == "action").unwrap_or(0);
        let has_finished_at = headers.iter().any(|h| h == "finished_at");
        Ok(ReportReader {
            path: path.to_path_buf(),
            rd,
            headers,
            action_col,
            record: ::csv::StringRecord::new(),
            has_finished_at,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the report has the `finished_at` column (reports of older boxlifts do not).
    pub fn has_finished_at(&self) -> bool {
        self.has_finished_at
    }

    /// The next row and the line it starts on; `Ok(None)` at the end.
    pub fn next_row(&mut self) -> Result<Option<(u64, ReportRow)>, ReportError> {
        let more = self
            .rd
            .read_record(&mut self.record)
            .map_err(|source| ReportError::Csv {
                path: self.path.clone(),
                source,
            })?;
        if !more {
            return Ok(None);
        }
        let line = self.record.position().map_or(0, |p| p.line());
        let bad = |reason: String| ReportError::Row {
            path: self.path.clone(),
            line,
            reason,
        };
        // Check the action word first: serde's message would list all sixteen variants.
        match self.record.get(self.action_col) {
            None | Some("") => return Err(bad("empty action".into())),
            Some(word) => {
                word.parse::<Action>().map_err(bad)?;
            }
        }
        let row: ReportRow =
            self.record
                .deserialize(Some(&self.headers))
                .map_err(|e| match e.kind() {
                    ::csv::ErrorKind::Deserialize { err, .. } => bad(match err.field() {
                        Some(i) => format!(
                            "column {}: {}",
                            self.headers.get(i as usize).unwrap_or("?"),
                            err.kind()
                        ),
                        None => err.kind().to_string(),
                    }),
                    _ => bad(e.to_string()),
                })?;
        if !row.finished_at.is_empty() && parse_finished_at(&row.finished_at).is_none() {
            return Err(bad(format!(
                "column finished_at: {:?} is not an RFC 3339 time",
                row.finished_at
            )));
        }
        Ok(Some((line, row)))
    }
}

impl Iterator for ReportReader {
    type Item = Result<ReportRow, ReportError>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_row().transpose().map(|r| r.map(|(_, row)| row))
    }
}

/// Read a whole report into memory (for printing a small one, or tests). Big reports: stream
/// them with [`ReportReader`].
pub fn read_report(path: &Path) -> Result<Vec<ReportRow>, ReportError> {
    ReportReader::open(path)?.collect()
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
        let mut kept = row.clone();
        kept.finished_at = "2026-01-02T03:04:05.678Z".into();
        w.write(&kept).unwrap();
        // Simulate a crash: the writer is leaked, never dropped or closed.
        std::mem::forget(w);
        let back = read_report(&path).unwrap();
        assert_eq!(back.len(), 3);
        // `write` stamps an empty finished_at with now, and keeps a given one.
        for (got, want) in back.iter().zip([&row, &bad]) {
            let t = parse_finished_at(&got.finished_at).expect(&got.finished_at);
            assert!((chrono::Utc::now().timestamp_millis() - t).abs() < 600_000);
            assert!(got.finished_at.ends_with('Z') && got.finished_at.len() == 24);
            let mut got = got.clone();
            got.finished_at.clear();
            assert_eq!(&got, want);
        }
        assert_eq!(back[2], kept);
        let header = std::fs::read_to_string(&path).unwrap();
        assert!(header.starts_with(
            "path,kind,size,sha1,action,box_file_id,box_file_version_id,box_folder_id,box_sha1,as_user,attempts,bytes_sent,duration_ms,error_code,error_message,box_request_id,finished_at\n"
        ));
        assert!(header.starts_with(&(COLUMNS.join(",") + "\n")));
    }

    #[test]
    fn old_reports_without_finished_at_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.csv");
        std::fs::write(
            &path,
            "path,kind,size,sha1,action,box_file_id,box_file_version_id,box_folder_id,box_sha1,as_user,attempts,bytes_sent,duration_ms,error_code,error_message,box_request_id\n\
             a.txt,file,3,abc,uploaded,1,2,0,abc,,1,3,5,,,\n",
        )
        .unwrap();
        let rd = ReportReader::open(&path).unwrap();
        assert!(!rd.has_finished_at());
        let rows: Vec<ReportRow> = rd.collect::<Result<_, _>>().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].action(), Action::Uploaded);
        assert_eq!(rows[0].finished_at, "");
    }

    #[test]
    fn bad_reports_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let head = COLUMNS.join(",");
        let ok = "a,file,1,x,uploaded,1,2,0,x,,1,1,1,,,,2026-01-02T03:04:05.678Z";
        let cases = [
            (
                format!("{head}\n{ok}\nb,file,1,x,nope,1,2,0,x,,1,1,1,,,,\n"),
                "line 3: unknown report action \"nope\"",
            ),
            (
                format!("{head}\n{ok}\n{ok}\nb,file,1,x,,1,2,0,x,,1,1,1,,,,\n"),
                "line 4: empty action",
            ),
            (
                format!("{head}\nb,file,-1,x,failed,1,2,0,x,,1,1,1,,,,\n"),
                "line 2: column size:",
            ),
            (
                format!("{head}\nb,file,1,x,failed,1,2,0,x,,1,1,1,,,,yesterday\n"),
                "line 2: column finished_at: \"yesterday\" is not an RFC 3339 time",
            ),
            (
                "path,kind,size,mtime,sha1,status,detail\na,file,1,t,x,ok,\n".to_string(),
                "line 1 is not a boxlift report header: missing column(s) action, box_file_id",
            ),
            (String::new(), "missing column(s) path, kind"),
        ];
        for (text, want) in cases {
            std::fs::write(&path, &text).unwrap();
            let err = read_report(&path).unwrap_err().to_string();
            assert!(
                err.contains(want) && err.contains("r.csv"),
                "{err}\nwanted: {want}"
            );
        }
        let err = read_report(&dir.path().join("missing.csv"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing.csv"), "{err}");
    }

    #[test]
    fn action_words_round_trip() {
        for a in Action::ALL {
            assert_eq!(a.as_str().parse::<Action>().unwrap(), a);
        }
        assert!("nope".parse::<Action>().is_err());
    }
}
