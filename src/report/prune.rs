//! `migrate --keep-reports N`: a nightly job names each night's reports by date (`--report
//! reports/%Y-%m-%d/shard-1.csv`); this keeps the newest N nights and removes the older ones,
//! so a CronJob's history stays bounded on its volume. Only entries whose name parses with the
//! pattern's own date fields are touched: nothing else in that directory is ever removed.
use std::path::{Component, Path, PathBuf};

use chrono::{NaiveDate, NaiveDateTime};

/// Why pruning could not run.
#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// The report pattern has no strftime field: there are no dated reports to keep.
    #[error("--keep-reports needs a --report named by date (e.g. reports/%Y-%m-%d.csv), not {0}")]
    NotDated(String),
    /// Listing or removing failed.
    #[error("pruning old reports in {path}: {source}")]
    Io {
        /// The directory or entry.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// The directory holding the dated entries and the strftime format of their names: the first
/// component of `pattern` with a `%` field (a file, or a directory per night).
pub fn dated_component(pattern: &Path) -> Result<(PathBuf, String), PruneError> {
    let not_dated = || PruneError::NotDated(pattern.display().to_string());
    let mut base = PathBuf::new();
    for c in pattern.components() {
        if let Component::Normal(name) = c
            && let Some(name) = name.to_str().filter(|n| n.contains('%'))
        {
            return Ok((base, name.to_string()));
        }
        base.push(c);
    }
    Err(not_dated())
}

/// When an entry named `name` was made, read with `format`; `None` if it is not one of them.
fn date_of(name: &str, format: &str) -> Option<NaiveDateTime> {
    NaiveDateTime::parse_from_str(name, format)
        .ok()
        .or_else(|| {
            NaiveDate::parse_from_str(name, format)
                .ok()
                .and_then(|d| d.and_hms_opt(0, 0, 0))
        })
}

/// Keep the newest `keep` dated entries of `pattern` (files or directories), remove the rest;
/// returns what was removed. An entry already gone (another shard pruned it first) is fine.
pub fn prune_dated(pattern: &Path, keep: usize) -> Result<Vec<PathBuf>, PruneError> {
    let (base, format) = dated_component(pattern)?;
    let dir = if base.as_os_str().is_empty() {
        Path::new(".")
    } else {
        base.as_path()
    };
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| PruneError::Io { path, source }
    };
    let mut dated: Vec<(NaiveDateTime, PathBuf)> = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        if let Some(at) = entry.file_name().to_str().and_then(|n| date_of(n, &format)) {
            dated.push((at, entry.path()));
        }
    }
    dated.sort();
    let old = dated.len().saturating_sub(keep);
    let mut removed = Vec::new();
    for (_, path) in dated.into_iter().take(old) {
        let result = if path.is_dir() {
            std::fs::remove_dir_all(&path)
        } else {
            std::fs::remove_file(&path)
        };
        match result {
            Ok(()) => removed.push(path),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(io(&path)(e)),
        }
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_nights_and_nothing_else_is_touched() {
        let dir = tempfile::tempdir().unwrap();
        let nightly = dir.path().join("nightly");
        for day in 1..=9 {
            let night = nightly.join(format!("2026-12-0{day}"));
            std::fs::create_dir_all(&night).unwrap();
            std::fs::write(night.join("shard-1.csv"), "x").unwrap();
        }
        std::fs::write(nightly.join("README"), "keep me").unwrap();
        std::fs::create_dir_all(nightly.join("2026-13-40")).unwrap();
        let pattern = nightly.join("%Y-%m-%d/shard-1.csv");
        let removed = prune_dated(&pattern, 3).unwrap();
        assert_eq!(removed.len(), 6, "{removed:?}");
        let mut left: Vec<String> = std::fs::read_dir(&nightly)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "2026-12-07",
                "2026-12-08",
                "2026-12-09",
                "2026-13-40",
                "README"
            ]
        );
        // Dated files rather than directories, by the hour.
        let flat = dir.path().join("flat");
        std::fs::create_dir_all(&flat).unwrap();
        for h in 10..14 {
            std::fs::write(flat.join(format!("r-2026-12-01T{h}.csv")), "x").unwrap();
        }
        let removed = prune_dated(&flat.join("r-%Y-%m-%dT%H.csv"), 1).unwrap();
        assert_eq!(removed.len(), 3);
        assert!(flat.join("r-2026-12-01T13.csv").exists());
        assert!(matches!(
            prune_dated(Path::new("reports/plain.csv"), 3),
            Err(PruneError::NotDated(_))
        ));
    }
}
