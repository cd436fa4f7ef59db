//! Committing an upload session: the whole-file digest and the sorted parts list; 202 → wait
//! `retry-after` and repeat; a transient 400 `parts_mismatch` → a bounded number of waits; and
//! a commit whose reply was lost, then answered 404 (session gone) or 409, resolved by finding
//! the file that holds our SHA-1 instead of failing or committing twice.
use super::BoxClient;
use super::error::{ApiError, ErrorKind};
use super::files::{UploadSource, UploadTarget};
use super::http::{Fail, Req};
use super::model::{CommitUploadSession, Files, UploadPart, UploadSession};
use super::names::box_name_key;
use super::pace::Bucket;
use super::upload_session::{OpTally, digest_header};

impl BoxClient {
    /// Commit: whole-file digest, parts in offset order. 202 → wait `retry-after` and repeat;
    /// 400 `parts_mismatch` → a bounded number of waits; a commit whose reply was lost and
    /// that then meets 404/409 is resolved by finding the file with our SHA-1.
    pub(super) async fn commit(
        &self,
        src: &UploadSource,
        target: &UploadTarget,
        session: &UploadSession,
        parts: Vec<UploadPart>,
        tally: &OpTally,
    ) -> Result<(super::File, Option<String>), ApiError> {
        let (digest, body) = commit_request(src, parts)?;
        let if_match = match target {
            UploadTarget::NewVersion { if_match, .. } => if_match.clone(),
            UploadTarget::NewFile { .. } => None,
        };
        let url = self.session_url(&session.id, "/commit");
        let mut ctx = self.retry_context();
        let mut lost_reply = false;
        let mut mismatches = 0;
        let result = loop {
            let req = Req {
                op: "commit upload session",
                path: "/files/upload_sessions/{id}/commit",
                bucket: Bucket::Api,
                idempotent: false,
                body_len: 0,
            };
            let res = self
                .execute_or_unknown(&mut ctx, req, |h| {
                    let mut rb = h.post(&url).header("digest", &digest).json(&body);
                    if let Some(etag) = &if_match {
                        rb = rb.header("if-match", etag);
                    }
                    Ok(rb)
                })
                .await;
            match res {
                Ok(reply) if reply.status == 202 => {
                    // Box is still processing parts: progress, not failure.
                    if !ctx.within_time() {
                        return Err(ApiError::new(
                            ErrorKind::Transient,
                            format!(
                                "{}: commit of session {} still pending",
                                src.path.display(),
                                session.id
                            ),
                        ));
                    }
                    let wait = reply
                        .retry_after()
                        .unwrap_or(std::time::Duration::from_secs(1))
                        .min(ctx.policy().max_retry_after);
                    tracing::debug!(session_id = %session.id, wait_ms = wait.as_millis() as u64, "commit pending (202)");
                    ctx.next_request();
                    tokio::time::sleep(wait).await;
                }
                Ok(reply) => break committed_file(src, reply),
                Err(Fail::Unknown(_)) => lost_reply = true,
                Err(Fail::Final(e))
                    if e.code.as_deref() == Some("parts_mismatch")
                        && mismatches < ctx.policy().parts_mismatch_retries =>
                {
                    let wait = ctx.policy().parts_mismatch_wait * 2u32.saturating_pow(mismatches);
                    mismatches += 1;
                    tracing::debug!(session_id = %session.id, mismatches, "commit got parts_mismatch; waiting for Box to catch up");
                    ctx.next_request();
                    tokio::time::sleep(wait).await;
                }
                Err(Fail::Final(e))
                    if lost_reply && (e.kind == ErrorKind::NotFound || e.is_name_in_use()) =>
                {
                    // The session is gone or the name is taken: our earlier commit most likely
                    // landed. Find the file holding our content.
                    break match self.find_committed(src, target).await {
                        Ok(Some(file)) => Ok((file, e.request_id.clone())),
                        Ok(None) => Err(e),
                        Err(other) => Err(other),
                    };
                }
                Err(Fail::Final(e)) if e.is_name_in_use() => {
                    break match self.same_content_conflict(src, &e).await {
                        Ok(Some(file)) => Ok((file, None)),
                        Ok(None) => Err(e),
                        Err(other) => Err(other),
                    };
                }
                Err(Fail::Final(e)) => break Err(e),
            }
        };
        tally.add(&ctx, 0);
        result
    }

    /// After a lost commit reply: the file our commit would have made, if it exists.
    async fn find_committed(
        &self,
        src: &UploadSource,
        target: &UploadTarget,
    ) -> Result<Option<super::File>, ApiError> {
        let id = match target {
            UploadTarget::NewVersion { file_id, .. } => Some(file_id.clone()),
            UploadTarget::NewFile { parent_id, name } => {
                let items = self
                    .list_folder(parent_id, &["name", "sha1", "size"])
                    .await?;
                items.into_iter().find_map(|i| match i {
                    super::Item::File(f)
                        if f.name
                            .as_deref()
                            .is_some_and(|n| box_name_key(n) == box_name_key(name)) =>
                    {
                        Some(f.id)
                    }
                    _ => None,
                })
            }
        };
        let Some(id) = id else { return Ok(None) };
        let file = self.get_file(&id).await?;
        Ok(src.verify(&file, None).is_ok().then_some(file))
    }
}

/// The commit's `digest` header (the whole file's SHA-1, base64) and its body.
fn commit_request(
    src: &UploadSource,
    parts: Vec<UploadPart>,
) -> Result<(String, CommitUploadSession), ApiError> {
    let raw_sha = hex::decode(&src.sha1_hex).map_err(|_| {
        ApiError::new(
            ErrorKind::Invalid,
            format!("{}: sha1 {:?} is not hex", src.path.display(), src.sha1_hex),
        )
    })?;
    let body = CommitUploadSession {
        parts,
        // The session's name and parent were given at its creation; the commit carries the
        // times (as a version target's attributes: no name, no parent).
        attributes: Some(src.attributes(&UploadTarget::NewVersion {
            file_id: String::new(),
            if_match: None,
        })),
    };
    Ok((digest_header(&raw_sha), body))
}

/// The file a successful commit made, checked against the source.
fn committed_file(
    src: &UploadSource,
    reply: super::http::Reply,
) -> Result<(super::File, Option<String>), ApiError> {
    let files: Files = reply.json("commit upload session")?;
    let file = files.entries.into_iter().next().ok_or_else(|| {
        ApiError::new(
            ErrorKind::Other,
            format!("{}: commit returned no file", src.path.display()),
        )
    })?;
    src.verify(&file, reply.request_id.as_deref())?;
    Ok((file, reply.request_id))
}
