//! The scan thread: walk and hash the tree, write every row to the manifest, plan it, and feed
//! the planned work to the upload stage through a bounded channel (the hand-off from sync to
//! async code: `blocking_send` makes a fast scan wait for the uploads).
use std::io;
use std::path::{Path, PathBuf};

use tokio::sync::mpsc::{Sender, UnboundedSender};

use super::error::{LocalError, MigrateError};
use crate::fsutil::{AtomicFile, partial_path};
use crate::manifest::write::Writer;
use crate::model::{Cancel, Event};
use crate::plan::{Planner, Work};
use crate::scan::ScanOptions;

/// The planner, and `--map`'s owners: a file under a source is bound to its owner's identity.
pub(super) struct Plan {
    pub planner: Planner,
    pub owners: Option<super::OwnerIds>,
}

impl Plan {
    fn plan(
        &mut self,
        row: crate::manifest::ManifestRow,
    ) -> Result<Work, crate::state::StateError> {
        let mut w = self.planner.plan(row)?;
        if let (Work::File(t), Some(o)) = (&mut w, &self.owners)
            && let Some(id) = o.owner_id(&t.path)
        {
            t.as_user = Some(id.to_string());
        }
        Ok(w)
    }
}

/// Where the partial manifest of an interrupted run waits while the next run reads it:
/// `manifest.csv.resume` beside `manifest.csv`.
pub(super) fn resume_path(manifest: &Path) -> PathBuf {
    let mut name = manifest.file_name().unwrap_or_default().to_os_string();
    name.push(".resume");
    manifest.with_file_name(name)
}

/// Scan, record and plan. The manifest is written as `<manifest>.partial`, flushed row by row,
/// and renamed into place when the scan is complete. A run that stops early (cancelled, killed,
/// failed) leaves the partial file: the next run moves it to `<manifest>.resume` and reuses the
/// SHA-1s of its unchanged files, as it reuses the last complete manifest's,
/// so a crash loses at most the rows in flight. Emits `Planned` per row and `ScanFinished` at
/// the end (also when the scan failed or was cancelled).
pub(super) fn scan_and_plan(
    opts: &ScanOptions,
    manifest: &Path,
    mut planner: Plan,
    work: Sender<Work>,
    events: UnboundedSender<Event>,
    cancel: &Cancel,
) -> Result<(), MigrateError> {
    if let Some(dir) = manifest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LocalError::new("create", dir, e))?;
    }
    let partial = partial_path(manifest);
    let resume = resume_path(manifest);
    if partial.is_file() {
        // The newest rows are the interrupted run's; an older `.resume` is covered by them up
        // to where that run stopped.
        std::fs::rename(&partial, &resume)
            .map_err(|e| LocalError::new(format!("rename {} to", partial.display()), &resume, e))?;
    }
    let mut opts = opts.clone();
    opts.resume = resume.is_file().then(|| resume.clone());
    let mut file =
        AtomicFile::create(manifest).map_err(|e| LocalError::new("create", &partial, e))?;
    let mut out = Writer::new(&mut file).map_err(MigrateError::Manifest)?;
    let result = crate::scan::scan(&opts, |row| {
        if cancel.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        out.write(&row).map_err(io::Error::other)?;
        // One write per row: what a kill leaves in the partial manifest is every row handed on.
        out.flush().map_err(io::Error::other)?;
        let kind = row.kind;
        let w = planner.plan(row).map_err(io::Error::other)?;
        let bytes = match &w {
            Work::File(t) => t.size,
            _ => 0,
        };
        let _ = events.send(Event::Planned { bytes, kind });
        work.blocking_send(w)
            .map_err(|_| io::Error::other("the upload stage stopped"))
    });
    let _ = events.send(Event::ScanFinished);
    drop(work);
    let summary = match result {
        Ok(summary) => summary,
        Err(source) => {
            // Keep what was scanned for the next run.
            let kept = out.flush().map_err(io::Error::other);
            drop(out);
            if let Err(e) = kept.and_then(|()| file.keep_partial()) {
                tracing::warn!(
                    "cannot keep the partial manifest {}: {e}",
                    partial.display()
                );
            }
            return Err(MigrateError::Scan {
                root: opts.root.clone(),
                source,
            });
        }
    };
    out.flush().map_err(MigrateError::Manifest)?;
    drop(out);
    file.commit()
        .map_err(|e| LocalError::new("write", manifest, e))?;
    if opts.resume.is_some() {
        let _ = std::fs::remove_file(&resume);
    }
    tracing::info!(files = summary.files, dirs = summary.dirs, "scan finished");
    Ok(())
}
