//! `ReportReader`: streams a report's rows back (merge, html, verify, tests), checking the
//! header and naming the file and line of any bad row.
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::ReportError;
use crate::model::row::COLUMNS;
use crate::model::{Action, ReportRow};

/// Columns a file must have to be read as a report (`finished_at` came later: optional).
const REQUIRED_COLUMNS: &[&str] = COLUMNS.split_last().expect("COLUMNS is not empty").1;

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
    use crate::manifest::Kind;
    use crate::report::ReportWriter;

    #[test]
    fn rows_survive_without_close_and_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub/report.csv");
        let mut w = ReportWriter::create(&path).unwrap();
        let mut row = ReportRow::new("a/b, \"c\".txt", Kind::File, 3, "abc").with(Action::Uploaded);
        row.box_file_id = "12".into();
        row.attempts = 2;
        w.write(&row).unwrap();
        let bad = ReportRow::new("x", Kind::File, 0, "")
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
}
