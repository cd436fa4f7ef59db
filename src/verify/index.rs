//! verify's on-disk side: the manifest's expected rows keyed by (parent folder, name) and the
//! differences found, in a private temporary SQLite database, so verify's memory stays the same
//! at 10,000 rows or 10,000,000 (a `HashMap` of the manifest took ~370 bytes a row).
//!
//! SQLite's empty file name opens a private on-disk database deleted when the connection
//! closes; its page cache is capped ([`crate::fsutil::SCRATCH_CACHE_KIB`], enough for one folder's rows and the B-tree's upper levels) and sorts spill to temporary files.
use rusqlite::{Connection, params};

use crate::box_api::names::box_name_key;
use crate::manifest::Kind;

use super::{Difference, Problem};

/// What the manifest says should be at a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// Path as in the manifest.
    pub path: String,
    /// File or directory.
    pub kind: Kind,
    /// Size.
    pub size: u64,
    /// SHA-1 hex (empty: not hashed, size is compared alone).
    pub sha1: String,
}

/// The key of a path, as Box matches names ([`box_name_key`]): (parent key, name key).
pub fn split_key(path: &str) -> (String, String) {
    let key = box_name_key(path);
    match key.rsplit_once('/') {
        Some((parent, name)) => (parent.to_string(), name.to_string()),
        None => (String::new(), key),
    }
}

/// The manifest index and the differences table.
#[derive(Debug)]
pub struct Index {
    db: Connection,
    in_load: bool,
}

impl Index {
    /// A fresh private temporary database.
    pub fn open() -> rusqlite::Result<Index> {
        let db = crate::fsutil::scratch_db(
            "CREATE TABLE expected(parent TEXT NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,
               is_dir INTEGER NOT NULL, size INTEGER NOT NULL, sha1 TEXT NOT NULL,
               PRIMARY KEY(parent, name)) WITHOUT ROWID;
             CREATE TABLE listed(parent TEXT PRIMARY KEY) WITHOUT ROWID;
             CREATE TABLE diffs(path TEXT NOT NULL, problem INTEGER NOT NULL,
               expected_size INTEGER, box_size INTEGER, expected_sha1 TEXT NOT NULL,
               box_sha1 TEXT NOT NULL, box_id TEXT NOT NULL);",
        )?;
        Ok(Index { db, in_load: true })
    }

    /// Add one expected row. Two rows with one key (the same path up to case) keep the
    /// smallest, so the result never depends on the manifest's row order.
    pub fn add(&mut self, e: &Expected) -> rusqlite::Result<()> {
        let (parent, name) = split_key(&e.path);
        self.db
            .prepare_cached(
                "INSERT INTO expected VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                 ON CONFLICT(parent, name) DO UPDATE SET path = excluded.path,
                   is_dir = excluded.is_dir, size = excluded.size, sha1 = excluded.sha1
                 WHERE (excluded.path, excluded.is_dir, excluded.size, excluded.sha1)
                     < (expected.path, expected.is_dir, expected.size, expected.sha1)",
            )?
            .execute(params![
                parent,
                name,
                e.path,
                // Stored as a flag: the smallest-row rule orders files before directories.
                e.kind == Kind::Dir,
                e.size as i64,
                e.sha1
            ])?;
        Ok(())
    }

    /// End of the manifest: commit the load; returns the number of distinct expected rows.
    pub fn loaded(&mut self) -> rusqlite::Result<u64> {
        if self.in_load {
            self.db.execute_batch("COMMIT; BEGIN;")?;
        }
        self.db
            .query_row("SELECT count(*) FROM expected", [], |r| r.get::<_, i64>(0))
            .map(|n| n as u64)
    }

    /// The expected rows directly in folder `parent` (its key), by name key; marks the folder
    /// listed, so the final sweep does not report these rows again.
    pub fn take_folder(
        &mut self,
        parent: &str,
    ) -> rusqlite::Result<std::collections::HashMap<String, Expected>> {
        let mut stmt = self.db.prepare_cached(
            "SELECT name, path, is_dir, size, sha1 FROM expected WHERE parent = ?1",
        )?;
        let rows = stmt.query_map([parent], |r| {
            Ok((
                r.get::<_, String>(0)?,
                Expected {
                    path: r.get(1)?,
                    kind: if r.get(2)? { Kind::Dir } else { Kind::File },
                    size: r.get::<_, i64>(3)? as u64,
                    sha1: r.get(4)?,
                },
            ))
        })?;
        let out = rows.collect::<rusqlite::Result<_>>()?;
        drop(stmt);
        self.db
            .prepare_cached("INSERT OR IGNORE INTO listed VALUES (?1)")?
            .execute([parent])?;
        Ok(out)
    }

    /// Drop the expected row of `path` (a `--map` home folder: it is not under its parent in
    /// Box but in its owner's root, and is walked from there).
    pub fn remove(&mut self, path: &str) -> rusqlite::Result<()> {
        let (parent, name) = split_key(path);
        self.db
            .prepare_cached("DELETE FROM expected WHERE parent = ?1 AND name = ?2")?
            .execute(params![parent, name])?;
        Ok(())
    }

    /// Record a difference.
    pub fn push(&mut self, d: &Difference) -> rusqlite::Result<()> {
        self.db
            .prepare_cached("INSERT INTO diffs VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)")?
            .execute(params![
                d.path,
                d.problem as i64,
                d.expected_size.map(|s| s as i64),
                d.box_size.map(|s| s as i64),
                d.expected_sha1,
                d.box_sha1,
                d.box_id
            ])?;
        Ok(())
    }

    /// Every expected row whose parent folder was never listed (missing, or not a folder in
    /// Box) is missing too.
    pub fn sweep_missing(&mut self) -> rusqlite::Result<()> {
        self.db.execute(
            "INSERT INTO diffs SELECT path, ?1,
               CASE WHEN is_dir THEN NULL ELSE size END, NULL, sha1, '', ''
             FROM expected WHERE parent NOT IN (SELECT parent FROM listed)",
            [Problem::Missing as i64],
        )?;
        self.db.execute_batch("COMMIT;")?;
        self.in_load = false;
        Ok(())
    }

    /// Every difference, sorted by path, problem and Box id (a sort SQLite spills to disk).
    pub fn differences(
        &self,
        each: &mut dyn FnMut(Difference) -> Result<(), super::VerifyError>,
    ) -> Result<(), super::VerifyError> {
        let mut stmt = self.db.prepare(
            "SELECT path, problem, expected_size, box_size, expected_sha1, box_sha1, box_id
             FROM diffs ORDER BY path, problem, box_id",
        )?;
        let mut rows = stmt.query([])?;
        while let Some(r) = rows.next()? {
            let problem: i64 = r.get(1)?;
            each(Difference {
                path: r.get(0)?,
                problem: Problem::from_index(problem),
                expected_size: r.get::<_, Option<i64>>(2)?.map(|s| s as u64),
                box_size: r.get::<_, Option<i64>>(3)?.map(|s| s as u64),
                expected_sha1: r.get(4)?,
                box_sha1: r.get(5)?,
                box_id: r.get(6)?,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_at_the_last_slash_lower_cased() {
        assert_eq!(split_key("A/B/c.TXT"), ("a/b".into(), "c.txt".into()));
        assert_eq!(split_key("Top"), (String::new(), "top".into()));
    }

    #[test]
    fn a_duplicate_key_keeps_the_smallest_row_whatever_the_order() {
        let a = Expected {
            path: "D/x".into(),
            kind: Kind::File,
            size: 1,
            sha1: String::new(),
        };
        let b = Expected {
            path: "d/X".into(),
            ..a.clone()
        };
        for order in [[&a, &b], [&b, &a]] {
            let mut idx = Index::open().unwrap();
            for e in order {
                idx.add(e).unwrap();
            }
            assert_eq!(idx.loaded().unwrap(), 1);
            let rows = idx.take_folder("d").unwrap();
            assert_eq!(rows["x"].path, "D/x");
        }
    }
}
