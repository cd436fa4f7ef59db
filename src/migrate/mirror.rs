//! The mirror phase of `migrate --track-moves` / `--delete-missing`: before the uploads, scan
//! the whole source once, plan the moves and deletions against the journal (`plan::moves`,
//! `plan::deletes`), check the guards (refusing exits 2 before any change), and apply them:
//! folder moves first, then file moves, then the trash.
//!
//! Each applied change is written to the journal and committed before the next, and before the
//! upload planner opens its reader, so the uploads see the moved paths as done. A run killed
//! between a Box call and its journal commit repeats the call on the re-run: Box then answers
//! 412 for the move (read back: already in place, done) or 404 for the trash (already gone,
//! done), so no change is applied twice (`box_api::items`).
use std::collections::{BTreeMap, BTreeSet};

use crate::box_api::model::Item;
use crate::box_api::{ApiError, BoxClient, ErrorKind};
use crate::manifest::Kind;
use crate::model::{Action, Event, ReportRow};
use crate::plan::deletes::{
    DeletePlan, DeleteRefused, FileDelete, MaxDelete, ScanHealth, check_guards, plan_deletes,
};
use crate::plan::moves::{
    FileMove, JournalFile, MovePlan, SourceFile, SourceTree, plan_moves, split_parent,
};
use crate::scan::ScanOptions;
use crate::state::{StateError, StateWriter};

/// What the mirror phase may do.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct MirrorOptions {
    /// `--track-moves`.
    pub track_moves: bool,
    /// `--delete-missing`.
    pub delete_missing: bool,
    /// `--max-delete` (default 10% of the journal's files).
    pub max_delete: MaxDelete,
}

impl MirrorOptions {
    /// Whether there is a mirror phase at all.
    pub fn enabled(&self) -> bool {
        self.track_moves || self.delete_missing
    }
}

/// The planned changes of one mirror run.
#[derive(Debug, Clone, Default)]
pub struct MirrorPlan {
    /// Moves (empty without `--track-moves`).
    pub moves: MovePlan,
    /// Deletions (empty without `--delete-missing`).
    pub deletes: DeletePlan,
}

/// What the source holds, as one full scan saw it.
#[derive(Debug, Clone, Default)]
pub struct Prescan {
    /// Files and directories.
    pub tree: SourceTree,
    /// Root present, read errors.
    pub health: ScanHealth,
    /// Entries found (files and directories).
    pub entries: u64,
}

/// Scan the source once, fully (SHA-1s come from the journal for unchanged files when
/// `opts.known` is set). A missing root is a health fact, not an error: the guard names it.
pub fn prescan(opts: &ScanOptions) -> Prescan {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let mut read_errors = 0u64;
    let scanned = crate::scan::scan(opts, |row| {
        use crate::manifest::row::{SkipReason, Status};
        if matches!(
            row.status,
            Status::Skipped(SkipReason::PermissionDenied | SkipReason::ReadError)
        ) {
            read_errors += 1;
        }
        match row.kind {
            Kind::Dir => dirs.push(row.path),
            Kind::File => files.push(SourceFile {
                path: row.path,
                size: row.size,
                sha1: if row.status.is_ok() {
                    row.sha1
                } else {
                    String::new()
                },
            }),
        }
        Ok(())
    });
    let entries = (files.len() + dirs.len()) as u64;
    Prescan {
        tree: SourceTree::new(files, dirs),
        health: ScanHealth {
            root_exists: scanned.is_ok() || opts.root.is_dir(),
            read_errors,
        },
        entries,
    }
}

/// Plan the mirror run and check the guards (`Err`: nothing may be deleted; exit 2).
pub fn plan(
    opts: &MirrorOptions,
    journal: &[JournalFile],
    folders: &BTreeMap<String, String>,
    scan: &Prescan,
) -> Result<MirrorPlan, DeleteRefused> {
    let moves = if opts.track_moves {
        plan_moves(journal, folders, &scan.tree)
    } else {
        MovePlan::default()
    };
    let deletes = if opts.delete_missing {
        plan_deletes(journal, folders, &scan.tree, &moves)
    } else {
        DeletePlan::default()
    };
    check_guards(
        &deletes,
        scan.health,
        scan.entries,
        journal.len() as u64,
        opts.max_delete,
    )?;
    Ok(MirrorPlan { moves, deletes })
}

/// The rows a dry run reports: `would_move` and `would_delete`, nothing changed.
pub fn dry_rows(plan: &MirrorPlan) -> Vec<ReportRow> {
    let mut rows = Vec::new();
    for f in &plan.moves.folders {
        let mut r = ReportRow::new(&f.new_path, Kind::Dir, 0, "").with(Action::WouldMove);
        r.old_path = f.old_path.clone();
        r.box_folder_id = f.box_folder_id.clone();
        rows.push(r);
    }
    let folder_files = plan.moves.folders.iter().flat_map(|f| &f.files);
    for m in plan.moves.files.iter().chain(folder_files) {
        rows.push(move_row(m, Action::WouldMove));
    }
    for f in &plan.deletes.folders {
        let mut r = ReportRow::new(&f.path, Kind::Dir, 0, "").with(Action::WouldDelete);
        r.box_folder_id = f.box_folder_id.clone();
        rows.push(r);
        rows.extend(f.files.iter().map(|d| delete_row(d, Action::WouldDelete)));
    }
    rows.extend(
        plan.deletes
            .files
            .iter()
            .map(|d| delete_row(d, Action::WouldDelete)),
    );
    rows
}

fn move_row(m: &FileMove, action: Action) -> ReportRow {
    let mut r = ReportRow::new(&m.new_path, Kind::File, m.size, &m.sha1).with(action);
    r.old_path = m.old_path.clone();
    r.box_file_id = m.box_file_id.clone();
    r.box_file_version_id = m.box_file_version_id.clone();
    r
}

fn delete_row(d: &FileDelete, action: Action) -> ReportRow {
    let mut r = ReportRow::new(&d.path, Kind::File, d.size, &d.sha1).with(action);
    r.box_file_id = d.box_file_id.clone();
    r.box_file_version_id = d.box_file_version_id.clone();
    r
}

fn failed(mut row: ReportRow, e: &ApiError) -> ReportRow {
    row.action = Some(Action::Failed);
    row.error_code = e.code.clone().unwrap_or_else(|| "mirror_failed".into());
    row.error_message = e.to_string();
    row
}

fn changed_in_box(mut row: ReportRow) -> ReportRow {
    row.action = Some(Action::Conflict);
    row.with_error(
        "conflict_changed_in_box",
        "changed in Box since boxlift uploaded it: kept",
    )
}

/// The file as Box holds it now, if it is still the version the journal knows; `Ok(None)`
/// if it changed in Box since (someone's new version: keep it). 404: `Err` with `NotFound`.
async fn if_unchanged(
    client: &BoxClient,
    id: &str,
    version: &str,
) -> Result<Option<crate::box_api::File>, ApiError> {
    let f = client.get_file(id).await?;
    let now = f.file_version.as_ref().map(|v| v.id.as_str()).unwrap_or("");
    Ok((version.is_empty() || now == version).then_some(f))
}

/// Whether an item Box returned already sits under `parent` as `name` (a move whose reply,
/// or whose journal record, a killed run lost): then it is not moved again.
fn already_at(
    item_parent: Option<&str>,
    item_name: Option<&str>,
    parent: &str,
    name: &str,
) -> bool {
    item_parent == Some(parent) && item_name == Some(name)
}

/// Applies the plan, one committed journal record per change.
#[derive(Debug)]
pub struct Applier<'a> {
    /// The Box client.
    pub client: &'a BoxClient,
    /// The destination root folder id.
    pub dest: &'a str,
    /// The journal.
    pub journal: &'a mut StateWriter,
    /// Rows made, for the report (the journal already has them).
    pub rows: Vec<ReportRow>,
}

impl Applier<'_> {
    fn record(&mut self, row: ReportRow) -> Result<(), StateError> {
        self.journal.apply(&Event::FileDone(row.clone()))?;
        self.journal.commit()?;
        self.rows.push(row);
        Ok(())
    }

    async fn parent_id(&self, path: &str) -> Result<String, ApiError> {
        self.client
            .ensure_path(self.dest, split_parent(path).0)
            .await
    }

    /// Apply everything: folder moves, file moves, then deletions.
    pub async fn apply(&mut self, plan: &MirrorPlan) -> Result<(), StateError> {
        for f in &plan.moves.folders {
            let mut row = ReportRow::new(&f.new_path, Kind::Dir, 0, "").with(Action::Moved);
            row.old_path = f.old_path.clone();
            row.box_folder_id = f.box_folder_id.clone();
            let name = split_parent(&f.new_path).1;
            let done = self.move_folder(&f.box_folder_id, &f.new_path, name).await;
            match done {
                Ok(()) => {
                    self.record(row)?;
                    for m in &f.files {
                        self.record(move_row(m, Action::Moved))?;
                    }
                }
                Err(e) => self.record(failed(row, &e))?,
            }
        }
        for m in &plan.moves.files {
            let row = self.move_file(m).await;
            self.record(row)?;
        }
        for f in &plan.deletes.folders {
            self.delete_folder(f).await?;
        }
        for d in &plan.deletes.files {
            let row = self.delete_file(d).await;
            self.record(row)?;
        }
        Ok(())
    }

    /// One `PUT /folders/{id}`, unless Box shows the folder already in place (a killed run's
    /// move whose journal record was lost).
    async fn move_folder(&self, id: &str, new_path: &str, name: &str) -> Result<(), ApiError> {
        let parent = self.parent_id(new_path).await?;
        let now = self.client.get_folder(id).await?;
        let at = now.parent.as_ref().map(|p| p.id.as_str());
        if already_at(at, now.name.as_deref(), &parent, name) {
            return Ok(());
        }
        self.client
            .move_folder(id, Some(&parent), Some(name), None)
            .await
            .map(|_| ())
    }

    async fn move_file(&self, m: &FileMove) -> ReportRow {
        let row = move_row(m, Action::Moved);
        let file = match if_unchanged(self.client, &m.box_file_id, &m.box_file_version_id).await {
            Ok(Some(f)) => f,
            Ok(None) => return changed_in_box(row),
            Err(e) => return failed(row, &e),
        };
        let (parent_path, name) = m.new_parent_and_name();
        let parent = match self.client.ensure_path(self.dest, parent_path).await {
            Ok(p) => p,
            Err(e) => return failed(row, &e),
        };
        let at = file.parent.as_ref().map(|p| p.id.as_str());
        if already_at(at, file.name.as_deref(), &parent, name) {
            let mut row = row;
            row.box_folder_id = parent;
            return row;
        }
        let etag = file.etag.unwrap_or_default();
        let if_match = (!etag.is_empty()).then_some(etag.as_str());
        match self
            .client
            .move_file(&m.box_file_id, Some(&parent), Some(name), if_match)
            .await
        {
            Ok(f) => {
                let mut row = row;
                row.box_folder_id = parent;
                if let Some(v) = f.file_version {
                    row.box_file_version_id = v.id;
                }
                row
            }
            Err(e) if e.kind == ErrorKind::Precondition => changed_in_box(row),
            Err(e) => failed(row, &e),
        }
    }

    async fn delete_file(&self, d: &FileDelete) -> ReportRow {
        let row = delete_row(d, Action::Deleted);
        let etag = match if_unchanged(self.client, &d.box_file_id, &d.box_file_version_id).await {
            Ok(Some(f)) => f.etag.unwrap_or_default(),
            Ok(None) => return changed_in_box(row),
            // Already gone (an earlier run's trash whose reply was lost): done.
            Err(e) if e.kind == ErrorKind::NotFound => return row,
            Err(e) => return failed(row, &e),
        };
        let if_match = (!etag.is_empty()).then_some(etag.as_str());
        match self.client.trash_file(&d.box_file_id, if_match).await {
            Ok(()) => row,
            Err(e) if e.kind == ErrorKind::Precondition => changed_in_box(row),
            Err(e) => failed(row, &e),
        }
    }

    /// One recursive trash when Box holds only what the journal knows inside the folder;
    /// else the known files one by one (someone else's items stay, and so does the folder).
    async fn delete_folder(
        &mut self,
        f: &crate::plan::deletes::FolderDelete,
    ) -> Result<(), StateError> {
        let files: BTreeMap<&str, &FileDelete> = f
            .files
            .iter()
            .map(|d| (d.box_file_id.as_str(), d))
            .collect();
        let row = || {
            let mut r = ReportRow::new(&f.path, Kind::Dir, 0, "").with(Action::Deleted);
            r.box_folder_id = f.box_folder_id.clone();
            r
        };
        match only_known(self.client, &f.box_folder_id, &files).await {
            Ok(true) => match self.client.trash_folder(&f.box_folder_id, true, None).await {
                Ok(()) => {
                    for d in &f.files {
                        self.record(delete_row(d, Action::Deleted))?;
                    }
                    self.record(row())
                }
                Err(e) => self.record(failed(row(), &e)),
            },
            // Gone already: an earlier run's trash whose reply was lost.
            Err(e) if e.kind == ErrorKind::NotFound => {
                for d in &f.files {
                    self.record(delete_row(d, Action::Deleted))?;
                }
                self.record(row())
            }
            Ok(false) | Err(_) => {
                for d in &f.files {
                    let r = self.delete_file(d).await;
                    self.record(r)?;
                }
                Ok(())
            }
        }
    }
}

/// Whether the Box folder's whole subtree holds only the journal's files (by id, unchanged
/// since: same SHA-1) and folders (any folder inside is searched in turn).
async fn only_known(
    client: &BoxClient,
    folder_id: &str,
    files: &BTreeMap<&str, &FileDelete>,
) -> Result<bool, ApiError> {
    let mut todo = vec![folder_id.to_string()];
    let mut seen = BTreeSet::new();
    while let Some(id) = todo.pop() {
        if !seen.insert(id.clone()) {
            continue;
        }
        for item in client.list_folder(&id, &["sha1"]).await? {
            match item {
                Item::File(f) => match files.get(f.id.as_str()) {
                    Some(d) if f.sha1.as_deref().is_none_or(|s| s == d.sha1) => {}
                    _ => return Ok(false),
                },
                Item::Folder(f) => todo.push(f.id),
                Item::WebLink(_) => return Ok(false),
            }
        }
    }
    Ok(true)
}
