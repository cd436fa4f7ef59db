//! `boxlift report merge`: many reports (one per shard, or per run) into one CSV with one row
//! per path, and a summary across the inputs.
//!
//! Two streaming passes, so memory does not hold the rows: the first reads every input, checks
//! it, and keeps 24 bytes per row (a 128-bit hash of the path and the row's ordinal; about
//! 240 MB for 10 million rows). Sorting those finds the paths that appear more than once. The
//! second pass copies every row except the superseded ones into a temporary file beside the
//! output, renamed into place at the end, so a failed merge never leaves a half-written output.
//!
//! A path in more than one row (overlapping shards, a report given twice, a re-run's report
//! beside the first run's) is a conflict. The path's **last** row wins: the one from the later
//! input on the command line, or the later line within one input. Give the reports oldest
//! first and the merged report says what happened last to each file.
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sha1::{Digest, Sha1};

use super::summary::{Summary, human_bytes};
use super::{ReportError, ReportReader, ReportWriter};
use crate::exit::ExitCode;
use crate::fsutil::AtomicFile;
use crate::model::ReportRow;

/// How many superseded rows are named on stderr (the count covers all of them).
pub const CONFLICT_EXAMPLES: usize = 5;

/// Why a merge could not run.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// An input could not be read, or the output written.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// The output is one of the inputs: writing it would destroy an input.
    #[error("output {path} is also an input; write the merged report to a new file")]
    OutputIsInput {
        /// The output path.
        path: PathBuf,
    },
    /// An input's row count changed between the two passes (something is still writing it).
    #[error(
        "report {path} changed while being merged ({before} rows, then {after}); is a run still writing it?"
    )]
    Changed {
        /// The input.
        path: PathBuf,
        /// Rows in the first pass.
        before: u64,
        /// Rows in the second pass.
        after: u64,
    },
    /// The temporary output could not be created, or moved into place.
    #[error("output {path}: {source}")]
    Rename {
        /// The output path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// What one input held (all its rows, before de-duplication).
#[derive(Debug, Clone, Default)]
pub struct InputStats {
    /// The input report.
    pub path: PathBuf,
    /// Its rows.
    pub rows: u64,
    /// Its `failed` and `invalid` rows.
    pub failures: u64,
    /// Bytes its run sent to Box.
    pub bytes_sent: u64,
    /// Its rows left out of the merge because a later row has the same path.
    pub superseded: u64,
}

/// One superseded row, named on stderr as an example.
#[derive(Debug, Clone)]
pub struct Superseded {
    /// The row's path.
    pub path: String,
    /// The input it was in.
    pub input: PathBuf,
    /// Its line there.
    pub line: u64,
    /// The input whose row was kept instead.
    pub kept_from: PathBuf,
}

/// The result of a merge.
#[derive(Debug, Clone, Default)]
pub struct MergeOutcome {
    /// Per input, in command-line order.
    pub inputs: Vec<InputStats>,
    /// Counts per action of the merged rows (one per path).
    pub summary: Summary,
    /// Paths that appear in more than one row.
    pub conflict_paths: u64,
    /// Rows left out because a later row has the same path.
    pub superseded_rows: u64,
    /// The first [`CONFLICT_EXAMPLES`] superseded rows.
    pub examples: Vec<Superseded>,
    /// Earliest and latest `finished_at` of the merged rows, in ms since the epoch.
    pub finished_span: Option<(i64, i64)>,
}

impl MergeOutcome {
    /// 0 when every merged row succeeded and no path was in two rows; 1 otherwise.
    pub fn exit_code(&self) -> ExitCode {
        let conflicts = if self.conflict_paths > 0 {
            ExitCode::SomeFailed
        } else {
            ExitCode::Success
        };
        self.summary.exit_code().merge(conflicts)
    }

    /// The summary across inputs (for standard output): a line per input, then the merged
    /// rows per action and the throughput over the span of `finished_at`.
    pub fn render(&self) -> String {
        let mut s = String::new();
        let width = self
            .inputs
            .iter()
            .map(|i| i.path.display().to_string().chars().count())
            .chain(["all inputs".len()])
            .max()
            .unwrap_or(10);
        let _ = writeln!(
            s,
            "{:<width$} {:>10} {:>8} {:>12} {:>10}",
            "input", "rows", "fail/inv", "sent", "superseded"
        );
        for i in &self.inputs {
            let _ = writeln!(
                s,
                "{:<width$} {:>10} {:>8} {:>12} {:>10}",
                i.path.display().to_string(),
                i.rows,
                i.failures,
                human_bytes(i.bytes_sent),
                i.superseded
            );
        }
        let sum = |f: fn(&InputStats) -> u64| self.inputs.iter().map(f).sum::<u64>();
        let _ = writeln!(
            s,
            "{:<width$} {:>10} {:>8} {:>12} {:>10}",
            "all inputs",
            sum(|i| i.rows),
            sum(|i| i.failures),
            human_bytes(sum(|i| i.bytes_sent)),
            sum(|i| i.superseded)
        );
        let _ = writeln!(s);
        let _ = writeln!(
            s,
            "merged report: {} rows, one per path",
            self.summary.total()
        );
        s.push_str(&self.summary.render_actions());
        match self.finished_span {
            Some((first, last)) if last > first => {
                let secs = (last - first) as f64 / 1000.0;
                let _ = writeln!(
                    s,
                    "sent {} in {:.1}s from the first to the last finished row ({}/s), {} failed, {} invalid",
                    human_bytes(self.summary.bytes_sent),
                    secs,
                    human_bytes((self.summary.bytes_sent as f64 / secs) as u64),
                    self.summary.failed(),
                    self.summary.invalid()
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "sent {}, {} failed, {} invalid",
                    human_bytes(self.summary.bytes_sent),
                    self.summary.failed(),
                    self.summary.invalid()
                );
            }
        }
        s
    }

    /// The conflict warning for stderr (empty when there is none).
    pub fn render_conflicts(&self) -> String {
        let mut s = String::new();
        if self.conflict_paths == 0 {
            return s;
        }
        let _ = writeln!(
            s,
            "boxlift: {} path(s) appear in more than one row; kept each path's last row (later \
             input, or later line) and left out {} row(s), e.g.:",
            self.conflict_paths, self.superseded_rows
        );
        for e in &self.examples {
            let _ = writeln!(
                s,
                "  {}: {} line {} superseded by the row in {}",
                e.path,
                e.input.display(),
                e.line,
                e.kept_from.display()
            );
        }
        s
    }
}

/// 128 bits of the path's SHA-1: a collision among 10^10 paths has odds under 10^-18.
fn path_key(path: &str) -> [u64; 2] {
    let d = Sha1::digest(path.as_bytes());
    let mut a = [0u8; 8];
    let mut b = [0u8; 8];
    a.copy_from_slice(&d[..8]);
    b.copy_from_slice(&d[8..16]);
    [u64::from_le_bytes(a), u64::from_le_bytes(b)]
}

/// Merge `inputs` into `output`; see the module doc for the conflict rule.
pub fn merge(inputs: &[PathBuf], output: &Path) -> Result<MergeOutcome, MergeError> {
    check_output_is_new(inputs, output)?;
    let mut out = MergeOutcome {
        inputs: inputs
            .iter()
            .map(|p| InputStats {
                path: p.clone(),
                ..Default::default()
            })
            .collect(),
        ..Default::default()
    };

    // Pass 1: check every input, keep (path hash, ordinal) per row.
    let mut keys: Vec<[u64; 3]> = Vec::new();
    let mut ordinal = 0u64;
    for stats in &mut out.inputs {
        let mut rd = ReportReader::open(&stats.path)?;
        while let Some((_, row)) = rd.next_row()? {
            let [a, b] = path_key(&row.path);
            keys.push([a, b, ordinal]);
            ordinal += 1;
            stats.rows += 1;
            stats.failures += u64::from(row.action().is_failure());
            stats.bytes_sent += row.bytes_sent;
        }
    }
    // Losers: every row of a path but its last, with the ordinal of the row that wins.
    keys.sort_unstable();
    let mut losers: Vec<(u64, u64)> = Vec::new();
    for group in keys.chunk_by(|x, y| x[..2] == y[..2]) {
        if let Some((winner, rest)) = group.split_last()
            && !rest.is_empty()
        {
            out.conflict_paths += 1;
            losers.extend(rest.iter().map(|k| (k[2], winner[2])));
        }
    }
    drop(keys);
    losers.sort_unstable();
    out.superseded_rows = losers.len() as u64;

    // Which input an ordinal belongs to: cumulative row counts.
    let ends: Vec<u64> = out
        .inputs
        .iter()
        .scan(0u64, |acc, i| {
            *acc += i.rows;
            Some(*acc)
        })
        .collect();
    let input_of = |ord: u64| ends.partition_point(|&end| end <= ord);

    // Pass 2: copy the winning rows into a temporary file (removed if this fails), then move
    // it into place.
    let rename_err = |source| MergeError::Rename {
        path: output.to_path_buf(),
        source,
    };
    let file = AtomicFile::create(output).map_err(rename_err)?;
    copy_winners(&mut out, &losers, &input_of, file.temp_path())?;
    file.commit().map_err(rename_err)?;
    Ok(out)
}

fn copy_winners(
    out: &mut MergeOutcome,
    losers: &[(u64, u64)],
    input_of: &dyn Fn(u64) -> usize,
    tmp: &Path,
) -> Result<(), MergeError> {
    let mut writer = ReportWriter::create(tmp)?;
    let mut next_loser = losers.iter().peekable();
    let mut ordinal = 0u64;
    let paths: Vec<PathBuf> = out.inputs.iter().map(|i| i.path.clone()).collect();
    for (idx, path) in paths.iter().enumerate() {
        let mut rd = ReportReader::open(path)?;
        let mut rows = 0u64;
        while let Some((line, row)) = rd.next_row()? {
            rows += 1;
            let ord = ordinal;
            ordinal += 1;
            if let Some(&&(loser, winner)) = next_loser.peek()
                && loser == ord
            {
                next_loser.next();
                out.inputs[idx].superseded += 1;
                if out.examples.len() < CONFLICT_EXAMPLES {
                    out.examples.push(Superseded {
                        path: row.path,
                        input: path.clone(),
                        line,
                        kept_from: paths.get(input_of(winner)).cloned().unwrap_or_default(),
                    });
                }
                continue;
            }
            add_merged(out, &row);
            writer.write_as_is(&row)?;
        }
        let before = out.inputs[idx].rows;
        if rows != before {
            return Err(MergeError::Changed {
                path: path.clone(),
                before,
                after: rows,
            });
        }
    }
    writer.flush()?;
    Ok(())
}

fn add_merged(out: &mut MergeOutcome, row: &ReportRow) {
    out.summary.add(row);
    if let Some(t) = row.finished_at.map(|t| t.timestamp_millis()) {
        out.finished_span = Some(match out.finished_span {
            Some((a, b)) => (a.min(t), b.max(t)),
            None => (t, t),
        });
    }
}

fn check_output_is_new(inputs: &[PathBuf], output: &Path) -> Result<(), MergeError> {
    let Ok(out) = std::fs::canonicalize(output) else {
        return Ok(()); // does not exist yet, so it is no input
    };
    if inputs
        .iter()
        .any(|i| std::fs::canonicalize(i).is_ok_and(|i| i == out))
    {
        return Err(MergeError::OutputIsInput {
            path: output.to_path_buf(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Kind;
    use crate::model::Action;
    use crate::report::read_report;

    fn report(dir: &Path, name: &str, rows: &[(&str, Action, u64)]) -> PathBuf {
        let p = dir.join(name);
        let mut w = ReportWriter::create(&p).unwrap();
        for (path, action, sent) in rows {
            let mut r = ReportRow::new(path, Kind::File, *sent, "x").with(*action);
            r.bytes_sent = *sent;
            w.write(&r).unwrap();
        }
        p
    }

    #[test]
    fn last_row_of_a_path_wins_and_counts_are_per_input() {
        let dir = tempfile::tempdir().unwrap();
        let a = report(
            dir.path(),
            "a.csv",
            &[("x", Action::Failed, 0), ("y", Action::Uploaded, 5)],
        );
        let b = report(
            dir.path(),
            "b.csv",
            &[("x", Action::Uploaded, 7), ("z", Action::Uploaded, 1)],
        );
        let c = report(dir.path(), "c.csv", &[("x", Action::SkippedDone, 0)]);
        let all = dir.path().join("all.csv");
        let o = merge(&[a, b, c], &all).unwrap();
        let rows = read_report(&all).unwrap();
        let got: Vec<(&str, Action)> = rows.iter().map(|r| (r.path.as_str(), r.action())).collect();
        assert_eq!(
            got,
            [
                ("y", Action::Uploaded),
                ("z", Action::Uploaded),
                ("x", Action::SkippedDone)
            ]
        );
        assert_eq!(o.conflict_paths, 1);
        assert_eq!(o.superseded_rows, 2);
        assert_eq!(
            o.inputs
                .iter()
                .map(|i| (i.rows, i.failures, i.bytes_sent, i.superseded))
                .collect::<Vec<_>>(),
            [(2, 1, 5, 1), (2, 0, 8, 1), (1, 0, 0, 0)]
        );
        assert_eq!(o.examples.len(), 2);
        assert!(o.examples[0].kept_from.ends_with("c.csv"));
        assert_eq!(o.examples[1].line, 2);
        assert_eq!(o.exit_code(), ExitCode::SomeFailed);
        assert!(
            o.render_conflicts()
                .contains("a.csv line 2 superseded by the row in")
        );
        assert!(!dir.path().join("all.csv.partial").exists());
    }

    #[test]
    fn output_may_not_be_an_input() {
        let dir = tempfile::tempdir().unwrap();
        let a = report(dir.path(), "a.csv", &[("x", Action::Uploaded, 1)]);
        let err = merge(std::slice::from_ref(&a), &a).unwrap_err();
        assert!(matches!(err, MergeError::OutputIsInput { .. }), "{err}");
        assert_eq!(read_report(&a).unwrap().len(), 1);
    }
}
