//! Writing a file so that readers see the old version or the complete new one, never a torn
//! one: write `<name>.partial` beside it, fsync, rename over it. One helper for every output
//! that a crash must not leave half-written (manifests, merged reports). Also the private
//! scratch database that verify and audit index a whole tree in, so memory stays bounded.
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

/// A file being written under a temporary name. [`AtomicFile::commit`] moves it into place;
/// dropping it uncommitted (an error, a panic, `?`) removes the temporary file.
#[derive(Debug)]
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    file: Option<BufWriter<File>>,
}

/// `dir/ALL.csv` → `dir/ALL.csv.partial`: the same directory, so the rename stays on one
/// filesystem and is atomic.
pub fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".partial");
    path.with_file_name(name)
}

/// Create the directory `path` will be written in, if missing (outputs may name new folders,
/// e.g. a report per night under `reports/2026-12-02/`).
pub fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => std::fs::create_dir_all(dir),
        _ => Ok(()),
    }
}

/// A path with strftime fields (`%Y-%m-%d`) filled in from `now`; a path without `%` comes back
/// as is. An unknown field is an error naming the path.
pub fn dated_path(
    path: &Path,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<PathBuf, DatedPathError> {
    use chrono::format::{Item, StrftimeItems};
    let Some(text) = path.to_str().filter(|t| t.contains('%')) else {
        return Ok(path.to_path_buf());
    };
    let items: Vec<Item<'_>> = StrftimeItems::new(text).collect();
    if items.iter().any(|i| matches!(i, Item::Error)) {
        return Err(DatedPathError {
            path: text.to_string(),
        });
    }
    Ok(PathBuf::from(
        now.format_with_items(items.into_iter()).to_string(),
    ))
}

/// A path whose strftime fields do not parse.
#[derive(Debug, thiserror::Error)]
#[error(
    "{path}: not a valid strftime pattern (use fields like %Y, %m, %d, %H, %M; write %% for a literal %)"
)]
pub struct DatedPathError {
    path: String,
}

impl AtomicFile {
    /// Create (or truncate) `<path>.partial` for writing, creating its directory if missing.
    pub fn create(path: &Path) -> io::Result<AtomicFile> {
        create_parent(path)?;
        let tmp = partial_path(path);
        let file = File::create(&tmp)?;
        Ok(AtomicFile {
            path: path.to_owned(),
            tmp,
            file: Some(BufWriter::new(file)),
        })
    }

    /// The temporary file, for writers that open it by name themselves.
    pub fn temp_path(&self) -> &Path {
        &self.tmp
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Flush, fsync, and rename over the final path; then fsync the directory so the rename
    /// itself survives a crash (best effort: not every filesystem allows it).
    pub fn commit(mut self) -> io::Result<()> {
        let Some(buffered) = self.file.take() else {
            return Ok(());
        };
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        // Data written through other handles to the same file (see `temp_path`) is synced too.
        file.sync_all()?;
        drop(file);
        std::fs::rename(&self.tmp, &self.path)?;
        let dir = match self.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    }
}

impl AtomicFile {
    /// Flush and fsync what was written, and leave it under the temporary name instead of
    /// moving it into place: an interrupted scan's rows, for the next run to resume from.
    pub fn keep_partial(mut self) -> io::Result<()> {
        let Some(buffered) = self.file.take() else {
            return Ok(());
        };
        let file = buffered.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("atomic file already committed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// Page cache of a [`scratch_db`]: its memory stays this size whatever the tree's size (pages
/// and sorts beyond it spill to temporary files).
pub const SCRATCH_CACHE_KIB: i64 = 16 * 1024;

/// A private temporary SQLite database (deleted when closed) with `schema` created and a
/// transaction open: no journal and no fsync (nothing in it outlives the process), a page cache
/// capped at [`SCRATCH_CACHE_KIB`].
pub fn scratch_db(schema: &str) -> rusqlite::Result<rusqlite::Connection> {
    let db = rusqlite::Connection::open("")?;
    db.execute_batch(&format!(
        "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA temp_store=FILE;
         PRAGMA cache_size=-{SCRATCH_CACHE_KIB};
         {schema}
         BEGIN;"
    ))?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dated_paths_fill_strftime_fields() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T03:04:05Z")
            .unwrap()
            .to_utc();
        let p = |s: &str| dated_path(Path::new(s), now).map_err(|e| e.to_string());
        assert_eq!(p("r/%Y-%m-%d.csv"), Ok(PathBuf::from("r/2026-12-02.csv")));
        assert_eq!(p("r/%Y/%H%M.csv"), Ok(PathBuf::from("r/2026/0304.csv")));
        assert_eq!(p("plain.csv"), Ok(PathBuf::from("plain.csv")));
        assert_eq!(p("100%%.csv"), Ok(PathBuf::from("100%.csv")));
        assert!(p("r/%Q.csv").unwrap_err().contains("not a valid strftime"));
    }

    #[test]
    fn commit_replaces_the_file_and_leaves_no_partial() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "old").unwrap();
        let mut f = AtomicFile::create(&p).unwrap();
        assert_eq!(f.temp_path(), dir.path().join("m.csv.partial"));
        f.write_all(b"new").unwrap();
        // Until the commit, readers still see the old version.
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "new");
        assert!(!dir.path().join("m.csv.partial").exists());
    }

    #[test]
    fn dropping_uncommitted_keeps_the_old_file_and_removes_the_partial() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("m.csv");
        std::fs::write(&p, "old").unwrap();
        let mut f = AtomicFile::create(&p).unwrap();
        f.write_all(b"half").unwrap();
        drop(f);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "old");
        assert!(!dir.path().join("m.csv.partial").exists());
    }

    #[test]
    fn a_writer_that_opens_the_temp_path_itself_is_committed_too() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("r.csv");
        let f = AtomicFile::create(&p).unwrap();
        std::fs::write(f.temp_path(), "rows").unwrap();
        f.commit().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "rows");
    }
}
