//! The job's state journal in SQLite (WAL): finished files, known folder ids and open upload
//! sessions. One writer (fed by `Event`s) and any number of readers; a re-run reads it to skip
//! finished files without calling Box and to resume chunked sessions.
//!
//! WAL with `synchronous=NORMAL` survives a killed process (only a power loss can drop the last
//! transactions), which is the crash model here: `kill -9` at any moment.
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rusqlite::{Connection, OptionalExtension, params};

use crate::manifest::Kind;
use crate::manifest::row::mtime_cell;
use crate::model::{Action, ReportRow};
use crate::model::{Event, SessionRecord};
use crate::scan::quick::KnownFiles;

/// The database file inside the state directory.
pub const DB_FILE: &str = "state.sqlite";

/// Errors of the state journal.
#[derive(Debug, thiserror::Error)]
pub enum StateError {
    /// SQLite failed.
    #[error("state journal {path}: {source}")]
    Sql {
        /// The database file.
        path: PathBuf,
        /// The SQLite error.
        source: rusqlite::Error,
    },
    /// The state directory could not be created.
    #[error("state directory {path}: {source}")]
    Io {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Another process holds the journal (a second run, or two shards given one `--state`).
    #[error(
        "state directory {path} is in use by another boxlift process (two runs or two shards must not share a --state directory; wait for it to finish or give this run its own)"
    )]
    Locked {
        /// The state directory.
        path: PathBuf,
    },
    /// The journal belongs to another destination folder.
    #[error(
        "state journal {path} records a migration into Box folder {recorded}, not {requested}; use another --state directory"
    )]
    OtherDestination {
        /// The database file.
        path: PathBuf,
        /// The folder id in the journal.
        recorded: String,
        /// The folder id asked for.
        requested: String,
    },
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS files(
    path TEXT PRIMARY KEY, size INTEGER NOT NULL, sha1 TEXT NOT NULL, action TEXT NOT NULL,
    box_file_id TEXT NOT NULL, box_file_version_id TEXT NOT NULL, box_folder_id TEXT NOT NULL,
    box_sha1 TEXT NOT NULL, as_user TEXT NOT NULL, mtime TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS folders(path TEXT PRIMARY KEY, box_folder_id TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions(
    path TEXT PRIMARY KEY, session_id TEXT NOT NULL, size INTEGER NOT NULL, sha1 TEXT NOT NULL,
    as_user TEXT NOT NULL DEFAULT '');
";

/// Whether the journal's `table` has `column` (journals written before issue 12 lack
/// `files.mtime`, before issue 14 `sessions.as_user`; the writer adds them, a read-only reader
/// reads "").
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name=?2",
        [table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// A file an earlier run finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DoneFile {
    /// Size when it was done.
    pub size: u64,
    /// SHA-1 when it was done.
    pub sha1: String,
    /// Box file id.
    pub box_file_id: String,
    /// Box file version id.
    pub box_file_version_id: String,
    /// Box parent folder id.
    pub box_folder_id: String,
    /// SHA-1 Box reported.
    pub box_sha1: String,
    /// As-User of the upload.
    pub as_user: String,
}

fn sql_err(path: &Path) -> impl Fn(rusqlite::Error) -> StateError + '_ {
    move |source| StateError::Sql {
        path: path.to_path_buf(),
        source,
    }
}

fn open(dir: &Path, read_only: bool) -> Result<(Connection, PathBuf), StateError> {
    let path = dir.join(DB_FILE);
    if !read_only {
        std::fs::create_dir_all(dir).map_err(|source| StateError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    let flags = if read_only {
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
    } else {
        rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_CREATE
    } | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(&path, flags).map_err(sql_err(&path))?;
    conn.busy_timeout(Duration::from_secs(30))
        .map_err(sql_err(&path))?;
    if !read_only {
        conn.pragma_update(None, "journal_mode", "WAL")
            .map_err(sql_err(&path))?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(sql_err(&path))?;
        conn.execute_batch(SCHEMA).map_err(sql_err(&path))?;
        // Journals written before a column was added: add it, empty. Files without an mtime
        // are hashed once more by the next run, which records it (see `put_row`); sessions
        // without an owner are resumed by whichever identity takes the file.
        for (table, column) in [("sessions", "as_user"), ("files", "mtime")] {
            if !has_column(&conn, table, column).map_err(sql_err(&path))? {
                conn.execute_batch(&format!(
                    "ALTER TABLE {table} ADD COLUMN {column} TEXT NOT NULL DEFAULT ''"
                ))
                .map_err(sql_err(&path))?;
            }
        }
    }
    Ok((conn, path))
}

/// Create or open the journal in `dir` for a migration into Box folder `dest`, and return its
/// writer. Fails if the journal records another destination.
pub fn open_writer(dir: &Path, dest: &str) -> Result<StateWriter, StateError> {
    let (conn, path) = open(dir, false)?;
    let lock = lock(dir)?;
    let recorded: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key='dest'", [], |r| r.get(0))
        .optional()
        .map_err(sql_err(&path))?;
    match recorded {
        Some(r) if r != dest => {
            return Err(StateError::OtherDestination {
                path,
                recorded: r,
                requested: dest.to_string(),
            });
        }
        Some(_) => {}
        None => {
            conn.execute(
                "INSERT INTO meta(key, value) VALUES('dest', ?1)",
                params![dest],
            )
            .map_err(sql_err(&path))?;
        }
    }
    Ok(StateWriter {
        conn,
        path,
        pending: 0,
        since: Instant::now(),
        _lock: lock,
    })
}

/// Take the state directory's exclusive lock (`LOCK` file, `flock`), held for the writer's
/// life and released by the OS when the process dies, so a `kill -9` never leaves it stuck.
/// SQLite would let two writers interleave; two runs on one journal would then each think
/// the other's in-flight files are theirs.
fn lock(dir: &Path) -> Result<std::fs::File, StateError> {
    let path = dir.join("LOCK");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|source| StateError::Io {
            path: path.clone(),
            source,
        })?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(std::fs::TryLockError::WouldBlock) => Err(StateError::Locked {
            path: dir.to_path_buf(),
        }),
        Err(std::fs::TryLockError::Error(source)) => Err(StateError::Io { path, source }),
    }
}

/// Open a reader on the journal in `dir`; `None` if there is no journal yet (first run, or a
/// dry run that must not create one). A journal for another destination is an error.
pub fn open_reader(dir: &Path, dest: &str) -> Result<Option<StateReader>, StateError> {
    if !dir.join(DB_FILE).exists() {
        return Ok(None);
    }
    let (conn, path) = open(dir, true)?;
    let recorded: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key='dest'", [], |r| r.get(0))
        .optional()
        .map_err(sql_err(&path))?;
    if let Some(r) = recorded.filter(|r| r != dest) {
        return Err(StateError::OtherDestination {
            path,
            recorded: r,
            requested: dest.to_string(),
        });
    }
    let session_owner = has_column(&conn, "sessions", "as_user").map_err(sql_err(&path))?;
    Ok(Some(StateReader {
        conn,
        path,
        session_owner,
    }))
}

/// Lookups for the planner (one connection, owned by the planning thread).
#[derive(Debug)]
pub struct StateReader {
    conn: Connection,
    path: PathBuf,
    /// The `sessions` table has the `as_user` column.
    session_owner: bool,
}

impl StateReader {
    /// The finished record of `path`, if any.
    pub fn done(&self, path: &str) -> Result<Option<DoneFile>, StateError> {
        self.conn
            .prepare_cached(
                "SELECT size, sha1, box_file_id, box_file_version_id, box_folder_id, box_sha1, as_user
                 FROM files WHERE path=?1",
            )
            .and_then(|mut st| {
                st.query_row(params![path], |r| {
                    Ok(DoneFile {
                        size: r.get::<_, i64>(0)? as u64,
                        sha1: r.get(1)?,
                        box_file_id: r.get(2)?,
                        box_file_version_id: r.get(3)?,
                        box_folder_id: r.get(4)?,
                        box_sha1: r.get(5)?,
                        as_user: r.get(6)?,
                    })
                })
                .optional()
            })
            .map_err(sql_err(&self.path))
    }

    /// The SHA-1 journalled for the finished file `path`, if it was finished with exactly this
    /// size and mtime (the manifest's mtime cell): the scan then trusts it without opening
    /// the file.
    pub fn done_sha1(
        &self,
        path: &str,
        size: u64,
        mtime: &str,
    ) -> Result<Option<String>, StateError> {
        self.conn
            .prepare_cached(
                "SELECT sha1 FROM files WHERE path=?1 AND size=?2 AND mtime=?3 AND mtime<>''",
            )
            .and_then(|mut st| {
                st.query_row(params![path, size as i64, mtime], |r| r.get(0))
                    .optional()
            })
            .map_err(sql_err(&self.path))
    }

    /// The Box folder id recorded for directory `path`.
    pub fn folder(&self, path: &str) -> Result<Option<String>, StateError> {
        self.conn
            .prepare_cached("SELECT box_folder_id FROM folders WHERE path=?1")
            .and_then(|mut st| st.query_row(params![path], |r| r.get(0)).optional())
            .map_err(sql_err(&self.path))
    }

    /// The open upload session recorded for `path`.
    pub fn session(&self, path: &str) -> Result<Option<SessionRecord>, StateError> {
        self.conn
            .prepare_cached(if self.session_owner {
                "SELECT session_id, size, sha1, as_user FROM sessions WHERE path=?1"
            } else {
                "SELECT session_id, size, sha1, '' FROM sessions WHERE path=?1"
            })
            .and_then(|mut st| {
                st.query_row(params![path], |r| {
                    Ok(SessionRecord {
                        path: path.to_string(),
                        session_id: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        sha1: r.get(2)?,
                        as_user: r.get(3)?,
                    })
                })
                .optional()
            })
            .map_err(sql_err(&self.path))
    }
}

/// The journal as the scan's source of known SHA-1s (issue 12, item 1). A lookup that fails
/// (a journal from before the mtime column, opened read-only) only means the file is hashed.
impl KnownFiles for StateReader {
    fn sha1(&mut self, path: &str, size: u64, mtime: &str) -> Option<String> {
        match self.done_sha1(path, size, mtime) {
            Ok(found) => found,
            Err(e) => {
                tracing::debug!("state journal lookup failed, hashing instead: {e}");
                None
            }
        }
    }
}

/// The journal's single writer. Events are applied inside a transaction that is committed every
/// 256 events or 200 ms, and at once for a new upload session (its parts are about to go out).
#[derive(Debug)]
pub struct StateWriter {
    conn: Connection,
    path: PathBuf,
    pending: u32,
    since: Instant,
    /// The directory's lock, held while this writer lives.
    _lock: std::fs::File,
}

impl StateWriter {
    /// Record what an event says; commit when the batch is due.
    pub fn apply(&mut self, event: &Event) -> Result<(), StateError> {
        let urgent = match event {
            Event::SessionOpened(s) => {
                self.begin()?;
                self.conn
                    .prepare_cached(
                        "INSERT OR REPLACE INTO sessions(path, session_id, size, sha1, as_user) VALUES(?1,?2,?3,?4,?5)",
                    )
                    .and_then(|mut st| {
                        st.execute(params![s.path, s.session_id, s.size as i64, s.sha1, s.as_user])
                    })
                    .map_err(sql_err(&self.path))?;
                true
            }
            Event::FolderResolved { path, folder_id } => {
                self.begin()?;
                self.put_folder(path, folder_id)?;
                false
            }
            Event::FileDone(row) => {
                self.begin()?;
                self.put_row(row)?;
                false
            }
            _ => {
                // The report waits for the commit (sink.rs): a quiet stream must not hold the
                // last rows back for longer than a batch's time.
                if self.pending > 0 && self.since.elapsed() >= Duration::from_millis(200) {
                    self.commit()?;
                }
                return Ok(());
            }
        };
        self.pending += 1;
        if urgent || self.pending >= 256 || self.since.elapsed() >= Duration::from_millis(200) {
            self.commit()?;
        }
        Ok(())
    }

    fn begin(&mut self) -> Result<(), StateError> {
        if self.pending == 0 && self.conn.is_autocommit() {
            self.conn
                .execute_batch("BEGIN")
                .map_err(sql_err(&self.path))?;
            self.since = Instant::now();
        }
        Ok(())
    }

    fn put_folder(&self, path: &str, id: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO folders(path, box_folder_id) VALUES(?1, ?2)")
            .and_then(|mut st| st.execute(params![path, id]))
            .map(|_| ())
            .map_err(sql_err(&self.path))
    }

    fn put_row(&self, row: &ReportRow) -> Result<(), StateError> {
        let done = match row.action() {
            Action::Uploaded
            | Action::NewVersion
            | Action::Renamed
            | Action::SkippedExists
            | Action::Copied => true,
            Action::FolderCreated => {
                if !row.box_folder_id.is_empty() {
                    self.put_folder(&row.path, &row.box_folder_id)?;
                }
                false
            }
            // `skipped_done` is already recorded; failures, invalid and skipped rows are
            // retried or re-judged by the next run; dry runs write nothing.
            _ => false,
        };
        if done && row.kind != Kind::Dir {
            self.conn
                .prepare_cached(
                    "INSERT OR REPLACE INTO files(path, size, sha1, action, box_file_id,
                     box_file_version_id, box_folder_id, box_sha1, as_user, mtime)
                     VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10)",
                )
                .and_then(|mut st| {
                    st.execute(params![
                        row.path,
                        row.size as i64,
                        row.sha1,
                        row.action().as_str(),
                        row.box_file_id,
                        row.box_file_version_id,
                        row.box_folder_id,
                        row.box_sha1,
                        row.as_user,
                        mtime_cell(row.mtime.as_ref()),
                    ])
                })
                .map_err(sql_err(&self.path))?;
        }
        if row.action() == Action::SkippedDone && row.kind != Kind::Dir && row.mtime.is_some() {
            // Hashed again and still the same content (touched, or journalled before the mtime
            // column): remember the mtime, so the next run need not open it.
            self.conn
                .prepare_cached("UPDATE files SET mtime=?2 WHERE path=?1 AND mtime<>?2")
                .and_then(|mut st| st.execute(params![row.path, mtime_cell(row.mtime.as_ref())]))
                .map_err(sql_err(&self.path))?;
        }
        if row.kind != Kind::Dir && row.action() != Action::Failed {
            // A finished (or abandoned) file's session is no longer resumable by us. A failed
            // row keeps its session: the next run resumes it.
            self.conn
                .prepare_cached("DELETE FROM sessions WHERE path=?1")
                .and_then(|mut st| st.execute(params![row.path]))
                .map_err(sql_err(&self.path))?;
        }
        Ok(())
    }

    /// Is everything applied so far committed (no batch open)?
    pub fn is_committed(&self) -> bool {
        self.conn.is_autocommit()
    }

    /// Forget what the journal knows of these paths (finished files, folder ids), in one
    /// committed transaction, so the next plan sends them again: `migrate --repair` after
    /// `verify` found them missing or different in Box. Returns how many records went.
    pub fn forget(&mut self, paths: &[String]) -> Result<u64, StateError> {
        self.commit()?;
        let tx = self.conn.transaction().map_err(sql_err(&self.path))?;
        let mut gone = 0;
        for sql in [
            "DELETE FROM files WHERE path=?1",
            "DELETE FROM folders WHERE path=?1",
        ] {
            let mut st = tx.prepare_cached(sql).map_err(sql_err(&self.path))?;
            for p in paths {
                gone += st.execute(params![p]).map_err(sql_err(&self.path))? as u64;
            }
        }
        tx.commit().map_err(sql_err(&self.path))?;
        Ok(gone)
    }

    /// Commit the open batch, if any.
    pub fn commit(&mut self) -> Result<(), StateError> {
        if !self.conn.is_autocommit() {
            self.conn
                .execute_batch("COMMIT")
                .map_err(sql_err(&self.path))?;
        }
        self.pending = 0;
        Ok(())
    }
}

impl Drop for StateWriter {
    fn drop(&mut self) {
        let _ = self.commit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uploaded(path: &str, sha1: &str) -> ReportRow {
        let mut r = ReportRow::new(path, Kind::File, 4, sha1).with(Action::Uploaded);
        r.box_file_id = "77".into();
        r.box_folder_id = "5".into();
        r.box_sha1 = sha1.into();
        r
    }

    #[test]
    fn finished_rows_sessions_and_folders_are_read_back() {
        let dir = tempfile::tempdir().unwrap();
        assert!(open_reader(dir.path(), "0").unwrap().is_none());
        let mut w = open_writer(dir.path(), "0").unwrap();
        let rec = SessionRecord {
            path: "big.bin".into(),
            session_id: "S1".into(),
            size: 99,
            sha1: "ab".into(),
            as_user: "7".into(),
        };
        w.apply(&Event::SessionOpened(rec.clone())).unwrap();
        // The session is committed at once: a reader sees it while the writer lives.
        let r = open_reader(dir.path(), "0").unwrap().unwrap();
        assert_eq!(r.session("big.bin").unwrap(), Some(rec));
        w.apply(&Event::FileDone(uploaded("a.txt", "aaaa")))
            .unwrap();
        w.apply(&Event::FolderResolved {
            path: "d".into(),
            folder_id: "9".into(),
        })
        .unwrap();
        w.apply(&Event::FileDone(
            ReportRow::new("bad", Kind::File, 1, "").with(Action::Failed),
        ))
        .unwrap();
        w.apply(&Event::FileDone(uploaded("big.bin", "ab")))
            .unwrap();
        drop(w);
        let done = r.done("a.txt").unwrap().unwrap();
        assert_eq!((done.size, done.box_file_id.as_str()), (4, "77"));
        assert_eq!(r.folder("d").unwrap().as_deref(), Some("9"));
        assert!(r.done("bad").unwrap().is_none());
        assert!(r.session("big.bin").unwrap().is_none());
    }

    #[test]
    fn forgotten_files_and_folders_are_not_done_any_more() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = open_writer(dir.path(), "0").unwrap();
        w.apply(&Event::FileDone(uploaded("a.txt", "aaaa")))
            .unwrap();
        w.apply(&Event::FileDone(uploaded("b.txt", "bbbb")))
            .unwrap();
        w.apply(&Event::FolderResolved {
            path: "d".into(),
            folder_id: "9".into(),
        })
        .unwrap();
        let gone = w.forget(&["a.txt".into(), "d".into(), "nope".into()]);
        assert_eq!(gone.unwrap(), 2);
        drop(w);
        let r = open_reader(dir.path(), "0").unwrap().unwrap();
        assert!(r.done("a.txt").unwrap().is_none());
        assert!(r.done("b.txt").unwrap().is_some());
        assert!(r.folder("d").unwrap().is_none());
    }

    #[test]
    fn a_journal_for_another_destination_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        drop(open_writer(dir.path(), "0").unwrap());
        let err = open_writer(dir.path(), "123").unwrap_err();
        assert!(err.to_string().contains("another --state"), "{err}");
        assert!(open_reader(dir.path(), "123").is_err());
    }

    #[test]
    fn one_writer_per_state_directory_and_the_lock_goes_with_it() {
        let dir = tempfile::tempdir().unwrap();
        let first = open_writer(dir.path(), "0").unwrap();
        let err = open_writer(dir.path(), "0").unwrap_err();
        assert!(matches!(err, StateError::Locked { .. }), "{err}");
        assert!(
            err.to_string().contains("in use by another boxlift"),
            "{err}"
        );
        // Readers (dry runs, the planner) are not blocked.
        assert!(open_reader(dir.path(), "0").unwrap().is_some());
        drop(first);
        drop(open_writer(dir.path(), "0").unwrap());
    }
}
