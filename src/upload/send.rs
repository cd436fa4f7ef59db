//! Sending one file's content: a direct upload, or a chunked session whose id is journalled
//! before its parts go out (so a re-run resumes it), and `--dedup`'s upload-once-copy-the-rest.
use std::sync::{Arc, Mutex};

use tokio::sync::OnceCell;

use super::task::{Ctx, TaskError, fill_file, fill_uploaded, is_name_in_use};
use crate::box_api::model::UploadSession;
use crate::box_api::{BoxClient, ChunkedOptions, UploadSource, UploadTarget, Uploaded};
use crate::model::{Action, Event, ReportRow, SessionRecord};
use crate::plan::FileTask;

/// Identical content seen in this run: the first upload of each SHA-1, shared with its copies.
#[derive(Debug, Default)]
pub struct Dedup {
    cells: Mutex<std::collections::HashMap<String, Arc<OnceCell<Option<String>>>>>,
}

impl Dedup {
    pub(super) fn cell(&self, sha1: &str) -> Arc<OnceCell<Option<String>>> {
        let mut m = self.cells.lock().unwrap_or_else(|e| e.into_inner());
        m.entry(sha1.to_string()).or_default().clone()
    }
}

#[allow(clippy::too_many_arguments)]
pub(super) async fn dedup_upload(
    ctx: &Ctx,
    d: &Dedup,
    client: &BoxClient,
    t: &FileTask,
    target: UploadTarget,
    parent_id: &str,
    name: &str,
    row: &mut ReportRow,
    action: Action,
) -> Result<(), TaskError> {
    let cell = d.cell(&t.sha1);
    let mut mine: Option<Result<Uploaded, TaskError>> = None;
    let mine_ref = &mut mine;
    let target_ref = &target;
    let first = cell
        .get_or_init(|| async move {
            let r = send(ctx, client, t, target_ref.clone()).await;
            let id = r.as_ref().ok().map(|u| u.file.id.clone());
            *mine_ref = Some(r);
            id
        })
        .await
        .clone();
    if let Some(r) = mine {
        return r.map(|u| fill_uploaded(row, &u, action));
    }
    if let Some(src) = first {
        match client.copy_file(&src, parent_id, Some(name)).await {
            Ok(f) => {
                fill_file(row, &f);
                row.action = Some(Action::Copied);
                row.attempts = 1;
                return Ok(());
            }
            Err(e) if is_name_in_use(&e) => return Err(TaskError::Api(e)),
            Err(e) => tracing::warn!(path = %t.path, error = %e.message, "copy failed; uploading"),
        }
    }
    send(ctx, client, t, target)
        .await
        .map(|u| fill_uploaded(row, &u, action))
}

/// The upload itself: direct, or a chunked session whose id is journalled before parts go out.
pub(super) async fn send(
    ctx: &Ctx,
    client: &BoxClient,
    t: &FileTask,
    target: UploadTarget,
) -> Result<Uploaded, TaskError> {
    let src = UploadSource {
        path: t.abs.clone(),
        size: t.size,
        sha1_hex: t.sha1.clone(),
        modified: t.modified,
    };
    if !t.upload.is_chunked() {
        return Ok(client.upload_direct(&src, target).await?);
    }
    let ev = ctx.events.clone();
    let (path, size, sha1) = (t.path.clone(), t.size, t.sha1.clone());
    // The session belongs to the identity that opens it: the journal keeps which, so a re-run
    // resumes (or aborts) it as the same user.
    let as_user = client.acting_as().unwrap_or_default().to_string();
    let on_session = Arc::new(move |s: &UploadSession| {
        let _ = ev.send(Event::SessionOpened(SessionRecord {
            path: path.clone(),
            session_id: s.id.clone(),
            size,
            sha1: sha1.clone(),
            as_user: as_user.clone(),
        }));
    });
    let (ev, counted) = (ctx.events.clone(), t.parts_done.clone());
    let on_part = Arc::new(move |p: &crate::box_api::UploadPart| {
        counted.fetch_add(p.size, std::sync::atomic::Ordering::Relaxed);
        let _ = ev.send(Event::BytesSent { bytes: p.size });
    });
    let opts = |resume: Option<String>| ChunkedOptions {
        part_concurrency: ctx.opts.part_concurrency,
        resume_session: resume,
        on_session: Some(on_session.clone()),
        on_part: Some(on_part.clone()),
    };
    match client
        .upload_chunked(&src, target.clone(), opts(t.resume_session.clone()))
        .await
    {
        Ok(u) => Ok(u),
        // A journalled session may have expired or been committed by the killed run: start
        // afresh (a committed file then meets the 409-same-SHA-1 check and is not duplicated).
        Err(e) if t.resume_session.is_some() && !is_name_in_use(&e) => {
            tracing::info!(path = %t.path, error = %e.message, "could not resume the upload session; starting a new one");
            // The old session must not stay open beside the new one.
            if let Some(id) = &t.resume_session {
                super::task::abort_stale(client, &t.path, id).await;
            }
            Ok(client.upload_chunked(&src, target, opts(None)).await?)
        }
        Err(e) => Err(e.into()),
    }
}
