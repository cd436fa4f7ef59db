//! Read-only queries of a journal for the operator: [`status`] (how far the job is) and
//! [`export`] (every finished file with its Box ids). They open the database read-only, take no
//! lock and write nothing, so they are safe while a run holds the journal (WAL readers see the
//! last commit, at most a batch — 200 ms — behind the run).
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension};
use serde::Serialize;

use super::{DB_FILE, StateError, open, sql_err};

/// What a journal says about the job.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalStatus {
    /// The journal's database file.
    pub journal: PathBuf,
    /// The Box folder id the journal migrates into.
    pub dest: Option<String>,
    /// Files finished (uploaded, new version, copied, found in Box) and their bytes.
    pub done_files: u64,
    /// Bytes of the finished files.
    pub done_bytes: u64,
    /// Files whose last row failed (retried by the next run).
    pub failed: u64,
    /// Files whose last row was invalid (never sent until fixed at the source).
    pub invalid: u64,
    /// Chunked uploads open in Box, resumable by the next run.
    pub open_sessions: u64,
    /// Their bytes.
    pub open_session_bytes: u64,
    /// Finished files per identity (`As-User` id; "" is the service account).
    pub identities: Vec<IdentityCount>,
    /// The latest run, when the journal records runs.
    pub last_run: Option<RunStatus>,
}

/// Finished files per identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IdentityCount {
    /// `As-User` id ("" for the service account).
    pub as_user: String,
    /// Files it finished.
    pub files: u64,
}

/// The latest run's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunStatus {
    /// When it started (RFC 3339, UTC).
    pub started_at: String,
    /// When its event stream ended; `None` while it runs, or if it was killed.
    pub ended_at: Option<String>,
    /// Its exit code; `None` while it runs, or if it was killed.
    pub exit_code: Option<i32>,
    /// The local tree it migrated.
    pub src: String,
    /// Its report CSV.
    pub report: String,
    /// Its `--as-user` identities (empty: the service account alone).
    pub identities: Vec<String>,
    /// Its process id.
    pub pid: u32,
    /// Files its scan handed on so far, and their bytes to send.
    pub planned_files: u64,
    /// Bytes the planned files would send.
    pub planned_bytes: u64,
    /// Whether its scan finished (otherwise `planned_files` is still growing).
    pub scan_finished: bool,
    /// Planned files with a finished row (any outcome).
    pub finished_files: u64,
    /// Files it uploaded (or versioned, copied).
    pub done_files: u64,
    /// Bytes of those files.
    pub sent_bytes: u64,
    /// Planned files without a row yet.
    pub pending_files: u64,
}

fn has_table(conn: &Connection, name: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM sqlite_master WHERE type='table' AND name=?1",
        [name],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

fn count(conn: &Connection, sql: &str) -> rusqlite::Result<(u64, u64)> {
    conn.query_row(sql, [], |r| {
        Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64))
    })
}

/// The status of the journal in `dir`; `None` if there is none.
pub fn status(dir: &Path) -> Result<Option<JournalStatus>, StateError> {
    if !dir.join(DB_FILE).exists() {
        return Ok(None);
    }
    let (conn, path) = open(dir, true)?;
    let q = || -> rusqlite::Result<JournalStatus> {
        // A journal being created this instant may not have its tables yet: nothing done.
        if !has_table(&conn, "sessions")? {
            return Ok(JournalStatus {
                journal: path.clone(),
                dest: None,
                done_files: 0,
                done_bytes: 0,
                failed: 0,
                invalid: 0,
                open_sessions: 0,
                open_session_bytes: 0,
                identities: Vec::new(),
                last_run: None,
            });
        }
        let (done_files, done_bytes) =
            count(&conn, "SELECT count(*), coalesce(sum(size),0) FROM files")?;
        let (open_sessions, open_session_bytes) = count(
            &conn,
            "SELECT count(*), coalesce(sum(size),0) FROM sessions",
        )?;
        let (failed, invalid) = if has_table(&conn, "problems")? {
            count(
                &conn,
                "SELECT count(*) FILTER (WHERE action='failed'),
                        count(*) FILTER (WHERE action='invalid') FROM problems",
            )?
        } else {
            (0, 0)
        };
        let mut st = conn.prepare(
            "SELECT as_user, count(*) FROM files GROUP BY as_user ORDER BY count(*) DESC, as_user",
        )?;
        let identities = st
            .query_map([], |r| {
                Ok(IdentityCount {
                    as_user: r.get(0)?,
                    files: r.get::<_, i64>(1)? as u64,
                })
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(JournalStatus {
            journal: path.clone(),
            dest: conn
                .query_row("SELECT value FROM meta WHERE key='dest'", [], |r| r.get(0))
                .optional()?,
            done_files,
            done_bytes,
            failed,
            invalid,
            open_sessions,
            open_session_bytes,
            identities,
            last_run: last_run(&conn)?,
        })
    };
    q().map(Some).map_err(sql_err(&path))
}

fn last_run(conn: &Connection) -> rusqlite::Result<Option<RunStatus>> {
    if !has_table(conn, "runs")? {
        return Ok(None);
    }
    conn.query_row(
        "SELECT started_at, ended_at, exit_code, report, identities, pid, planned_files,
                planned_bytes, scan_finished, finished_files, done_files, sent_bytes, src
         FROM runs ORDER BY id DESC LIMIT 1",
        [],
        |r| {
            let ids: String = r.get(4)?;
            let planned_files = r.get::<_, i64>(6)? as u64;
            let finished_files = r.get::<_, i64>(9)? as u64;
            Ok(RunStatus {
                started_at: r.get(0)?,
                ended_at: r.get(1)?,
                exit_code: r.get(2)?,
                src: r.get(12)?,
                report: r.get(3)?,
                identities: ids
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect(),
                pid: r.get(5)?,
                planned_files,
                planned_bytes: r.get::<_, i64>(7)? as u64,
                scan_finished: r.get(8)?,
                finished_files,
                done_files: r.get::<_, i64>(10)? as u64,
                sent_bytes: r.get::<_, i64>(11)? as u64,
                pending_files: planned_files.saturating_sub(finished_files),
            })
        },
    )
    .optional()
}

/// One finished file as the journal holds it (`boxlift report export`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRow {
    /// Relative path.
    pub path: String,
    /// Size when it was done.
    pub size: u64,
    /// SHA-1 of the local file.
    pub sha1: String,
    /// How it got there (`uploaded`, `new_version`, `copied`, `skipped_exists`...).
    pub action: String,
    /// Box file id.
    pub box_file_id: String,
    /// Box file version id.
    pub box_file_version_id: String,
    /// Box parent folder id.
    pub box_folder_id: String,
    /// SHA-1 Box reported.
    pub box_sha1: String,
    /// The `As-User` that uploaded it ("" for the service account).
    pub as_user: String,
    /// The file's mtime when it was done (the manifest's cell).
    pub mtime: String,
}

/// Hand every finished file of the journal in `dir` to `each`, in path order; returns how many.
/// `Ok(None)` if there is no journal.
pub fn export(
    dir: &Path,
    mut each: impl FnMut(ExportRow) -> Result<(), StateError>,
) -> Result<Option<u64>, StateError> {
    if !dir.join(DB_FILE).exists() {
        return Ok(None);
    }
    let (conn, path) = open(dir, true)?;
    let mtime = if super::has_column(&conn, "files", "mtime").map_err(sql_err(&path))? {
        "mtime"
    } else {
        "''"
    };
    let mut st = conn
        .prepare(&format!(
            "SELECT path, size, sha1, action, box_file_id, box_file_version_id, box_folder_id,
                    box_sha1, as_user, {mtime} FROM files ORDER BY path"
        ))
        .map_err(sql_err(&path))?;
    let rows = st
        .query_map([], |r| {
            Ok(ExportRow {
                path: r.get(0)?,
                size: r.get::<_, i64>(1)? as u64,
                sha1: r.get(2)?,
                action: r.get(3)?,
                box_file_id: r.get(4)?,
                box_file_version_id: r.get(5)?,
                box_folder_id: r.get(6)?,
                box_sha1: r.get(7)?,
                as_user: r.get(8)?,
                mtime: r.get(9)?,
            })
        })
        .map_err(sql_err(&path))?;
    let mut n = 0;
    for row in rows {
        each(row.map_err(sql_err(&path))?)?;
        n += 1;
    }
    Ok(Some(n))
}
