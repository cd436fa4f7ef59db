//! The end-of-run summary: rows and bytes per action, throughput, and a compact table of the
//! report for small runs.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use crate::exit::ExitCode;
use crate::manifest::Kind;
use crate::model::{Action, ReportRow};

/// The counts of a run for its JSON summary (`--json`): field names are documented in
/// docs/report.md ("JSON summary") and stay stable.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Counts {
    /// Report rows (files and directories).
    pub rows: u64,
    /// File rows (directories left out).
    pub files: u64,
    /// Rows whose upload failed.
    pub failed: u64,
    /// Rows Box would refuse (not sent).
    pub invalid: u64,
    /// Rows the scan left out (symlinks, special files, unreadable).
    pub skipped: u64,
    /// Rows where Box holds something boxlift will not replace.
    pub conflict: u64,
    /// Bytes sent to Box in this run.
    pub bytes_sent: u64,
    /// Rows per action (report words: `uploaded`, `skipped_done`, ...), absent ones left out.
    pub actions: BTreeMap<&'static str, u64>,
}

/// Counts per action, built row by row as the report is written.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    rows: BTreeMap<Action, (u64, u64)>,
    files: u64,
    /// Bytes sent to Box in this run (retries and parts count).
    pub bytes_sent: u64,
}

impl Summary {
    /// Count one finished row.
    pub fn add(&mut self, row: &ReportRow) {
        let e = self.rows.entry(row.action()).or_default();
        e.0 += 1;
        e.1 += row.size;
        if row.kind != Kind::Dir {
            self.files += 1;
        }
        self.bytes_sent += row.bytes_sent;
    }

    /// Rows with this action.
    pub fn count(&self, action: Action) -> u64 {
        self.rows.get(&action).map_or(0, |e| e.0)
    }

    /// All rows.
    pub fn total(&self) -> u64 {
        self.rows.values().map(|e| e.0).sum()
    }

    /// Rows that make the exit status 1 ([`Action::is_failure`]: `failed`, `invalid`,
    /// `conflict`), each also counted on its own ([`Summary::failed`], ...).
    pub fn failures(&self) -> u64 {
        self.rows
            .iter()
            .filter(|(a, _)| a.is_failure())
            .map(|(_, e)| e.0)
            .sum()
    }

    /// Rows whose upload failed (`failed` only: invalid and skipped rows have their own counts).
    pub fn failed(&self) -> u64 {
        self.count(Action::Failed)
    }

    /// Rows Box would refuse (`invalid`): not sent.
    pub fn invalid(&self) -> u64 {
        self.count(Action::Invalid)
    }

    /// Rows the scan left out (`skipped`: symlinks, special files, unreadable entries).
    pub fn skipped(&self) -> u64 {
        self.count(Action::Skipped)
    }

    /// File rows (directories' rows left out).
    pub fn files(&self) -> u64 {
        self.files
    }

    /// The exit-code rule: 1 when some rows are `failed`, `invalid` or `conflict` (the file is
    /// not where the user wants it); `skipped` rows (symlinks, special files) alone leave it 0.
    pub fn exit_code(&self) -> ExitCode {
        if self.failed() + self.invalid() + self.count(Action::Conflict) > 0 {
            ExitCode::SomeFailed
        } else {
            ExitCode::Success
        }
    }

    /// The counts for the JSON summary.
    pub fn counts(&self) -> Counts {
        Counts {
            rows: self.total(),
            files: self.files,
            failed: self.failed(),
            invalid: self.invalid(),
            skipped: self.skipped(),
            conflict: self.count(Action::Conflict),
            bytes_sent: self.bytes_sent,
            actions: self.by_action().map(|(a, n, _)| (a.as_str(), n)).collect(),
        }
    }

    /// Rows and bytes (local sizes) per action, in [`Action::ALL`] order, skipping absent ones.
    pub fn by_action(&self) -> impl Iterator<Item = (Action, u64, u64)> + '_ {
        Action::ALL
            .into_iter()
            .filter_map(|a| self.rows.get(&a).map(|&(n, b)| (a, n, b)))
    }

    /// Local bytes of all rows.
    pub fn total_bytes(&self) -> u64 {
        self.rows.values().map(|e| e.1).sum()
    }

    /// The summary table, e.g. for stderr at the end of a run.
    pub fn render(&self, elapsed: Duration) -> String {
        let mut s = self.render_actions();
        let secs = elapsed.as_secs_f64().max(1e-3);
        let _ = write!(
            s,
            "{} files; sent {} in {:.1}s ({}/s); {} failed, {} invalid, {} skipped",
            self.files,
            human_bytes(self.bytes_sent),
            secs,
            human_bytes((self.bytes_sent as f64 / secs) as u64),
            self.failed(),
            self.invalid(),
            self.skipped()
        );
        let conflicts = self.count(Action::Conflict);
        if conflicts > 0 {
            let _ = write!(s, ", {conflicts} conflict");
        }
        s.push('\n');
        s
    }

    /// The table of rows and local bytes per action, with a total line.
    pub fn render_actions(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "{:<18} {:>10} {:>16}", "action", "rows", "bytes");
        for (a, n, b) in self.by_action() {
            let _ = writeln!(s, "{:<18} {:>10} {:>16}", a.as_str(), n, human_bytes(b));
        }
        let _ = writeln!(
            s,
            "{:<18} {:>10} {:>16}",
            "total",
            self.total(),
            human_bytes(self.total_bytes())
        );
        s
    }
}

/// `1.5 MB`-style sizes (decimal units, as Box shows them).
pub fn human_bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut v = n as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < UNITS.len() {
        v /= 1000.0;
        u += 1;
    }
    if u == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// A compact, aligned table of report rows (for small `--emulator` runs).
pub fn render_rows(rows: &[ReportRow]) -> String {
    let headers = ["path", "action", "size", "box_file_id", "box_sha1", "error"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|r| {
            let id = if r.kind == Kind::Dir {
                r.box_folder_id.clone()
            } else {
                r.box_file_id.clone()
            };
            let err = if r.error_code.is_empty() {
                String::new()
            } else {
                format!("{}: {}", r.error_code, r.error_message)
            };
            let path = if r.kind == Kind::Dir {
                format!("{}/", r.path)
            } else {
                r.path.clone()
            };
            [
                path,
                r.action().to_string(),
                r.size.to_string(),
                id,
                r.box_sha1.chars().take(12).collect(),
                err,
            ]
        })
        .collect();
    let mut width = headers.map(|h| h.chars().count());
    for c in &cells {
        for (w, v) in width.iter_mut().zip(c) {
            *w = (*w).max(v.chars().count());
        }
    }
    let mut s = String::new();
    let mut line = |vals: &[String]| {
        let l: Vec<String> = vals
            .iter()
            .zip(width)
            .map(|(v, w)| format!("{v:<w$}"))
            .collect();
        let _ = writeln!(s, "{}", l.join("  ").trim_end());
    };
    line(&headers.map(String::from));
    for c in &cells {
        line(c);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moved_and_deleted_rows_are_counted_and_listed() {
        let mut s = Summary::default();
        let mut moved = ReportRow::new("b/x", Kind::File, 10, "x").with(Action::Moved);
        moved.old_path = "a/x".into();
        s.add(&moved);
        s.add(&ReportRow::new("c", Kind::File, 5, "y").with(Action::Deleted));
        s.add(&ReportRow::new("d", Kind::File, 5, "y").with(Action::WouldDelete));
        let c = s.counts();
        assert_eq!(c.actions.get("moved"), Some(&1));
        assert_eq!(c.actions.get("deleted"), Some(&1));
        assert_eq!(c.actions.get("would_delete"), Some(&1));
        assert_eq!(s.exit_code(), ExitCode::Success);
        let text = s.render_actions();
        assert!(text.contains("moved") && text.contains("deleted"), "{text}");
    }

    #[test]
    fn failures_set_the_exit_code() {
        let mut s = Summary::default();
        s.add(&ReportRow::new("a", Kind::File, 10, "x").with(Action::Uploaded));
        s.add(&ReportRow::new("b", Kind::File, 5, "y").with(Action::SkippedExists));
        assert_eq!(s.exit_code(), ExitCode::Success);
        s.add(&ReportRow::new("d", Kind::Dir, 0, "").with(Action::FolderCreated));
        s.add(&ReportRow::new("e", Kind::File, 0, "").with(Action::Skipped));
        assert_eq!(
            s.exit_code(),
            ExitCode::Success,
            "skipped rows alone exit 0"
        );
        s.add(&ReportRow::new("c", Kind::File, 1, "").with(Action::Invalid));
        assert_eq!(s.exit_code(), ExitCode::SomeFailed);
        assert_eq!(s.count(Action::Uploaded), 1);
        assert_eq!(s.total(), 5);
        assert_eq!(
            (s.files(), s.failed(), s.invalid(), s.skipped()),
            (4, 0, 1, 1)
        );
        let t = s.render(Duration::from_secs(2));
        assert!(t.contains("skipped_exists"), "{t}");
        assert!(t.contains("4 files;"), "{t}");
        assert!(t.contains("0 failed, 1 invalid, 1 skipped"), "{t}");
        let mut f = Summary::default();
        f.add(&ReportRow::new("x", Kind::File, 1, "").with(Action::Failed));
        assert_eq!(f.exit_code(), ExitCode::SomeFailed);
    }

    #[test]
    fn human_bytes_uses_decimal_units() {
        assert_eq!(human_bytes(999), "999 B");
        assert_eq!(human_bytes(1_500_000), "1.5 MB");
    }

    #[test]
    fn table_aligns_columns() {
        let rows = vec![
            ReportRow::new("long/path/name.txt", Kind::File, 3, "abc").with(Action::Uploaded),
            ReportRow::new("d", Kind::Dir, 0, "").with(Action::FolderCreated),
        ];
        let t = render_rows(&rows);
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(lines.len(), 3);
        let col = lines[0].find("action").unwrap();
        assert_eq!(&lines[1][col..col + 8], "uploaded");
        assert!(lines[2].starts_with("d/ "));
    }
}
