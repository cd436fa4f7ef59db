//! Chunked uploads: create a session (new file or new version), send parts concurrently
//! straight from the file (per-part positioned reads, never the whole file in memory), commit
//! with the whole-file digest (202 → wait and repeat; transient `parts_mismatch` → bounded
//! retries), abort on an unrecoverable error, and resume a session by id sending only the parts
//! Box does not have.
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use sha1::{Digest, Sha1};

use super::BoxClient;
use super::error::{ApiError, ErrorKind};
use super::files::{UploadSource, UploadTarget, Uploaded};
use super::http::Req;
use super::model::{
    CreateUploadSession, CreateVersionUploadSession, UploadPart, UploadParts, UploadSession,
    UploadedPart,
};
use super::pace::Bucket;
use super::retry::RetryContext;

/// Called with the session as soon as it exists (journal its id for crash resume).
pub type SessionCallback = Arc<dyn Fn(&UploadSession) + Send + Sync>;
/// Called with each part Box confirmed.
pub type PartCallback = Arc<dyn Fn(&UploadPart) + Send + Sync>;

/// Options of one chunked upload.
#[derive(Clone, Default)]
pub struct ChunkedOptions {
    /// Parts in flight at once for this file (0: the client's `part_concurrency`).
    pub part_concurrency: usize,
    /// Resume this session instead of creating one.
    pub resume_session: Option<String>,
    /// Told the session as soon as it exists.
    pub on_session: Option<SessionCallback>,
    /// Told each part as Box confirms it.
    pub on_part: Option<PartCallback>,
}

impl fmt::Debug for ChunkedOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkedOptions")
            .field("part_concurrency", &self.part_concurrency)
            .field("resume_session", &self.resume_session)
            .field("on_session", &self.on_session.is_some())
            .field("on_part", &self.on_part.is_some())
            .finish()
    }
}

/// Attempts and content bytes of one chunked upload (its parts run concurrently).
#[derive(Debug, Default)]
pub(super) struct OpTally {
    attempts: AtomicU64,
    bytes: AtomicU64,
}

impl OpTally {
    pub(super) fn add(&self, ctx: &RetryContext, body_len: u64) {
        let n = u64::from(ctx.total_attempts);
        self.attempts.fetch_add(n, Ordering::Relaxed);
        self.bytes.fetch_add(n * body_len, Ordering::Relaxed);
    }
}

/// `sha=<base64 of the SHA-1>`, the `digest` header Box wants.
pub(super) fn digest_header(sha1: &[u8]) -> String {
    format!(
        "sha={}",
        base64::engine::general_purpose::STANDARD.encode(sha1)
    )
}

/// Offset and length of part `index`.
pub(crate) fn part_range(file_size: u64, part_size: u64, index: u64) -> (u64, u64) {
    let offset = index * part_size;
    (offset, part_size.min(file_size - offset))
}

/// `content-range` of a part: inclusive last byte, total file size.
pub(crate) fn content_range(offset: u64, len: u64, file_size: u64) -> String {
    format!("bytes {}-{}/{}", offset, offset + len - 1, file_size)
}

/// Does a listed part's `sha1` (hex or base64, Box is not consistent) match these bytes' SHA-1?
fn same_sha(listed: &str, raw: &[u8]) -> bool {
    listed.eq_ignore_ascii_case(&hex::encode(raw))
        || listed == base64::engine::general_purpose::STANDARD.encode(raw)
}

impl BoxClient {
    pub(super) fn session_url(&self, id: &str, suffix: &str) -> String {
        self.upload(&format!(
            "/files/upload_sessions/{}{suffix}",
            urlencoding::encode(id)
        ))
    }

    /// Create a session for `size` bytes. A 409 comes back as an error for the caller to resolve.
    pub async fn create_upload_session(
        &self,
        size: u64,
        target: &UploadTarget,
    ) -> Result<UploadSession, ApiError> {
        let mut ctx = self.retry_context();
        // A repeat after a lost reply only leaves an unused session behind (it expires).
        let reply = match target {
            UploadTarget::NewFile { parent_id, name } => {
                let url = self.upload("/files/upload_sessions");
                let body = CreateUploadSession {
                    folder_id: parent_id.clone(),
                    file_size: size,
                    file_name: name.clone(),
                };
                let req = Req {
                    op: "create upload session",
                    path: "/files/upload_sessions",
                    bucket: Bucket::Upload,
                    idempotent: true,
                    body_len: 0,
                };
                self.execute(&mut ctx, req, |h| Ok(h.post(&url).json(&body)))
                    .await?
            }
            UploadTarget::NewVersion { file_id, .. } => {
                let url = self.upload(&format!(
                    "/files/{}/upload_sessions",
                    urlencoding::encode(file_id)
                ));
                let body = CreateVersionUploadSession {
                    file_size: size,
                    file_name: None,
                };
                let req = Req {
                    op: "create upload session",
                    path: "/files/{id}/upload_sessions",
                    bucket: Bucket::Upload,
                    idempotent: true,
                    body_len: 0,
                };
                self.execute(&mut ctx, req, |h| Ok(h.post(&url).json(&body)))
                    .await?
            }
        };
        reply.json("create upload session")
    }

    /// `GET` a session (its part size, total parts and progress).
    pub async fn get_upload_session(&self, id: &str) -> Result<UploadSession, ApiError> {
        let url = self.session_url(id, "");
        let mut ctx = self.retry_context();
        let req = Req {
            op: "get upload session",
            path: "/files/upload_sessions/{id}",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        self.execute(&mut ctx, req, |h| Ok(h.get(&url)))
            .await?
            .json("get upload session")
    }

    /// Every part Box holds for a session, in offset order.
    pub async fn list_upload_parts(&self, id: &str) -> Result<Vec<UploadPart>, ApiError> {
        let url = self.session_url(id, "/parts");
        let mut ctx = self.retry_context();
        let mut out: Vec<UploadPart> = Vec::new();
        loop {
            ctx.next_request();
            let offset = out.len().to_string();
            let req = Req {
                op: "list parts",
                path: "/files/upload_sessions/{id}/parts",
                bucket: Bucket::Api,
                idempotent: true,
                body_len: 0,
            };
            let page: UploadParts = self
                .execute(&mut ctx, req, |h| {
                    Ok(h.get(&url)
                        .query(&[("offset", offset.as_str()), ("limit", "1000")]))
                })
                .await?
                .json("list parts")?;
            let n = page.entries.len();
            out.extend(page.entries);
            if n == 0 || out.len() as u64 >= page.total_count {
                break;
            }
        }
        out.sort_by_key(|p| p.offset);
        out.dedup_by_key(|p| p.offset);
        Ok(out)
    }

    /// Abort a session (Box drops its parts).
    pub async fn abort_upload_session(&self, id: &str) -> Result<(), ApiError> {
        let url = self.session_url(id, "");
        // An expired or already-aborted session is as good as aborted.
        self.delete(
            "abort upload session",
            "/files/upload_sessions/{id}",
            &url,
            |_| true,
        )
        .await
    }

    /// Send part `index` of `src` (read from the file now; the same bytes are re-sent on retry).
    /// A part whose first reply was lost meets 416 `range_overlaps_existing_part` on retry; the
    /// parts list then says whether it landed intact.
    pub async fn upload_part(
        &self,
        session: &UploadSession,
        src: &UploadSource,
        index: u64,
    ) -> Result<UploadPart, ApiError> {
        self.upload_part_counted(session, src, index, &OpTally::default())
            .await
    }

    async fn upload_part_counted(
        &self,
        session: &UploadSession,
        src: &UploadSource,
        index: u64,
        tally: &OpTally,
    ) -> Result<UploadPart, ApiError> {
        let (offset, len) = part_range(src.size, session.part_size, index);
        let path = src.path.clone();
        // Read and hash on the blocking pool: an 8 MiB SHA-1 is ~10 ms of CPU, too long to hold
        // a runtime worker that is also driving other parts' sockets.
        let (data, sha) = tokio::task::spawn_blocking(move || -> Result<_, ApiError> {
            use std::os::unix::fs::FileExt;
            let f =
                std::fs::File::open(&path).map_err(|e| ApiError::local(&path, "cannot open", e))?;
            let mut buf = vec![0u8; len as usize];
            f.read_exact_at(&mut buf, offset)
                .map_err(|e| ApiError::local(&path, &format!("cannot read part at {offset}"), e))?;
            let sha = Sha1::digest(&buf);
            Ok((Bytes::from(buf), sha))
        })
        .await
        .map_err(|e| ApiError::new(ErrorKind::Other, "part reader").caused_by(e))??;
        let digest = digest_header(sha.as_slice());
        let range = content_range(offset, len, src.size);
        let url = self.session_url(&session.id, "");
        let mut ctx = self.retry_context();
        let req = Req {
            op: "upload part",
            path: "/files/upload_sessions/{id}",
            bucket: Bucket::Api,
            idempotent: true,
            body_len: len,
        };
        let res = self
            .execute(&mut ctx, req, |h| {
                let rb = h
                    .put(&url)
                    .header("content-type", "application/octet-stream")
                    .header("digest", &digest)
                    .header("content-range", &range);
                Ok(if self.throttled() {
                    // Streamed through `--bwlimit`'s bucket; the length stays declared.
                    let body = futures::stream::iter([Ok::<_, std::io::Error>(data.clone())]);
                    rb.header("content-length", len)
                        .body(self.upload_body(body))
                } else {
                    rb.body(data.clone())
                })
            })
            .await;
        tally.add(&ctx, len);
        match res {
            Ok(reply) => Ok(reply.json::<UploadedPart>("upload part")?.part),
            Err(e)
                if e.status == Some(416)
                    || e.code.as_deref() == Some("range_overlaps_existing_part") =>
            {
                let parts = self.list_upload_parts(&session.id).await?;
                match parts.into_iter().find(|p| p.offset == offset) {
                    Some(p) if p.size == len && same_sha(&p.sha1, sha.as_slice()) => Ok(p),
                    Some(p) => Err(ApiError::new(
                        ErrorKind::Integrity,
                        format!(
                            "{}: session {} holds a different part at offset {offset} (sha1 {})",
                            src.path.display(),
                            session.id,
                            p.sha1
                        ),
                    )),
                    None => Err(e),
                }
            }
            Err(e) => Err(e),
        }
    }

    /// Chunked upload (files from 20,000,000 bytes). See the module doc.
    pub async fn upload_chunked(
        &self,
        src: &UploadSource,
        target: UploadTarget,
        opts: ChunkedOptions,
    ) -> Result<Uploaded, ApiError> {
        src.check_unchanged()?;
        let tally = OpTally::default();
        let session = match &opts.resume_session {
            Some(id) => self.get_upload_session(id).await?,
            None => match self.create_upload_session(src.size, &target).await {
                Ok(s) => s,
                Err(e) if e.is_name_in_use() => {
                    let file = self.same_content_conflict(src, &e).await?.ok_or(e)?;
                    return Ok(Uploaded {
                        file,
                        attempts: 1,
                        bytes_sent: 0,
                        request_id: None,
                        already_there: true,
                    });
                }
                Err(e) => return Err(e),
            },
        };
        if session.part_size == 0 || session.total_parts != src.size.div_ceil(session.part_size) {
            return Err(ApiError::new(
                ErrorKind::Invalid,
                format!(
                    "{}: session {} is for {} parts of {} bytes, which does not fit {} bytes",
                    src.path.display(),
                    session.id,
                    session.total_parts,
                    session.part_size,
                    src.size
                ),
            ));
        }
        if let Some(cb) = &opts.on_session {
            cb(&session);
        }
        tracing::debug!(session_id = %session.id, part_size = session.part_size, total_parts = session.total_parts, "upload session");
        let result = self
            .send_and_commit(src, &target, &session, &opts, &tally)
            .await;
        match result {
            Ok((file, request_id)) => Ok(Uploaded {
                file,
                attempts: tally.attempts.load(Ordering::Relaxed) as u32,
                bytes_sent: tally.bytes.load(Ordering::Relaxed),
                request_id,
                already_there: false,
            }),
            Err(e) => {
                // Keep the session when a later run may resume it (Box or the network was
                // unavailable); abort when it cannot succeed.
                if !matches!(e.kind, ErrorKind::Transient | ErrorKind::RateLimited) {
                    tracing::info!(session_id = %session.id, error = %e, "aborting upload session");
                    if let Err(abort) = self.abort_upload_session(&session.id).await {
                        tracing::warn!(session_id = %session.id, error = %abort, "could not abort upload session");
                    }
                }
                Err(e)
            }
        }
    }

    async fn send_and_commit(
        &self,
        src: &UploadSource,
        target: &UploadTarget,
        session: &UploadSession,
        opts: &ChunkedOptions,
        tally: &OpTally,
    ) -> Result<(super::File, Option<String>), ApiError> {
        let have: Vec<UploadPart> = if opts.resume_session.is_some() {
            self.list_upload_parts(&session.id).await?
        } else {
            Vec::new()
        };
        let mut parts: Vec<UploadPart> = Vec::with_capacity(session.total_parts as usize);
        let mut todo = Vec::new();
        for index in 0..session.total_parts {
            let (offset, len) = part_range(src.size, session.part_size, index);
            match have.iter().find(|p| p.offset == offset && p.size == len) {
                Some(p) => parts.push(p.clone()),
                None => todo.push(index),
            }
        }
        if opts.resume_session.is_some() {
            tracing::info!(session_id = %session.id, have = parts.len(), missing = todo.len(), "resuming upload session");
        }
        let concurrency = if opts.part_concurrency == 0 {
            self.shared.config.part_concurrency
        } else {
            opts.part_concurrency
        }
        .max(1);
        // In offset order, a bounded window in flight; a failed part is retried alone inside
        // upload_part, and the first unrecoverable failure stops the rest.
        let sent: Vec<UploadPart> = futures::stream::iter(todo)
            .map(|index| async move {
                let p = self.upload_part_counted(session, src, index, tally).await?;
                if let Some(cb) = &opts.on_part {
                    cb(&p);
                }
                Ok::<UploadPart, ApiError>(p)
            })
            .buffer_unordered(concurrency)
            .try_collect()
            .await?;
        parts.extend(sent);
        parts.sort_by_key(|p| p.offset);
        self.commit(src, target, session, parts, tally).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_ranges_cover_the_file_exactly() {
        const P: u64 = 8 * 1024 * 1024;
        for size in [
            P,
            3 * P,
            3 * P + 1,
            3 * P - 1,
            4 * 1024 * 1024 * 1024,
            20_000_000,
        ] {
            let total = size.div_ceil(P);
            let mut next = 0;
            for i in 0..total {
                let (off, len) = part_range(size, P, i);
                assert_eq!(off, next);
                assert!(len > 0 && len <= P);
                next = off + len;
            }
            assert_eq!(next, size);
        }
        // The last range of a 4 GiB file ends at 4 GiB - 1, not at a 32-bit wrap.
        let size = 4u64 << 30;
        let (off, len) = part_range(size, P, size / P - 1);
        assert_eq!(
            content_range(off, len, size),
            "bytes 4286578688-4294967295/4294967296"
        );
    }

    #[test]
    fn digest_is_base64_sha1() {
        let sha = Sha1::digest(b"abc");
        assert_eq!(
            digest_header(sha.as_slice()),
            "sha=qZk+NkcGgWq6PiVxeFDCbJzQ2J0="
        );
        assert!(same_sha(
            "a9993e364706816aba3e25717850c26c9cd0d89d",
            sha.as_slice()
        ));
        assert!(same_sha("qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", sha.as_slice()));
        assert!(!same_sha("00", sha.as_slice()));
    }
}
