//! A scan written straight into a manifest: to any writer (stdout), or to a file that is written
//! beside its final name and renamed at the end, so a failed scan never leaves half a manifest.
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use super::{ScanError, ScanOptions, ScanSummary, scan};
use crate::fsutil::{AtomicFile, partial_path};
use crate::manifest::write::{WriteError, Writer};

/// Writing a scan's manifest failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// The scan itself failed.
    #[error("scan of {} failed", root.display())]
    Scan {
        /// The scanned root.
        root: PathBuf,
        /// Why.
        #[source]
        source: ScanError,
    },
    /// The manifest could not be written.
    #[error("manifest")]
    Write(#[source] WriteError),
    /// The manifest file could not be created or renamed into place.
    #[error("cannot {op} {}", path.display())]
    File {
        /// What was being done.
        op: String,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

/// Scan into a manifest on `out`, flushed at the end.
pub fn write_manifest(opts: &ScanOptions, out: impl Write) -> Result<ScanSummary, OutputError> {
    let mut w = Writer::new(out).map_err(OutputError::Write)?;
    let summary = scan(opts, |row| w.write(&row).map_err(io::Error::other)).map_err(|source| {
        OutputError::Scan {
            root: opts.root.clone(),
            source,
        }
    })?;
    w.flush().map_err(OutputError::Write)?;
    Ok(summary)
}

/// Scan into the manifest file `path`: written to `<path>.partial`, renamed over `path` once
/// complete, removed on failure.
pub fn write_manifest_file(opts: &ScanOptions, path: &Path) -> Result<ScanSummary, OutputError> {
    // Dropped on error: the temporary file goes, and the previous manifest stays.
    let mut file = AtomicFile::create(path).map_err(|source| OutputError::File {
        op: "create manifest".into(),
        path: partial_path(path),
        source,
    })?;
    let summary = write_manifest(opts, &mut file)?;
    file.commit().map_err(|source| OutputError::File {
        op: "write manifest".into(),
        path: path.to_path_buf(),
        source,
    })?;
    Ok(summary)
}
