//! `ReportReader`: streams a report's rows back (merge, html, verify, tests), checking the
//! header and naming the file and line of any bad row.
use std::fmt;
use std::fs::File;
use std::path::{Path, PathBuf};

use super::ReportError;
#[cfg(test)]
use crate::model::row::COLUMNS;
use crate::model::row::REQUIRED_COLUMNS;
use crate::model::{Action, ReportRow};

/// Streams a report's rows, one at a time (memory does not grow with the report). The header
/// is checked on open; each row's errors name the file and the line.
pub struct ReportReader {
    path: PathBuf,
    rd: ::csv::Reader<File>,
    headers: ::csv::StringRecord,
    action_col: usize,
    record: ::csv::StringRecord,
    /// The `finished_at` column, if the file has it.
    finished_at_col: Option<usize>,
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
        let finished_at_col = headers.iter().position(|h| h == "finished_at");
        Ok(ReportReader {
            path: path.to_path_buf(),
            rd,
            headers,
            action_col,
            record: ::csv::StringRecord::new(),
            finished_at_col,
        })
    }

    /// The file being read.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the report has the `finished_at` column (reports of older boxlifts do not).
    pub fn has_finished_at(&self) -> bool {
        self.finished_at_col.is_some()
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
        // And the time: serde's error for it would not name the column.
        if let Some(i) = self.finished_at_col
            && let Some(cell) = self.record.get(i).filter(|c| !c.is_empty())
            && chrono::DateTime::parse_from_rfc3339(cell).is_err()
        {
            return Err(bad(format!(
                "column finished_at: {cell:?} is not an RFC 3339 time"
            )));
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
        kept.finished_at = Some("2026-01-02T03:04:05.678Z".parse().unwrap());
        w.write(&kept).unwrap();
        // Simulate a crash: the writer is leaked, never dropped or closed.
        std::mem::forget(w);
        let back = read_report(&path).unwrap();
        assert_eq!(back.len(), 3);
        // `write` stamps an empty finished_at with now, and keeps a given one.
        for (got, want) in back.iter().zip([&row, &bad]) {
            let t = got.finished_at.expect("stamped").timestamp_millis();
            assert!((chrono::Utc::now().timestamp_millis() - t).abs() < 600_000);
            let mut got = got.clone();
            got.finished_at = None;
            assert_eq!(&got, want);
        }
        assert_eq!(back[2], kept);
        // The cells: RFC 3339 UTC with milliseconds.
        let text = std::fs::read_to_string(&path).unwrap();
        let cells: Vec<&str> = text
            .lines()
            .skip(1)
            .map(|l| l.rsplit(',').nth(2).unwrap())
            .collect();
        assert!(
            cells.iter().all(|c| c.ends_with('Z') && c.len() == 24),
            "{cells:?}"
        );
        assert_eq!(cells[2], "2026-01-02T03:04:05.678Z");
        let header = std::fs::read_to_string(&path).unwrap();
        assert!(header.starts_with(
            "path,kind,size,sha1,action,box_file_id,box_file_version_id,box_folder_id,box_sha1,as_user,attempts,bytes_sent,duration_ms,error_code,error_message,box_request_id,finished_at,queued_ms,old_path\n"
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
        assert_eq!(rows[0].finished_at, None);
    }

    #[test]
    fn moved_rows_keep_old_path_and_reports_without_it_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let mut w = ReportWriter::create(&path).unwrap();
        let mut row = ReportRow::new("b/x", Kind::File, 1, "h").with(Action::Moved);
        row.old_path = "a/x".into();
        w.write(&row).unwrap();
        w.write(&ReportRow::new("c", Kind::File, 1, "h").with(Action::Deleted))
            .unwrap();
        drop(w);
        let back = read_report(&path).unwrap();
        assert_eq!(back[0].old_path, "a/x");
        assert_eq!(back[0].action(), Action::Moved);
        assert_eq!(back[1].action(), Action::Deleted);
        // A report of the boxlift before `old_path`: reads, with it empty.
        std::fs::write(
            &path,
            "path,kind,size,sha1,action,box_file_id,box_file_version_id,box_folder_id,box_sha1,as_user,attempts,bytes_sent,duration_ms,error_code,error_message,box_request_id,finished_at\n\
             a.txt,file,3,abc,uploaded,1,2,0,abc,,1,3,5,,,,2026-01-02T03:04:05.678Z\n",
        )
        .unwrap();
        let rows = read_report(&path).unwrap();
        assert_eq!(rows[0].old_path, "");
        assert_eq!(rows[0].action(), Action::Uploaded);
    }

    #[test]
    fn reports_without_queued_ms_read_with_zero_queued() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("before-queued.csv");
        std::fs::write(
            &path,
            "path,kind,size,sha1,action,box_file_id,box_file_version_id,box_folder_id,box_sha1,as_user,attempts,bytes_sent,duration_ms,error_code,error_message,box_request_id,finished_at\n\
             a.txt,file,3,abc,uploaded,1,2,0,abc,,1,3,5,,,,2026-01-02T03:04:05.678Z\n",
        )
        .unwrap();
        let rows = read_report(&path).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!((rows[0].duration_ms, rows[0].queued_ms), (5, 0));
        assert!(rows[0].finished_at.is_some());
    }

    #[test]
    fn bad_reports_name_the_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        let head = COLUMNS.join(",");
        let ok = "a,file,1,x,uploaded,1,2,0,x,,1,1,1,,,,2026-01-02T03:04:05.678Z,0,";
        let cases = [
            (
                format!("{head}\n{ok}\nb,file,1,x,nope,1,2,0,x,,1,1,1,,,,,0,\n"),
                "line 3: unknown report action \"nope\"",
            ),
            (
                format!("{head}\n{ok}\n{ok}\nb,file,1,x,,1,2,0,x,,1,1,1,,,,,0,\n"),
                "line 4: empty action",
            ),
            (
                format!("{head}\nb,file,-1,x,failed,1,2,0,x,,1,1,1,,,,,0,\n"),
                "line 2: column size:",
            ),
            (
                format!("{head}\nb,file,1,x,failed,1,2,0,x,,1,1,1,,,,yesterday,0,\n"),
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
