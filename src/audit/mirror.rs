//! `audit --state DIR`: what the next `migrate --track-moves --delete-missing` would do against
//! that journal — moves, deletions and uploads — and the upload budget move tracking saves
//! (each moved file is one API call instead of one upload under Box's per-user upload rate).
use std::collections::BTreeMap;
use std::path::Path;

use serde::Serialize;

use super::{AuditError, read_err};
use crate::manifest::Kind;
use crate::manifest::read::Reader;
use crate::plan::deletes::plan_deletes;
use crate::plan::moves::{SourceFile, SourceTree, plan_moves};
use crate::state::{StateError, open_journal};

/// The next mirror run's changes, forecast from the manifest and the journal.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MirrorForecast {
    /// Box calls the moves take (a whole folder is one).
    pub move_calls: u64,
    /// Files that reach their new path by a move.
    pub files_moved: u64,
    /// Bytes that need not be uploaded again.
    pub bytes_saved: u64,
    /// Files that would go to Box's trash.
    pub files_deleted: u64,
    /// Box calls the deletions take (a whole folder is one).
    pub delete_calls: u64,
    /// Files the run would still upload (new or changed, not moved).
    pub uploads: u64,
    /// Seconds of one identity's upload budget the moves save (`files_moved` uploads at
    /// `--uploads-per-minute`).
    pub upload_budget_saved_s: f64,
}

impl MirrorForecast {
    /// The lines the text summary prints.
    pub fn render(&self) -> String {
        format!(
            "next mirror run (--track-moves --delete-missing) against the state journal:\n  \
             moves: {} file(s) in {} call(s), {} byte(s) not uploaded again; upload budget saved: {:.0} s\n  \
             deletions: {} file(s) to Box's trash in {} call(s)\n  uploads: {}\n",
            self.files_moved,
            self.move_calls,
            self.bytes_saved,
            self.upload_budget_saved_s,
            self.files_deleted,
            self.delete_calls,
            self.uploads
        )
    }
}

fn state_err(e: StateError) -> AuditError {
    AuditError::State(Box::new(e))
}

/// Forecast the next mirror run of `manifest` against the journal in `state` (`None` if there
/// is no journal there yet).
pub fn forecast(
    manifest: &Path,
    state: &Path,
    uploads_per_min: f64,
) -> Result<Option<MirrorForecast>, AuditError> {
    let Some(journal) = open_journal(state).map_err(state_err)? else {
        return Ok(None);
    };
    let files = journal.journal_files().map_err(state_err)?;
    let folders = journal.journal_folders().map_err(state_err)?;
    let (mut src_files, mut dirs) = (Vec::new(), Vec::new());
    for row in Reader::open(manifest).map_err(read_err("manifest", manifest))? {
        let row = row.map_err(read_err("manifest", manifest))?;
        match row.kind {
            Kind::Dir => dirs.push(row.path),
            Kind::File => src_files.push(SourceFile {
                sha1: if row.status.is_ok() {
                    row.sha1
                } else {
                    String::new()
                },
                path: row.path,
                size: row.size,
            }),
        }
    }
    let tree = SourceTree::new(src_files, dirs);
    let moves = plan_moves(&files, &folders, &tree);
    let deletes = plan_deletes(&files, &folders, &tree, &moves);
    let done: BTreeMap<&str, (u64, &str)> = files
        .iter()
        .map(|f| (f.path.as_str(), (f.size, f.sha1.as_str())))
        .collect();
    let moved: std::collections::BTreeSet<&str> = moves.new_paths().collect();
    let uploads = tree
        .files
        .iter()
        .filter(|(p, (_, sha1))| !sha1.is_empty() && !moved.contains(p.as_str()))
        .filter(|(p, (size, sha1))| done.get(p.as_str()) != Some(&(*size, sha1.as_str())))
        .count() as u64;
    let files_moved = moves.files_moved() as u64;
    let per_s = (uploads_per_min / 60.0).max(f64::MIN_POSITIVE);
    Ok(Some(MirrorForecast {
        move_calls: moves.calls() as u64,
        files_moved,
        bytes_saved: moves.bytes_saved(),
        files_deleted: deletes.file_count(),
        delete_calls: deletes.calls() as u64,
        uploads,
        upload_budget_saved_s: files_moved as f64 / per_s,
    }))
}
