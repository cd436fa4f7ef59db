//! The job's state journal in SQLite (WAL): finished files, known folder ids and open upload
//! sessions. One writer (fed by `Event`s) and any number of readers; a re-run reads it to skip
//! finished files without calling Box and to resume chunked sessions.
//!
//! WAL with `synchronous=NORMAL` survives a killed process (only a power loss can drop the last
//! transactions), which is the crash model here: `kill -9` at any moment.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::manifest::Kind;
use crate::manifest::row::mtime_cell;
use crate::model::JournalFile;
use crate::model::{Action, ReportRow};
use crate::model::{Event, SessionRecord};
use crate::scan::quick::KnownFiles;

mod runs;
mod status;

pub use self::runs::record_exit;
pub use self::status::{ExportRow, IdentityCount, JournalStatus, RunStatus, export, status};

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
CREATE TABLE IF NOT EXISTS grants(
    path TEXT NOT NULL, collaborator TEXT NOT NULL, role TEXT NOT NULL,
    box_folder_id TEXT NOT NULL, PRIMARY KEY(path, collaborator));
CREATE TABLE IF NOT EXISTS sessions(
    path TEXT PRIMARY KEY, session_id TEXT NOT NULL, size INTEGER NOT NULL, sha1 TEXT NOT NULL,
    as_user TEXT NOT NULL DEFAULT '');
";

/// Whether the journal's `table` has `column` (journals of older versions may lack
/// `files.mtime` or `sessions.as_user`; the writer adds them, a read-only reader reads "").
fn has_column(conn: &Connection, table: &str, column: &str) -> rusqlite::Result<bool> {
    conn.query_row(
        "SELECT count(*) FROM pragma_table_info(?1) WHERE name=?2",
        [table, column],
        |r| r.get::<_, i64>(0),
    )
    .map(|n| n > 0)
}

/// Grants applied by earlier runs (`--permissions`): `(path, KIND:ID)` → `(role, folder id)`.
pub type Grants = BTreeMap<(String, String), (String, String)>;

/// A file an earlier run finished.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
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
        gone: Default::default(),
        since: Instant::now(),
        run: None,
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

/// Open a reader on the journal in `dir` whatever destination it records (`audit --state`
/// reads a journal without a `--dest`); `None` if there is none.
pub fn open_journal(dir: &Path) -> Result<Option<StateReader>, StateError> {
    if !dir.join(DB_FILE).exists() {
        return Ok(None);
    }
    let (conn, path) = open(dir, true)?;
    let dest: Option<String> = conn
        .query_row("SELECT value FROM meta WHERE key='dest'", [], |r| r.get(0))
        .optional()
        .map_err(sql_err(&path))?;
    drop(conn);
    open_reader(dir, dest.as_deref().unwrap_or(""))
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
    /// size and mtime (kept as the manifest's mtime cell): the scan then trusts it without
    /// opening the file.
    pub fn done_sha1(
        &self,
        path: &str,
        size: u64,
        mtime: &DateTime<Utc>,
    ) -> Result<Option<String>, StateError> {
        let mtime = mtime_cell(Some(mtime));
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

    /// Every finished file the journal knows, by path: what a mirror run matches moves
    /// against and may delete (nothing else in Box is ever deleted).
    pub fn journal_files(&self) -> Result<Vec<JournalFile>, StateError> {
        self.conn
            .prepare_cached(
                "SELECT path, size, sha1, box_file_id, box_file_version_id FROM files ORDER BY path",
            )
            .and_then(|mut st| {
                st.query_map([], |r| {
                    Ok(JournalFile {
                        path: r.get(0)?,
                        size: r.get::<_, i64>(1)? as u64,
                        sha1: r.get(2)?,
                        box_file_id: r.get(3)?,
                        box_file_version_id: r.get(4)?,
                    })
                })?
                .collect()
            })
            .map_err(sql_err(&self.path))
    }

    /// Every folder the journal knows: path → Box folder id.
    pub fn journal_folders(&self) -> Result<BTreeMap<String, String>, StateError> {
        self.conn
            .prepare_cached("SELECT path, box_folder_id FROM folders")
            .and_then(|mut st| st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?.collect())
            .map_err(sql_err(&self.path))
    }

    /// The grants earlier runs applied (`--permissions`): `(path, KIND:ID)` → `(role, folder
    /// id)`. Empty for a journal older than the table.
    pub fn grants(&self) -> Result<Grants, StateError> {
        let exists: i64 = self
            .conn
            .query_row(
                "SELECT count(*) FROM sqlite_master WHERE type='table' AND name='grants'",
                [],
                |r| r.get(0),
            )
            .map_err(sql_err(&self.path))?;
        if exists == 0 {
            return Ok(BTreeMap::new());
        }
        let mut st = self
            .conn
            .prepare("SELECT path, collaborator, role, box_folder_id FROM grants")
            .map_err(sql_err(&self.path))?;
        let rows = st
            .query_map([], |r| Ok(((r.get(0)?, r.get(1)?), (r.get(2)?, r.get(3)?))))
            .map_err(sql_err(&self.path))?;
        rows.collect::<Result<_, _>>().map_err(sql_err(&self.path))
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

/// The journal as the scan's source of known SHA-1s, so a resumed run does not re-read what it
/// sent. A lookup that fails (a journal from before the mtime column, opened read-only) only means
/// the file is hashed.
impl KnownFiles for StateReader {
    fn sha1(&mut self, path: &str, size: u64, mtime: &DateTime<Utc>) -> Option<String> {
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
    /// Box folder ids found gone in this run ([`Event::SubtreeGone`]): a row finished into one
    /// of them (it finished just before the folder went) is in Box's trash, not done.
    gone: std::collections::HashSet<String>,
    /// The current run's counts (`begin_run`), for `boxlift status`.
    run: Option<runs::RunTally>,
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
                if self.gone.contains(folder_id) {
                    return Ok(());
                }
                self.begin()?;
                self.put_folder(path, folder_id)?;
                false
            }
            Event::SubtreeGone { path, folder_id } => {
                self.forget_subtree(path, folder_id)?;
                true
            }
            Event::FileDone(row) => {
                self.begin()?;
                self.put_row(row)?;
                self.tally(event)?;
                false
            }
            _ => {
                self.tally(event)?;
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

    /// A `collaborated` row: the grant `KIND:ID ROLE` (its `error_message`) on folder `path`.
    fn put_grant(&self, row: &ReportRow) -> Result<(), StateError> {
        let Some((who, role)) = row.error_message.split_once(' ') else {
            return Ok(());
        };
        self.conn
            .prepare_cached(
                "INSERT OR REPLACE INTO grants(path, collaborator, role, box_folder_id) VALUES(?1,?2,?3,?4)",
            )
            .and_then(|mut st| st.execute(params![row.path, who, role, row.box_folder_id]))
            .map(|_| ())
            .map_err(sql_err(&self.path))
    }

    fn put_folder(&self, path: &str, id: &str) -> Result<(), StateError> {
        self.conn
            .prepare_cached("INSERT OR REPLACE INTO folders(path, box_folder_id) VALUES(?1, ?2)")
            .and_then(|mut st| st.execute(params![path, id]))
            .map(|_| ())
            .map_err(sql_err(&self.path))
    }

    /// Forget every record at or under directory `path` (folders, finished files, sessions),
    /// and remember the Box folder ids it had as gone.
    fn forget_subtree(&mut self, path: &str, folder_id: &str) -> Result<(), StateError> {
        self.begin()?;
        // `path` itself, or below it: compared as a prefix, not a LIKE pattern (names may hold
        // `%` and `_`).
        const UNDER: &str = "(path=?1 OR substr(path, 1, length(?1) + 1) = ?1 || '/')";
        let ids: Vec<String> = self
            .conn
            .prepare_cached(&format!("SELECT box_folder_id FROM folders WHERE {UNDER}"))
            .and_then(|mut st| {
                st.query_map(params![path], |r| r.get::<_, String>(0))?
                    .collect::<rusqlite::Result<_>>()
            })
            .map_err(sql_err(&self.path))?;
        self.gone.extend(ids);
        self.gone.insert(folder_id.to_string());
        let mut gone = 0;
        for table in ["files", "folders", "sessions"] {
            gone += self
                .conn
                .prepare_cached(&format!("DELETE FROM {table} WHERE {UNDER}"))
                .and_then(|mut st| st.execute(params![path]))
                .map_err(sql_err(&self.path))?;
        }
        tracing::info!(
            path,
            records = gone,
            "the journal forgot a subtree gone from Box"
        );
        Ok(())
    }

    fn put_row(&self, row: &ReportRow) -> Result<(), StateError> {
        if matches!(row.action(), Action::Moved | Action::Deleted) {
            return self.put_mirror_row(row);
        }
        if row.action() == Action::Collaborated {
            return self.put_grant(row);
        }
        if self.gone.contains(&row.box_folder_id) {
            // Finished into a folder that has gone since: in Box's trash, so not done.
            return Ok(());
        }
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

    /// A mirror run's row: a move renames the journal's records (a folder's whole subtree)
    /// from `old_path` to `path`; a deletion forgets them. So a re-run plans from where Box
    /// is now and never applies the same move or deletion twice.
    fn put_mirror_row(&self, row: &ReportRow) -> Result<(), StateError> {
        let is_dir = row.kind == Kind::Dir;
        let sqls: &[&str] = match (row.action(), is_dir) {
            // Applied twice (the mirror phase writes it, then the sink sees the same row): the
            // second time the old path is gone and nothing changes.
            (Action::Moved, false) => &[
                "DELETE FROM files WHERE path=?2 AND EXISTS(SELECT 1 FROM files WHERE path=?1)",
                "UPDATE files SET path=?2, box_folder_id=?3,
                 box_file_version_id=CASE WHEN ?4='' THEN box_file_version_id ELSE ?4 END
                 WHERE path=?1",
            ],
            (Action::Moved, true) => &[
                "UPDATE folders SET path=?2 WHERE path=?1",
                "UPDATE folders SET path=?2 || substr(path, length(?1)+1)
                 WHERE substr(path, 1, length(?1)+1) = ?1 || '/'",
                "UPDATE files SET path=?2 || substr(path, length(?1)+1)
                 WHERE substr(path, 1, length(?1)+1) = ?1 || '/'",
            ],
            (_, false) => &["DELETE FROM files WHERE path=?2"],
            (_, true) => &[
                "DELETE FROM folders WHERE path=?2
                 OR substr(path, 1, length(?2)+1) = ?2 || '/'",
                "DELETE FROM files WHERE substr(path, 1, length(?2)+1) = ?2 || '/'",
            ],
        };
        for sql in sqls {
            // Bind up to the highest `?N` the statement names (SQLite counts unused lower ones).
            let args: Vec<&dyn rusqlite::ToSql> = [
                &row.old_path as &dyn rusqlite::ToSql,
                &row.path,
                &row.box_folder_id,
                &row.box_file_version_id,
            ]
            .into_iter()
            .take(if sql.contains("?4") {
                4
            } else if sql.contains("?3") {
                3
            } else {
                2
            })
            .collect();
            self.conn
                .prepare_cached(sql)
                .and_then(|mut st| st.execute(args.as_slice()))
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
        self.flush_run(false)?;
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
        let _ = self.flush_run(true);
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
    fn a_subtree_gone_from_box_is_forgotten_and_late_rows_into_it_are_not_done() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = open_writer(dir.path(), "0").unwrap();
        let into = |path: &str, folder: &str| {
            let mut r = uploaded(path, "aaaa");
            r.box_folder_id = folder.into();
            Event::FileDone(r)
        };
        for (path, id) in [("a", "10"), ("a/b", "11"), ("ab", "12"), ("a%", "13")] {
            w.apply(&Event::FolderResolved {
                path: path.into(),
                folder_id: id.into(),
            })
            .unwrap();
        }
        for (path, folder) in [
            ("a/x", "10"),
            ("a/b/y", "11"),
            ("ab/z", "12"),
            ("a%/w", "13"),
        ] {
            w.apply(&into(path, folder)).unwrap();
        }
        w.apply(&Event::SubtreeGone {
            path: "a".into(),
            folder_id: "10".into(),
        })
        .unwrap();
        // A file that finished into a/b just before it went, reported after.
        w.apply(&into("a/b/late", "11")).unwrap();
        // A folder resolved again under the new `a`, and a file into it: recorded.
        w.apply(&Event::FolderResolved {
            path: "a".into(),
            folder_id: "20".into(),
        })
        .unwrap();
        w.apply(&into("a/new", "20")).unwrap();
        drop(w);
        let r = open_reader(dir.path(), "0").unwrap().unwrap();
        for gone in ["a/x", "a/b/y", "a/b/late"] {
            assert!(r.done(gone).unwrap().is_none(), "{gone}");
        }
        for kept in ["ab/z", "a%/w", "a/new"] {
            assert!(r.done(kept).unwrap().is_some(), "{kept}");
        }
        assert_eq!(r.folder("a").unwrap().as_deref(), Some("20"));
        assert!(r.folder("a/b").unwrap().is_none());
        assert_eq!(r.folder("ab").unwrap().as_deref(), Some("12"));
    }

    #[test]
    fn moves_and_deletions_rewrite_the_journal_once() {
        let dir = tempfile::tempdir().unwrap();
        let mut w = open_writer(dir.path(), "0").unwrap();
        for (p, h) in [
            ("a/x", "1"),
            ("a/s/y", "2"),
            ("ab/z", "3"),
            ("f", "4"),
            ("g", "5"),
        ] {
            w.apply(&Event::FileDone(uploaded(p, h))).unwrap();
        }
        for (p, id) in [("a", "10"), ("a/s", "11"), ("ab", "12")] {
            w.apply(&Event::FolderResolved {
                path: p.into(),
                folder_id: id.into(),
            })
            .unwrap();
        }
        let mut folder = ReportRow::new("b", Kind::Dir, 0, "").with(Action::Moved);
        folder.old_path = "a".into();
        let mut file = ReportRow::new("ab/f2", Kind::File, 4, "4").with(Action::Moved);
        file.old_path = "f".into();
        file.box_folder_id = "12".into();
        file.box_file_version_id = "v9".into();
        let gone_dir = ReportRow::new("ab", Kind::Dir, 0, "").with(Action::Deleted);
        let gone_file = ReportRow::new("g", Kind::File, 4, "5").with(Action::Deleted);
        for row in [folder.clone(), file.clone(), folder, file] {
            w.apply(&Event::FileDone(row)).unwrap();
        }
        w.commit().unwrap();
        let r = open_reader(dir.path(), "0").unwrap().unwrap();
        let paths = |r: &StateReader| -> Vec<String> {
            r.journal_files()
                .unwrap()
                .into_iter()
                .map(|f| f.path)
                .collect()
        };
        assert_eq!(paths(&r), ["ab/f2", "ab/z", "b/s/y", "b/x", "g"]);
        let folders = r.journal_folders().unwrap();
        assert_eq!(folders.get("b").map(String::as_str), Some("10"));
        assert_eq!(folders.get("b/s").map(String::as_str), Some("11"));
        assert!(!folders.contains_key("a") && !folders.contains_key("a/s"));
        let moved = r.done("ab/f2").unwrap().unwrap();
        assert_eq!(
            (
                moved.box_folder_id.as_str(),
                moved.box_file_version_id.as_str()
            ),
            ("12", "v9")
        );
        for row in [gone_dir, gone_file] {
            w.apply(&Event::FileDone(row)).unwrap();
        }
        w.commit().unwrap();
        assert_eq!(paths(&r), ["b/s/y", "b/x"]);
        assert!(!r.journal_folders().unwrap().contains_key("ab"));
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
