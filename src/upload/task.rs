//! One row's way into Box: resolve its folder, look for it there, apply the conflict policy,
//! upload (direct or chunked, resuming a journalled session), or copy identical content
//! (`--dedup`), and turn the outcome into a report row. Dry runs take the same path read-only.
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, Utc};
use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use super::folders::{Existing, Folders, Listing, split};
use super::send::{Dedup, dedup_upload, send};
use crate::box_api::{ApiError, BoxClient, ErrorKind, UploadTarget, Uploaded};
use crate::manifest::Kind;
use crate::model::{Action, ReportRow};
use crate::model::{Cancel, Event, Halt};
use crate::state::DoneFile;

/// What to do when a file of the same name but other content is already in Box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Keep Box's file; the row says `skipped_conflict`.
    Skip,
    /// Upload ours as a new version of Box's file (Box keeps the history).
    #[default]
    Version,
    /// Upload ours beside it as `name (1).ext`.
    Rename,
    /// Leave Box's file and fail the row with `item_name_in_use`.
    Fail,
}

/// One file to bring into Box, as the planner hands it over.
#[derive(Debug, Clone)]
pub struct FileTask {
    /// '/'-separated path relative to the source root.
    pub path: String,
    /// Absolute local path.
    pub abs: PathBuf,
    /// Size in bytes.
    pub size: u64,
    /// SHA-1 hex.
    pub sha1: String,
    /// Local modification time (sent as `content_modified_at`).
    pub modified: Option<DateTime<Utc>>,
    /// Use an upload session (else one direct upload).
    pub chunked: bool,
    /// What an earlier run uploaded at this path (content has changed since).
    pub prior: Option<DoneFile>,
    /// An upload session an earlier run opened for this very content.
    pub resume_session: Option<String>,
    /// An upload session an earlier run opened for this path whose content has changed since:
    /// aborted (`DELETE /files/upload_sessions/{id}`) before anything else, so no session
    /// boxlift opened stays open in Box.
    pub stale_session: Option<String>,
    /// The parent directory's Box folder id, if the journal knows it.
    pub folder_hint: Option<String>,
    /// The managed user this file must be uploaded as: the owner of the journalled session it
    /// resumes (a session belongs to the user that opened it). `None`: the least busy
    /// identity when the file starts ([`BoxClient::lease`]).
    pub as_user: Option<String>,
    /// Bytes of confirmed parts, already counted by progress (chunked files).
    pub parts_done: Arc<std::sync::atomic::AtomicU64>,
}

/// Settings every task reads.
#[derive(Debug, Clone)]
pub struct TaskOptions {
    /// Conflict policy.
    pub on_conflict: OnConflict,
    /// Parts in flight per chunked file.
    pub part_concurrency: usize,
    /// Upload identical content once and copy it server-side.
    pub dedup: bool,
    /// Plan only: no write requests.
    pub dry_run: bool,
}

/// What the tasks share.
#[derive(Debug)]
pub struct Ctx {
    /// The client as the service identity (folders, listings).
    pub client: BoxClient,
    /// Folder ids and listings.
    pub folders: Folders,
    /// Where events go.
    pub events: UnboundedSender<Event>,
    /// Settings.
    pub opts: TaskOptions,
    /// `--dedup` bookkeeping.
    pub dedup: Option<Dedup>,
    /// Triggered by the caller (SIGINT/SIGTERM): start nothing new, let what is in flight finish.
    pub cancel: Cancel,
}

impl Ctx {
    /// Has the run been interrupted?
    pub fn cancelled(&self) -> bool {
        self.cancel.is_cancelled()
    }
}

/// Why a row failed, beyond what Box said.
#[derive(Debug)]
pub(super) enum TaskError {
    Api(ApiError),
    Local { code: &'static str, message: String },
}

impl From<ApiError> for TaskError {
    fn from(e: ApiError) -> Self {
        TaskError::Api(e)
    }
}

fn fill_error(row: &mut ReportRow, e: &TaskError) {
    row.action = Some(Action::Failed);
    match e {
        TaskError::Api(e) => {
            row.error_code = e.code.clone().unwrap_or_else(|| kind_code(&e.kind).into());
            row.error_message = e.message.clone();
            row.box_request_id = e.request_id.clone().unwrap_or_default();
            // The failed request's own count (retries included); 0 when it never went out.
            row.attempts = row.attempts.max(e.attempts.unwrap_or(0));
        }
        TaskError::Local { code, message } => {
            row.error_code = code.to_string();
            row.error_message = message.clone();
        }
    }
}

/// A report `error_code` for failures Box gave no code for.
fn kind_code(k: &ErrorKind) -> &'static str {
    match k {
        ErrorKind::Auth => "auth",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict { .. } => "item_name_in_use",
        ErrorKind::RateLimited => "rate_limited",
        ErrorKind::Transient => "transient",
        ErrorKind::Invalid => "invalid_request",
        ErrorKind::TooLarge => "file_size_limit_exceeded",
        ErrorKind::Quota => "storage_limit_exceeded",
        ErrorKind::Precondition => "precondition_failed",
        ErrorKind::Integrity => "integrity",
        ErrorKind::Io => "local_io",
        ErrorKind::Other => "other",
    }
}

pub(super) fn fill_uploaded(row: &mut ReportRow, u: &Uploaded, action: Action) {
    row.action = Some(if u.already_there {
        Action::SkippedExists
    } else {
        action
    });
    fill_file(row, &u.file);
    row.attempts = u.attempts;
    row.bytes_sent = u.bytes_sent;
    row.box_request_id = u.request_id.clone().unwrap_or_default();
}

pub(super) fn fill_file(row: &mut ReportRow, f: &crate::box_api::model::File) {
    row.box_file_id = f.id.clone();
    row.box_file_version_id = f
        .file_version
        .as_ref()
        .map(|v| v.id.clone())
        .unwrap_or_default();
    row.box_sha1 = f
        .sha1
        .clone()
        .or_else(|| f.file_version.as_ref().and_then(|v| v.sha1.clone()))
        .unwrap_or_default();
    if let Some(p) = &f.parent {
        row.box_folder_id = p.id.clone();
    }
}

/// Abort an upload session this file no longer needs (best effort: an expired or already
/// aborted session is as good as aborted; a failure is logged, the row goes on).
pub(super) async fn abort_stale(client: &BoxClient, path: &str, id: &str) {
    match client.abort_upload_session(id).await {
        Ok(()) => tracing::info!(path, session_id = id, "aborted a stale upload session"),
        Err(e) => {
            tracing::warn!(path, session_id = id, error = %e.message, "could not abort a stale upload session")
        }
    }
}

/// The `error_code` of a `conflict` row whose file changed in Box since boxlift last saw it.
pub const CHANGED_IN_BOX: &str = "conflict_changed_in_box";

/// What Box holds, from its answer to `GET /files/{id}`.
fn existing_file(f: &crate::box_api::model::File, name: &str) -> Existing {
    Existing {
        kind: "file",
        id: f.id.clone(),
        name: f.name.clone().unwrap_or_else(|| name.to_string()),
        size: f.size,
        sha1: f
            .sha1
            .clone()
            .or_else(|| f.file_version.as_ref().and_then(|v| v.sha1.clone())),
        version_id: f.file_version.as_ref().map(|v| v.id.clone()),
        etag: f.etag.clone(),
    }
}

fn fill_existing(row: &mut ReportRow, e: &Existing, action: Action) {
    row.action = Some(action);
    row.box_file_id = e.id.clone();
    row.box_file_version_id = e.version_id.clone().unwrap_or_default();
    row.box_sha1 = e.sha1.clone().unwrap_or_default();
}

/// The existing item a 409 `item_name_in_use` names (`context_info.conflicts`: an object for
/// files, a list for folders; accept both).
fn conflict_of(e: &ApiError) -> Option<Existing> {
    let c = e.context_info.as_ref()?.get("conflicts")?;
    let c = match c {
        Value::Array(a) => a.first()?,
        other => other,
    };
    let s = |k: &str| c.get(k).and_then(Value::as_str).map(str::to_string);
    Some(Existing {
        kind: if s("type").as_deref() == Some("folder") {
            "folder"
        } else {
            "file"
        },
        id: s("id")?,
        name: s("name").unwrap_or_default(),
        size: c.get("size").and_then(Value::as_u64),
        sha1: s("sha1").or_else(|| {
            c.get("file_version")
                .and_then(|v| v.get("sha1"))
                .and_then(Value::as_str)
                .map(str::to_string)
        }),
        version_id: c
            .get("file_version")
            .and_then(|v| v.get("id"))
            .and_then(Value::as_str)
            .map(str::to_string),
        etag: s("etag"),
    })
}

pub(super) fn is_name_in_use(e: &ApiError) -> bool {
    e.status == Some(409) && e.code.as_deref() == Some("item_name_in_use")
}

/// `name (n).ext`, the first such name not in `listing`.
pub fn free_name(listing: Option<&Listing>, name: &str) -> String {
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (1..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|c| listing.is_none_or(|l| l.get(c).is_none()))
        .unwrap_or_else(|| name.to_string())
}

/// Run one file; always returns its report row.
pub async fn run_file(ctx: &Ctx, t: &FileTask) -> ReportRow {
    let started = Instant::now();
    let mut row = ReportRow::new(&t.path, Kind::File, t.size, &t.sha1);
    // The identity is chosen now, when the file starts, and kept for all its requests.
    let lease = ctx.client.lease(t.as_user.as_deref());
    let client = lease.client();
    let as_user = client.acting_as().unwrap_or_default().to_string();
    row.as_user = as_user.clone();
    row.mtime = t.modified;
    let mut res = if ctx.opts.dry_run {
        dry_file(ctx, t, &mut row).await
    } else {
        upload_file(ctx, client, t, &mut row).await
    };
    // The journal's folder or file id is gone from Box (deleted since the last run): forget
    // what the journal said and take the path from the top once.
    if let Err(TaskError::Api(e)) = &res
        && e.kind == ErrorKind::NotFound
        && !ctx.opts.dry_run
        && (t.folder_hint.is_some() || t.prior.is_some())
    {
        tracing::info!(path = %t.path, "a Box id from the state journal is gone; resolving again");
        ctx.folders.forget(split(&t.path).0);
        let fresh = FileTask {
            folder_hint: None,
            prior: None,
            ..t.clone()
        };
        row = ReportRow::new(&t.path, Kind::File, t.size, &t.sha1);
        row.as_user = as_user;
        row.mtime = t.modified;
        res = upload_file(ctx, client, &fresh, &mut row).await;
    }
    if let Err(e) = res {
        // A full account fails every file after this one too: stop the job (issue 12, item 2).
        if let TaskError::Api(api) = &e
            && api.kind == ErrorKind::Quota
        {
            ctx.cancel.halt(Halt::Quota {
                path: t.path.clone(),
                message: api.message.clone(),
            });
        }
        fill_error(&mut row, &e);
    }
    row.duration_ms = started.elapsed().as_millis() as u64;
    row
}

/// Run one directory row; always returns its report row.
pub async fn run_dir(ctx: &Ctx, path: &str) -> ReportRow {
    let started = Instant::now();
    let mut row = ReportRow::new(path, Kind::Dir, 0, "");
    let res = if ctx.opts.dry_run {
        ctx.folders
            .lookup_item(path)
            .await
            .map(|found| match found {
                Some(e) if e.kind == "folder" => {
                    row.box_folder_id = e.id;
                    row.action = Some(Action::SkippedExists);
                }
                // Box holds a file (or web link) with the folder's name: the real run cannot
                // create the folder (409 `item_name_in_use`), so the plan says so.
                Some(e) => {
                    fill_conflict(&mut row, &e, "folder");
                }
                None => row.action = Some(Action::WouldCreate),
            })
    } else {
        ctx.folders.ensure(path).await.map(|(id, _)| {
            row.box_folder_id = id;
            row.action = Some(Action::FolderCreated);
        })
    };
    if let Err(e) = res {
        fill_error(&mut row, &TaskError::Api(e));
    }
    row.duration_ms = started.elapsed().as_millis() as u64;
    row
}

async fn dry_file(ctx: &Ctx, t: &FileTask, row: &mut ReportRow) -> Result<(), TaskError> {
    let (parent, name) = split(&t.path);
    let folder = match &t.folder_hint {
        Some(id) => Some(id.clone()),
        None => ctx.folders.lookup(parent).await?,
    };
    let mut listing = None;
    if let Some(id) = folder {
        row.box_folder_id = id.clone();
        let l = ctx.folders.listing(&id).await?;
        if let Some(e) = l.get(name) {
            if e.kind != "file" {
                // The real run fails this row (`item_name_in_use`); the plan names it.
                fill_conflict(row, e, "file");
                return Ok(());
            }
            if e.sha1.as_deref() == Some(t.sha1.as_str()) {
                fill_existing(row, e, Action::SkippedExists);
                return Ok(());
            }
            let action = match ctx.opts.on_conflict {
                OnConflict::Skip => Action::SkippedConflict,
                OnConflict::Version => Action::WouldVersion,
                OnConflict::Rename => Action::WouldRename,
                OnConflict::Fail => return Err(name_in_use(e)),
            };
            fill_existing(row, e, action);
            return Ok(());
        }
        listing = Some(l);
    }
    let _ = listing;
    let copy = match &ctx.dedup {
        Some(d) if t.size > 0 => d.cell(&t.sha1).set(None).is_err(),
        _ => false,
    };
    row.action = Some(if copy {
        Action::WouldCopy
    } else {
        Action::WouldUpload
    });
    Ok(())
}

/// A dry run's `conflict` row: Box holds another kind of item where this `kind` goes.
fn fill_conflict(row: &mut ReportRow, e: &Existing, kind: &str) {
    row.action = Some(Action::Conflict);
    row.error_code = "item_name_in_use".into();
    row.error_message = format!(
        "a Box {} named {:?} (id {}) is where this {kind} goes",
        e.kind, e.name, e.id
    );
}

fn not_a_file(e: &Existing) -> TaskError {
    TaskError::Local {
        code: "item_name_in_use",
        message: format!(
            "a Box {} named {:?} (id {}) is where this file goes",
            e.kind, e.name, e.id
        ),
    }
}

fn name_in_use(e: &Existing) -> TaskError {
    TaskError::Local {
        code: "item_name_in_use",
        message: format!(
            "Box already holds {:?} (file id {}) with other content (SHA-1 {}); --on-conflict fail",
            e.name,
            e.id,
            e.sha1.as_deref().unwrap_or("?")
        ),
    }
}

async fn upload_file(
    ctx: &Ctx,
    client: &BoxClient,
    t: &FileTask,
    row: &mut ReportRow,
) -> Result<(), TaskError> {
    let (parent, name) = split(&t.path);
    if let Some(id) = &t.folder_hint {
        ctx.folders.seed(parent, id);
    }
    let (folder_id, _) = ctx.folders.ensure(parent).await?;
    row.box_folder_id = folder_id.clone();
    if let Some(id) = &t.stale_session {
        abort_stale(client, &t.path, id).await;
    }
    // What Box holds at this name. A file an earlier run uploaded (the journal's record, in
    // this run's folder): one `GET /files/{id}` for what Box holds now, since someone may have
    // put a newer version there since; it was changed in Box if its version is not the one the
    // journal recorded. Otherwise the folder's listing (one call per folder, cached).
    let mut listing = None;
    let mut changed_in_box = false;
    let mut existing = match &t.prior {
        Some(p) if p.box_folder_id == folder_id => {
            let now = existing_file(&client.get_file(&p.box_file_id).await?, name);
            changed_in_box = now.version_id.as_deref() != Some(p.box_file_version_id.as_str());
            Some(now)
        }
        _ => {
            let l = ctx.folders.listing(&folder_id).await?;
            let e = l.get(name).cloned();
            listing = Some(l);
            e
        }
    };
    // At most three rounds: a 409 from a file that appeared after the listing, or a 412 from a
    // version that appeared after the look, gets the policy once.
    for _ in 0..3 {
        let (target, action) = match &existing {
            Some(e) if e.kind != "file" => return Err(not_a_file(e)),
            Some(e) if e.sha1.as_deref() == Some(t.sha1.as_str()) => {
                fill_existing(row, e, Action::SkippedExists);
                return Ok(());
            }
            Some(e) => match ctx.opts.on_conflict {
                OnConflict::Skip => {
                    fill_existing(row, e, Action::SkippedConflict);
                    return Ok(());
                }
                // Someone else's newer version is never superseded: the row says so and shows
                // what Box holds.
                OnConflict::Version | OnConflict::Fail if changed_in_box => {
                    fill_existing(row, e, Action::Conflict);
                    row.error_code = CHANGED_IN_BOX.into();
                    row.error_message = format!(
                        "{:?} changed in Box since boxlift last saw it (now version {}, SHA-1 {}); \
                         not superseded",
                        e.name,
                        e.version_id.as_deref().unwrap_or("?"),
                        e.sha1.as_deref().unwrap_or("?")
                    );
                    return Ok(());
                }
                OnConflict::Fail => return Err(name_in_use(e)),
                // `If-Match: <etag>` as last seen (Box's OpenAPI: `if-match` header of
                // `POST /files/{file_id}/content` and of the session commit): Box answers 412
                // `precondition_failed` if the file changed since.
                OnConflict::Version => (
                    UploadTarget::NewVersion {
                        file_id: e.id.clone(),
                        if_match: e.etag.clone(),
                    },
                    Action::NewVersion,
                ),
                OnConflict::Rename => (
                    UploadTarget::NewFile {
                        parent_id: folder_id.clone(),
                        name: free_name(listing.as_deref(), name),
                    },
                    Action::Renamed,
                ),
            },
            None => (
                UploadTarget::NewFile {
                    parent_id: folder_id.clone(),
                    name: name.to_string(),
                },
                Action::Uploaded,
            ),
        };
        let res = match (&ctx.dedup, &target) {
            (Some(d), UploadTarget::NewFile { parent_id, name }) if t.size > 0 => {
                dedup_upload(
                    ctx,
                    d,
                    client,
                    t,
                    target.clone(),
                    parent_id,
                    name,
                    row,
                    action,
                )
                .await
            }
            _ => send(ctx, client, t, target)
                .await
                .map(|u| fill_uploaded(row, &u, action)),
        };
        match res {
            Err(TaskError::Api(e)) if is_name_in_use(&e) && existing.is_none() => {
                existing = conflict_of(&e);
                if existing.is_none() {
                    return Err(TaskError::Api(e));
                }
            }
            // 412: the file changed in Box after we looked. Look again; the policy decides.
            Err(TaskError::Api(e)) if e.kind == ErrorKind::Precondition && !changed_in_box => {
                if let Some(old) = &existing {
                    existing = Some(existing_file(&client.get_file(&old.id).await?, name));
                    changed_in_box = true;
                }
            }
            other => return other,
        }
    }
    Err(TaskError::Local {
        code: "item_name_in_use",
        message: "the name stayed in use after the conflict policy was applied".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::box_api::model::{Item, ItemFields};

    #[test]
    fn free_name_skips_taken_names() {
        let f = |n: &str| {
            Item::File(ItemFields {
                id: "1".into(),
                etag: None,
                sequence_id: None,
                name: Some(n.into()),
                size: None,
                sha1: None,
                file_version: None,
                content_modified_at: None,
                modified_at: None,
            })
        };
        let l = Listing::from_items(vec![f("a.txt"), f("A (1).txt")]);
        assert_eq!(free_name(Some(&l), "a.txt"), "a (2).txt");
        assert_eq!(free_name(None, "README"), "README (1)");
        assert_eq!(free_name(None, ".env"), ".env (1)");
    }
}
