//! The journal's record of runs, for `boxlift status`: each run's start, end, exit code, report
//! and identities, what it planned and finished (files and bytes), and the rows still failed or
//! invalid. Written by the one [`StateWriter`] (counts kept in memory, flushed with each
//! commit), read by [`super::status`] on a read-only connection while a run holds the lock.
use rusqlite::params;

use super::{StateError, StateWriter, sql_err};
use crate::manifest::Kind;
use crate::model::{Action, Event};

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS runs(
    id INTEGER PRIMARY KEY, started_at TEXT NOT NULL, ended_at TEXT, exit_code INTEGER,
    src TEXT NOT NULL, report TEXT NOT NULL, identities TEXT NOT NULL, pid INTEGER NOT NULL,
    planned_files INTEGER NOT NULL DEFAULT 0, planned_bytes INTEGER NOT NULL DEFAULT 0,
    scan_finished INTEGER NOT NULL DEFAULT 0, finished_files INTEGER NOT NULL DEFAULT 0,
    done_files INTEGER NOT NULL DEFAULT 0, sent_bytes INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS problems(
    path TEXT PRIMARY KEY, action TEXT NOT NULL, error_code TEXT NOT NULL, size INTEGER NOT NULL,
    run INTEGER NOT NULL);
";

/// The current run's counts, flushed to its `runs` row with each commit.
#[derive(Debug, Default, Clone)]
pub(super) struct RunTally {
    id: i64,
    planned_files: u64,
    planned_bytes: u64,
    scan_finished: bool,
    /// Files with a finished row, whatever the outcome.
    finished_files: u64,
    /// Files done by this run (uploaded, new version, copied...; not `skipped_done`).
    done_files: u64,
    sent_bytes: u64,
    dirty: bool,
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

impl StateWriter {
    /// Record the start of a run (its source tree, report and `As-User` identities; none is the
    /// service account): `boxlift status` and `report html` read it. Until this is called
    /// nothing of the run is tallied.
    pub fn begin_run(
        &mut self,
        src: &str,
        report: &str,
        identities: &[String],
    ) -> Result<(), StateError> {
        self.commit()?;
        let p = &self.path;
        self.conn.execute_batch(SCHEMA).map_err(sql_err(p))?;
        self.conn
            .execute(
                "INSERT INTO runs(started_at, src, report, identities, pid) VALUES(?1,?2,?3,?4,?5)",
                params![now(), src, report, identities.join(","), std::process::id()],
            )
            .map_err(sql_err(p))?;
        self.run = Some(RunTally {
            id: self.conn.last_insert_rowid(),
            ..RunTally::default()
        });
        Ok(())
    }

    /// Count what `event` says for the current run; a finished failed or invalid row is kept
    /// in `problems` until a later row for its path succeeds. Called inside the open batch.
    pub(super) fn tally(&mut self, event: &Event) -> Result<(), StateError> {
        let Some(run) = self.run.as_mut() else {
            return Ok(());
        };
        match event {
            Event::Planned { bytes, kind } if *kind != Kind::Dir => {
                run.planned_files += 1;
                run.planned_bytes += bytes;
            }
            Event::ScanFinished => run.scan_finished = true,
            Event::FileDone(row) if row.kind != Kind::Dir => {
                run.finished_files += 1;
                let action = row.action();
                if matches!(
                    action,
                    Action::Uploaded | Action::NewVersion | Action::Renamed | Action::Copied
                ) {
                    run.done_files += 1;
                    run.sent_bytes += row.size;
                }
                let (id, p) = (run.id, &self.path);
                if matches!(action, Action::Failed | Action::Invalid) {
                    self.conn
                        .prepare_cached(
                            "INSERT OR REPLACE INTO problems(path, action, error_code, size, run)
                             VALUES(?1,?2,?3,?4,?5)",
                        )
                        .and_then(|mut st| {
                            st.execute(params![
                                row.path,
                                action.as_str(),
                                row.error_code,
                                row.size as i64,
                                id
                            ])
                        })
                        .map_err(sql_err(p))?;
                } else {
                    self.conn
                        .prepare_cached("DELETE FROM problems WHERE path=?1")
                        .and_then(|mut st| st.execute(params![row.path]))
                        .map_err(sql_err(p))?;
                }
            }
            _ => return Ok(()),
        }
        if let Some(run) = self.run.as_mut() {
            run.dirty = true;
        }
        Ok(())
    }

    /// Write the current run's counts to its row (with each commit, and at the end).
    pub(super) fn flush_run(&mut self, ended: bool) -> Result<(), StateError> {
        let Some(run) = self.run.as_mut().filter(|r| r.dirty || ended) else {
            return Ok(());
        };
        run.dirty = false;
        self.conn
            .prepare_cached(
                "UPDATE runs SET planned_files=?2, planned_bytes=?3, scan_finished=?4,
                 finished_files=?5, done_files=?6, sent_bytes=?7,
                 ended_at=CASE WHEN ?8 THEN ?9 ELSE ended_at END WHERE id=?1",
            )
            .and_then(|mut st| {
                st.execute(params![
                    run.id,
                    run.planned_files as i64,
                    run.planned_bytes as i64,
                    run.scan_finished,
                    run.finished_files as i64,
                    run.done_files as i64,
                    run.sent_bytes as i64,
                    ended,
                    now(),
                ])
            })
            .map_err(sql_err(&self.path))?;
        Ok(())
    }
}

/// Record the exit code of the journal's latest run, once its writer is gone (the code is known
/// only after the summary), if that run is this process's (a run that failed before it began
/// must not stamp an earlier, killed one). A journal without runs is left alone.
pub fn record_exit(dir: &std::path::Path, code: i32) -> Result<(), StateError> {
    let path = dir.join(super::DB_FILE);
    if !path.exists() {
        return Ok(());
    }
    let conn = rusqlite::Connection::open(&path).map_err(sql_err(&path))?;
    conn.busy_timeout(std::time::Duration::from_secs(30))
        .map_err(sql_err(&path))?;
    let has_runs: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='runs'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)
        .map_err(sql_err(&path))?;
    if has_runs {
        conn.execute(
            "UPDATE runs SET exit_code=?1, ended_at=coalesce(ended_at, ?2)
             WHERE id=(SELECT max(id) FROM runs) AND exit_code IS NULL AND pid=?3",
            params![code, now(), std::process::id()],
        )
        .map_err(sql_err(&path))?;
    }
    Ok(())
}
