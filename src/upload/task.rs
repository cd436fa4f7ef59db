//! One row's way into Box: resolve its folder, look for it there, apply the conflict policy,
//! upload (direct or chunked, resuming a journalled session), or copy identical content
//! (`--dedup`), and turn the outcome into a report row. Dry runs take the same path read-only.
use std::sync::Arc;
use std::time::Instant;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;

use super::changed::{CHANGED_DURING_UPLOAD, changed_during_upload, reread};
use super::folders::{Existing, Folders, Listing, split};
use super::heal::{Gone, Heal, diagnose, heal_subtree};
use super::send::{Dedup, dedup_upload, send};
use crate::box_api::{ApiError, BoxClient, ErrorKind, FailureClass, UploadTarget, Uploaded};
use crate::manifest::Kind;
use crate::model::{Action, ReportRow};
use crate::model::{Cancel, Event, Halt, ItemKind};
use crate::plan::FileTask;
use crate::plan::conflict::{self, AtName, Decision, OnConflict, Refusal};

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
    /// Finding out which folder a 404 was about, once for concurrent rows.
    pub heal: Heal,
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

/// The reason a job-class failure stops the run, with what the operator should do about it.
fn job_halt(path: &str, api: &ApiError) -> Halt {
    let path = path.to_owned();
    if api.kind == ErrorKind::Quota {
        return Halt::Quota {
            path,
            message: api.message.clone(),
        };
    }
    let remedy = match api.kind {
        ErrorKind::Auth => {
            "Box refused the credentials and they cannot be refreshed: give a new developer token \
             or fix the app's credentials"
        }
        ErrorKind::NotFound => {
            "the destination folder is gone from Box (trashed or deleted): restore it from Box's \
             trash or give another --dest"
        }
        _ => "fix the cause named above",
    };
    Halt::Job {
        path,
        message: api.to_string(),
        remedy: remedy.to_owned(),
    }
}

/// A report `error_code` for failures Box gave no code for.
pub fn kind_code(k: &ErrorKind) -> &'static str {
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

/// What Box holds, from its answer to `GET /files/{id}`.
fn existing_file(f: &crate::box_api::model::File, name: &str) -> Existing {
    Existing {
        kind: ItemKind::File,
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
        // A conflict without a type is taken for a file (an upload's conflict is a file).
        kind: s("type")
            .as_deref()
            .and_then(ItemKind::from_box_type)
            .unwrap_or(ItemKind::File),
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

/// Run one file; always returns its report row, with the time its requests waited for
/// pacing permits apart (`queued_ms`) so a small file queued behind others is not read as slow.
pub async fn run_file(ctx: &Ctx, t: &FileTask) -> ReportRow {
    let (mut row, queued) = crate::box_api::pace::measure_queued(run_file_timed(ctx, t)).await;
    row.queued_ms = (queued.as_millis() as u64).min(row.duration_ms);
    row
}

/// [`run_file`] without the queue time: the row with its wall time.
async fn run_file_timed(ctx: &Ctx, t: &FileTask) -> ReportRow {
    let started = Instant::now();
    let mut t = std::borrow::Cow::Borrowed(t);
    if let Some(u) = t.as_user.as_deref()
        && ctx.client.is_retired(u)
    {
        // Its session belongs to an identity Box refuses writes for: start afresh as another.
        t = std::borrow::Cow::Owned(afresh(&t));
    }
    let (mut row, mut res) = attempt(ctx, &t).await;
    // A failure that says more than "this row failed" (a folder gone, an identity refused, the
    // file changed while it was sent) gets the file one more try each, with what was learned.
    let (mut changed, mut unreadable) = (false, false);
    for _ in 0..3 {
        let Err(TaskError::Api(e)) = &res else { break };
        if ctx.opts.dry_run || ctx.cancel.halted().is_some() {
            break;
        }
        let next = if !changed && changed_during_upload(&t, e) {
            changed = true;
            let fresh = reread(&t).await;
            unreadable = fresh.is_none();
            fresh
        } else {
            next_try(ctx, &t, e, &row).await
        };
        let Some(next) = next else {
            break;
        };
        t = std::borrow::Cow::Owned(next);
        let (attempts, bytes) = (row.attempts, row.bytes_sent);
        (row, res) = attempt(ctx, &t).await;
        row.attempts += attempts;
        row.bytes_sent += bytes;
    }
    if let Err(e) = res {
        // A full account, refused credentials or a vanished destination fail every file after
        // this one too: stop the job.
        if let TaskError::Api(api) = &e
            && api.class() == FailureClass::Job
        {
            ctx.cancel.halt(job_halt(&t.path, api));
        }
        let still_changing = matches!(&e, TaskError::Api(api) if changed_during_upload(&t, api));
        fill_error(&mut row, &e);
        if t.upload.is_chunked() {
            // The parts Box accepted before it failed (every try of this row, this run).
            let parts = t.parts_done.load(std::sync::atomic::Ordering::Relaxed);
            row.bytes_sent = row.bytes_sent.max(parts);
        }
        if changed && (unreadable || still_changing) {
            row.error_message = format!(
                "the file changed while it was uploaded, and again (or could not be read) on \
                 its one more try: {}",
                row.error_message
            );
            row.error_code = CHANGED_DURING_UPLOAD.into();
        }
    }
    row.duration_ms = started.elapsed().as_millis() as u64;
    row
}

/// One try of a file, as the identity it leases now (kept for all its requests).
async fn attempt(ctx: &Ctx, t: &FileTask) -> (ReportRow, Result<(), TaskError>) {
    let mut row = ReportRow::new(&t.path, Kind::File, t.size, &t.sha1);
    // A `--map` owner's file always goes as its owner, also when a retry resolved it afresh.
    let user = t.as_user.as_deref().or(ctx.folders.owner_of(&t.path));
    let lease = ctx.client.lease(user);
    let client = lease.client();
    row.as_user = client.acting_as().unwrap_or_default().to_string();
    row.mtime = t.modified;
    let res = if ctx.opts.dry_run {
        dry_file(ctx, client, t, &mut row).await
    } else {
        upload_file(ctx, client, t, &mut row).await
    };
    (row, res)
}

/// The same file without what an earlier run or try recorded for it (folder and file ids, the
/// session and its owner): resolved afresh. The session, if any, is aborted first.
fn afresh(t: &FileTask) -> FileTask {
    FileTask {
        folder_hint: None,
        prior: None,
        resume_session: None,
        stale_session: t.resume_session.clone().or_else(|| t.stale_session.clone()),
        as_user: None,
        ..t.clone()
    }
}

/// What to do after `e`, which no retry fixed: `Some(task)` to try the file again.
/// `row` is the failed try's (its identity, and the folder it went to).
async fn next_try(ctx: &Ctx, t: &FileTask, e: &ApiError, row: &ReportRow) -> Option<FileTask> {
    if e.kind == ErrorKind::NotFound {
        return match diagnose(ctx, split(&t.path).0).await {
            Gone::Dest(why) => {
                ctx.cancel.halt(job_halt(&t.path, &why));
                None
            }
            Gone::Subtree {
                path,
                folder_id,
                why,
            } => {
                heal_subtree(ctx, &path, &folder_id, &why).await;
                Some(afresh(t))
            }
            // The journal's folder or file id is gone from Box (deleted since the last run):
            // forget what the journal said and take the path from the top once.
            Gone::Nothing if t.folder_hint.is_some() || t.prior.is_some() => {
                tracing::info!(path = %t.path, "a Box id from the state journal is gone; resolving again");
                ctx.folders.forget(split(&t.path).0);
                Some(FileTask {
                    folder_hint: None,
                    prior: None,
                    ..t.clone()
                })
            }
            // Its folder, or a parent while it was resolved (no folder id yet), was found gone
            // and created again by another row meanwhile.
            Gone::Nothing
                if row.box_folder_id.is_empty() || ctx.folders.is_gone(&row.box_folder_id) =>
            {
                Some(afresh(t))
            }
            Gone::Nothing => None,
        };
    }
    // A `--map` owner's files are theirs alone: a refusal is the row's, not the identity's.
    if e.class() == FailureClass::Identity
        && !row.as_user.is_empty()
        && ctx.folders.owner_of(&t.path).is_none()
    {
        drop_identity(ctx, &t.path, &row.as_user, e);
        // Another identity takes it; a session the refused one opened is aborted.
        return ctx.cancel.halted().is_none().then(|| FileTask {
            as_user: None,
            resume_session: None,
            stale_session: t.resume_session.clone().or_else(|| t.stale_session.clone()),
            ..t.clone()
        });
    }
    None
}

/// Box refused a write as `--as-user` `user` (403): no more files for it. The first refusal
/// names it once; when none is left, the job stops.
fn drop_identity(ctx: &Ctx, path: &str, user: &str, e: &ApiError) {
    let Some(left) = ctx.client.retire(user) else {
        return;
    };
    tracing::warn!(
        as_user = user,
        left,
        "Box refuses writes as --as-user {user} ({}): its files go to the other identities",
        e.code.as_deref().unwrap_or("403")
    );
    if left == 0 {
        ctx.cancel.halt(Halt::Job {
            path: path.to_owned(),
            message: e.to_string(),
            remedy: NO_IDENTITY_LEFT.to_owned(),
        });
    }
}

/// The `error_code` of a file that was on its way when the job stopped, and was not sent.
pub const JOB_STOPPED: &str = "job_stopped";

/// What to do when Box refuses writes for every `--as-user` identity.
pub const NO_IDENTITY_LEFT: &str = "Box refuses writes for every --as-user identity: make them \
     collaborators (Editor or above) on the destination folder, or give other --as-user ids";

/// Run one directory row; always returns its report row.
pub async fn run_dir(ctx: &Ctx, path: &str) -> ReportRow {
    let started = Instant::now();
    let mut row = ReportRow::new(path, Kind::Dir, 0, "");
    row.as_user = ctx.folders.owner_of(path).unwrap_or_default().to_string();
    let res = if ctx.opts.dry_run {
        ctx.folders
            .lookup_item(path)
            .await
            .map(|found| match found {
                Some(e) if e.kind == ItemKind::Folder => {
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
        let mut res = ctx.folders.ensure(path).await;
        if let Err(e) = &res
            && e.kind == ErrorKind::NotFound
            && ctx.cancel.halted().is_none()
        {
            match diagnose(ctx, path).await {
                Gone::Dest(why) => ctx.cancel.halt(job_halt(path, &why)),
                Gone::Subtree {
                    path: gone,
                    folder_id,
                    why,
                } => {
                    heal_subtree(ctx, &gone, &folder_id, &why).await;
                    res = ctx.folders.ensure(path).await;
                }
                // A parent found gone (and created again) by another row meanwhile: its new
                // id is known now.
                Gone::Nothing => res = ctx.folders.ensure(path).await,
            }
        }
        res.map(|(id, _)| {
            row.box_folder_id = id;
            row.action = Some(Action::FolderCreated);
        })
    };
    if let Err(e) = res {
        // Box holds a file (or web link) with the folder's name: the conflict a dry run
        // predicts (`item_name_in_use`), not a failure of the request.
        let blocked = is_name_in_use(&e);
        if e.class() == FailureClass::Job {
            ctx.cancel.halt(job_halt(path, &e));
        }
        fill_error(&mut row, &TaskError::Api(e));
        if blocked {
            row.action = Some(Action::Conflict);
        }
    }
    row.duration_ms = started.elapsed().as_millis() as u64;
    row
}

/// What Box holds at a file's name, and the listing it was found in (if one was read).
struct Found {
    existing: Option<Existing>,
    /// The file is one an earlier run uploaded, and Box's version is no longer the journal's.
    changed_in_box: bool,
    listing: Option<Arc<Listing>>,
}

impl Found {
    fn at_name(&self, sha1: &str) -> AtName {
        let found = self.existing.as_ref().map(|e| (e.kind, e.sha1.as_deref()));
        AtName::of(found, sha1, self.changed_in_box)
    }
}

/// What Box holds at `name` in `folder_id`, looked up the same way by dry and real runs. A file
/// an earlier run uploaded (the journal's record, in this folder): one `GET /files/{id}` for
/// what Box holds now, since someone may have put a newer version there since; it was changed
/// in Box if its version is not the one the journal recorded. Otherwise the folder's listing
/// (one call per folder, cached).
async fn look(
    ctx: &Ctx,
    client: &BoxClient,
    t: &FileTask,
    folder_id: &str,
    name: &str,
) -> Result<Found, TaskError> {
    if let Some(p) = t.prior.as_ref().filter(|p| p.box_folder_id == folder_id) {
        let now = existing_file(&client.get_file(&p.box_file_id).await?, name);
        return Ok(Found {
            changed_in_box: now.version_id.as_deref() != Some(p.box_file_version_id.as_str()),
            existing: Some(now),
            listing: None,
        });
    }
    let l = ctx
        .folders
        .listing_as(ctx.folders.client_for(&t.path), folder_id)
        .await?;
    Ok(Found {
        existing: l.get(name).cloned(),
        changed_in_box: false,
        listing: Some(l),
    })
}

/// Fill the row of a decision that sends nothing (`settles_without_upload`): the same rows in
/// dry and real runs. `--on-conflict fail` is an error row.
fn settle(row: &mut ReportRow, e: &Existing, d: Decision) {
    let refusal = match d {
        Decision::Refuse(r) => r,
        _ => return fill_existing(row, e, d.action(false)),
    };
    match refusal {
        Refusal::NameInUse => return fill_error(row, &name_in_use(e)),
        // The folder's ids are not this file's: only the reason is reported.
        Refusal::NotAFile => return fill_conflict(row, e, "file"),
        Refusal::ChangedInBox => {}
    }
    // Someone else's newer version is never superseded: the row says so and shows what Box
    // holds.
    fill_existing(row, e, d.action(false));
    row.error_code = refusal.code().into();
    row.error_message = format!(
        "{:?} changed in Box since boxlift last saw it (now version {}, SHA-1 {}); \
         not superseded",
        e.name,
        e.version_id.as_deref().unwrap_or("?"),
        e.sha1.as_deref().unwrap_or("?")
    );
}

async fn dry_file(
    ctx: &Ctx,
    client: &BoxClient,
    t: &FileTask,
    row: &mut ReportRow,
) -> Result<(), TaskError> {
    let (parent, name) = split(&t.path);
    let folder = match &t.folder_hint {
        Some(id) => Some(id.clone()),
        None => ctx.folders.lookup(parent).await?,
    };
    if let Some(id) = folder {
        row.box_folder_id = id.clone();
        let found = match look(ctx, client, t, &id, name).await {
            // The journal's file is gone from Box: the real run looks again without it.
            Err(TaskError::Api(e)) if e.kind == ErrorKind::NotFound && t.prior.is_some() => {
                let fresh = FileTask {
                    prior: None,
                    ..t.clone()
                };
                look(ctx, client, &fresh, &id, name).await?
            }
            other => other?,
        };
        let d = conflict::decide(found.at_name(&t.sha1), ctx.opts.on_conflict);
        if let Some(e) = &found.existing {
            if d.settles_without_upload() {
                settle(row, e, d);
                return Ok(());
            }
            if d != Decision::Upload {
                fill_existing(row, e, d.action(true));
                return Ok(());
            }
        }
    }
    let copy = match &ctx.dedup {
        Some(d) if t.size > 0 => d.cell(&t.sha1).set(None).is_err(),
        _ => false,
    };
    row.action = Some(if copy {
        Action::WouldCopy
    } else {
        Decision::Upload.action(true)
    });
    Ok(())
}

/// A `conflict` row: Box holds another kind of item where this `kind` goes.
fn fill_conflict(row: &mut ReportRow, e: &Existing, kind: &str) {
    row.action = Some(Action::Conflict);
    row.error_code = Refusal::NotAFile.code().into();
    row.error_message = format!(
        "a Box {} named {:?} (id {}) is where this {kind} goes",
        e.kind, e.name, e.id
    );
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

/// Send the file to `target` (or copy identical content already sent, `--dedup`).
async fn put(
    ctx: &Ctx,
    client: &BoxClient,
    t: &FileTask,
    target: UploadTarget,
    row: &mut ReportRow,
    action: Action,
) -> Result<(), TaskError> {
    match (&ctx.dedup, &target) {
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
    let mut found = look(ctx, client, t, &folder_id, name).await?;
    // At most three rounds: a 409 from a file that appeared after the listing, or a 412 from a
    // version that appeared after the look, gets the policy once.
    for _ in 0..3 {
        let d = conflict::decide(found.at_name(&t.sha1), ctx.opts.on_conflict);
        let target = match (d, &found.existing) {
            (d, Some(e)) if d.settles_without_upload() => {
                settle(row, e, d);
                return Ok(());
            }
            // `If-Match: <etag>` as last seen (Box's OpenAPI: `if-match` header of
            // `POST /files/{file_id}/content` and of the session commit): Box answers 412
            // `precondition_failed` if the file changed since.
            (Decision::NewVersion, Some(e)) => UploadTarget::NewVersion {
                file_id: e.id.clone(),
                if_match: e.etag.clone(),
            },
            (Decision::Rename, _) => UploadTarget::NewFile {
                parent_id: folder_id.clone(),
                name: free_name(found.listing.as_deref(), name),
            },
            _ => UploadTarget::NewFile {
                parent_id: folder_id.clone(),
                name: name.to_string(),
            },
        };
        let action = d.action(false);
        if ctx.cancel.halted().is_some() {
            // The job stopped while this file was on its way: do not send it into what stopped it.
            return Err(TaskError::Local {
                code: JOB_STOPPED,
                message: "the job stopped before this file was sent".into(),
            });
        }
        let res = put(ctx, client, t, target, row, action).await;
        match res {
            Err(TaskError::Api(e)) if is_name_in_use(&e) && found.existing.is_none() => {
                found.existing = conflict_of(&e);
                if found.existing.is_none() {
                    return Err(TaskError::Api(e));
                }
            }
            // 412: the file changed in Box after we looked. Look again; the policy decides.
            Err(TaskError::Api(e))
                if e.kind == ErrorKind::Precondition && !found.changed_in_box =>
            {
                if let Some(old) = &found.existing {
                    found.existing = Some(existing_file(&client.get_file(&old.id).await?, name));
                    found.changed_in_box = true;
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
                owned_by: None,
                created_by: None,
            })
        };
        let l = Listing::from_items(vec![f("a.txt"), f("A (1).txt")]);
        assert_eq!(free_name(Some(&l), "a.txt"), "a (2).txt");
        assert_eq!(free_name(None, "README"), "README (1)");
        assert_eq!(free_name(None, ".env"), ".env (1)");
    }
}
