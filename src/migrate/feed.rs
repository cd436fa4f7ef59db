//! The scan thread: walk and hash the tree, write every row to the manifest, plan it, and feed
//! the planned work to the upload stage through a bounded channel (the hand-off from sync to
//! async code: `blocking_send` makes a fast scan wait for the uploads).
use std::io;
use std::path::Path;

use tokio::sync::mpsc::{Sender, UnboundedSender};

use super::error::{LocalError, MigrateError};
use crate::fsutil::{AtomicFile, partial_path};
use crate::manifest::write::Writer;
use crate::model::{Cancel, Event};
use crate::scan::ScanOptions;
use crate::upload::{Planner, Work};

/// Scan, record and plan. The manifest goes to a temp file renamed at the end, so a crash keeps
/// the previous manifest for the next run's quick check. Emits `Planned` per row and
/// `ScanFinished` at the end (also when the scan failed or was cancelled).
pub(super) fn scan_and_plan(
    opts: &ScanOptions,
    manifest: &Path,
    mut planner: Planner,
    work: Sender<Work>,
    events: UnboundedSender<Event>,
    cancel: &Cancel,
) -> Result<(), MigrateError> {
    if let Some(dir) = manifest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| LocalError::new("create", dir, e))?;
    }
    let mut file = AtomicFile::create(manifest)
        .map_err(|e| LocalError::new("create", partial_path(manifest), e))?;
    let mut out = Writer::new(&mut file).map_err(MigrateError::Manifest)?;
    let result = crate::scan::scan(opts, |row| {
        if cancel.is_cancelled() {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        out.write(&row).map_err(io::Error::other)?;
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
    let summary = result.map_err(|source| MigrateError::Scan {
        root: opts.root.clone(),
        source,
    })?;
    out.flush().map_err(MigrateError::Manifest)?;
    drop(out);
    file.commit()
        .map_err(|e| LocalError::new("write", manifest, e))?;
    tracing::info!(files = summary.files, dirs = summary.dirs, "scan finished");
    Ok(())
}
