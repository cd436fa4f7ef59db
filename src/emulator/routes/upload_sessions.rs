//! Chunked upload sessions on the upload host: create (new file / new version), upload part
//! (`digest`, `content-range`, alignment, 416 on overlap), list parts, status, commit (parts
//! list and whole-file digest checked; 202 and transient `parts_mismatch` when switched on),
//! abort. Sessions expire after `session_ttl` (404, as on Box).
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::Value;
use sha1::{Digest, Sha1};
use tokio::time::Instant;

use super::files::{check_if_match, check_limits};
use super::{base_url, files_json, parse_id};
use crate::box_api::model;
use crate::emulator::Shared;
use crate::emulator::counters::bump;
use crate::emulator::enterprise::Need;
use crate::emulator::error::{ApiError, ApiResult, parse_json};
use crate::emulator::layer::stored;
use crate::emulator::rules::{
    SESSION_MIN, bad_digest, box_time, check_name, check_part_layout, parse_content_range,
    parse_digest, part_size_for,
};
use crate::emulator::sessions::{Frames, Part, Session, Stream, Target, lock};
use crate::emulator::store::{Blobs, Content};

fn session_json(app: &Shared, headers: &HeaderMap, s: &Session) -> model::UploadSession {
    let base = format!(
        "{}/api/2.0/files/upload_sessions/{}",
        base_url(app, headers),
        s.id
    );
    model::UploadSession {
        id: s.id.clone(),
        kind: "upload_session".into(),
        session_expires_at: Some(s.expires_text.clone()),
        part_size: s.part_size,
        total_parts: s.total_parts,
        num_parts_processed: s.parts.len() as u64,
        session_endpoints: model::SessionEndpoints {
            upload_part: Some(base.clone()),
            commit: Some(format!("{base}/commit")),
            abort: Some(base.clone()),
            list_parts: Some(format!("{base}/parts")),
            status: Some(base.clone()),
            log_event: Some(format!("{base}/log")),
        },
    }
}

fn file_size_of(body: &Value) -> ApiResult<u64> {
    match body.get("file_size") {
        None | Some(Value::Null) => Err(ApiError::bad_request(
            "missing_file_size",
            "file_size is required",
        )),
        Some(v) => v.as_u64().ok_or_else(|| {
            ApiError::bad_request("invalid_file_size", "file_size must be a positive integer")
        }),
    }
}

fn check_session_size(size: u64) -> ApiResult<()> {
    if size < SESSION_MIN {
        return Err(ApiError::bad_request(
            "file_size_too_small",
            "Upload sessions are for files of at least 20000000 bytes; use a direct upload",
        ));
    }
    Ok(())
}

fn open_session(app: &Shared, headers: &HeaderMap, target: Target, file_size: u64) -> Response {
    let ttl = Duration::from_secs_f64(app.faults.switches().session_ttl_secs.max(0.0));
    let part_size = part_size_for(file_size);
    let s = Session {
        id: app.faults.hex_id(32),
        target,
        file_size,
        part_size,
        total_parts: file_size.div_ceil(part_size),
        expires: Instant::now() + ttl,
        expires_text: box_time(
            chrono::Utc::now() + chrono::Duration::from_std(ttl).unwrap_or_default(),
        ),
        parts: Default::default(),
        stream: Stream::default(),
        commit_202_left: None,
        mismatch_left: None,
    };
    let reply = session_json(app, headers, &s);
    app.sessions.insert(s);
    bump(&app.tally.sessions_created);
    (StatusCode::CREATED, axum::Json(reply)).into_response()
}

/// `POST /api/2.0/files/upload_sessions`: a session for a new file.
pub(crate) async fn create(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let body: Value = parse_json(&body)?;
    let folder = match body.get("folder_id") {
        None | Some(Value::Null) => {
            return Err(ApiError::bad_request(
                "missing_destination",
                "folder_id is required",
            ));
        }
        Some(Value::String(s)) => s
            .parse::<u64>()
            .map(super::own_root)
            .map_err(|_| ApiError::bad_request("invalid_folder_id", "folder_id is invalid"))?,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_folder_id",
                "folder_id must be a string",
            ));
        }
    };
    let file_size = file_size_of(&body)?;
    let name = body
        .get("file_name")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad_request("missing_file_name", "file_name is required"))?
        .to_string();
    check_name(&name)?;
    check_session_size(file_size)?;
    {
        let tree = app.store.lock();
        tree.folder(folder)?;
        tree.require(folder, Need::Upload)?;
        check_limits(&app, &tree, file_size, 0)?;
        tree.check_free(folder, &name, None)?;
    }
    Ok(open_session(
        &app,
        &headers,
        Target::NewFile { folder, name },
        file_size,
    ))
}

/// `POST /api/2.0/files/{id}/upload_sessions`: a session for a new version.
pub(crate) async fn create_version(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let file = parse_id(&id)?;
    let body: Value = parse_json(&body)?;
    let file_size = file_size_of(&body)?;
    let name = body
        .get("file_name")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(name) = &name {
        check_name(name)?;
    }
    check_session_size(file_size)?;
    {
        let tree = app.store.lock();
        let item = tree.file(file)?;
        tree.require(file, Need::Upload)?;
        check_limits(&app, &tree, file_size, item.size)?;
        if let Some(name) = &name {
            tree.check_free(item.parent, name, Some(file))?;
        }
    }
    Ok(open_session(
        &app,
        &headers,
        Target::NewVersion { file, name },
        file_size,
    ))
}

/// `PUT /api/2.0/files/upload_sessions/{id}`: one part.
pub(crate) async fn upload_part(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Body,
) -> ApiResult<Response> {
    // Keep the frames as they arrive (no copy into one buffer); hash them in place.
    let mut frames = Vec::new();
    let mut body_len = 0u64;
    let mut stream = body.into_data_stream();
    while let Some(frame) = stream.next().await {
        let frame = frame.map_err(|e| {
            ApiError::bad_request("bad_request", format!("Cannot read the part body: {e}"))
        })?;
        body_len += frame.len() as u64;
        frames.push(frame);
    }
    let frames: Frames = Arc::new(frames);
    app.tally.bytes_received.fetch_add(body_len, Relaxed);
    let session = app.sessions.get(&id)?;
    let digest = parse_digest(&headers)?;
    let range = parse_content_range(&headers)?;
    let (file_size, part_size) = {
        let s = lock(&session);
        (s.file_size, s.part_size)
    };
    check_part_layout(range, file_size, part_size)?;
    let size = range.last - range.first + 1;
    if body_len != size {
        return Err(ApiError::bad_request(
            "bad_request",
            format!("The body is {body_len} bytes but content-range names {size}"),
        ));
    }
    let hashed = frames.clone();
    let raw = tokio::task::spawn_blocking(move || {
        let mut h = Sha1::new();
        for frame in hashed.iter() {
            h.update(frame);
        }
        let mut out = [0u8; 20];
        out.copy_from_slice(&h.finalize());
        out
    })
    .await
    .map_err(|e| ApiError::internal(format!("hashing task failed: {e}")))?;
    if raw != digest {
        return Err(bad_digest());
    }
    let keep = !matches!(app.store.blobs, Blobs::Discard);
    // Part ids are 8 hex chars (Box's look like "6F2D3486"): derived from the session and
    // offset so a listing is stable.
    let part_id = {
        let h = crate::emulator::rules::sha1_raw(format!("{id}:{}", range.first).as_bytes());
        hex::encode_upper(&h[..4])
    };
    let part = model::UploadPart {
        part_id,
        offset: range.first,
        size,
        sha1: hex::encode(raw),
    };
    let reply = part.clone();
    // Feeding the whole-file hash may hash several parts: off the async executor.
    tokio::task::spawn_blocking(move || {
        let mut s = lock(&session);
        let overlaps = s
            .parts
            .range(..=range.last)
            .next_back()
            .is_some_and(|(off, p)| off + p.part.size > range.first);
        if overlaps {
            return Err(ApiError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_overlaps_existing_part",
                "Part overlaps with a part already uploaded",
            ));
        }
        s.parts.insert(
            range.first,
            Part {
                part,
                bytes: keep.then(|| frames.clone()),
            },
        );
        s.stream.feed(range.first, size, frames);
        Ok(())
    })
    .await
    .map_err(|e| ApiError::internal(format!("part task failed: {e}")))??;
    bump(&app.tally.parts_received);
    Ok(stored(
        axum::Json(model::UploadedPart { part: reply }).into_response(),
    ))
}

/// `GET /api/2.0/files/upload_sessions/{id}`.
pub(crate) async fn status(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let session = app.sessions.get(&id)?;
    let s = lock(&session);
    Ok(axum::Json(session_json(&app, &headers, &s)).into_response())
}

/// `DELETE /api/2.0/files/upload_sessions/{id}` → 204.
pub(crate) async fn abort(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    app.sessions.get(&id)?;
    app.sessions.remove(&id);
    bump(&app.tally.sessions_aborted);
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `GET /api/2.0/files/upload_sessions/{id}/parts?offset=&limit=`.
pub(crate) async fn list_parts(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let parse = |k: &str, d: u64| -> ApiResult<u64> {
        q.get(k).map_or(Ok(d), |v| {
            v.parse()
                .map_err(|_| ApiError::bad_request("bad_request", format!("Invalid {k}")))
        })
    };
    let offset = parse("offset", 0)?;
    let limit = parse("limit", 100)?;
    if limit > 1000 {
        return Err(ApiError::bad_request(
            "bad_request",
            "Invalid value for limit: must be at most 1000",
        ));
    }
    let session = app.sessions.get(&id)?;
    let s = lock(&session);
    let entries = s
        .parts
        .values()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|p| p.part.clone())
        .collect();
    Ok(axum::Json(model::UploadParts {
        total_count: s.parts.len() as u64,
        limit: Some(limit),
        offset: Some(offset),
        entries,
    })
    .into_response())
}

/// A commit whose `digest` is not the SHA-1 of the parts put together: 400 `digest_mismatch`,
/// nothing is created. Box's spec names no code for it; Box's SDK trackers show this reply at
/// commit: "400 digest_mismatch - File digest was incorrect. Actual: ... Expected: ..."
/// (box/box-java-sdk#701, box/box-windows-sdk-v2#767). A wrong digest on one part keeps
/// `rules::bad_digest` (Box's code for that is undocumented).
fn digest_mismatch(received: &[u8; 20], announced: &[u8; 20]) -> ApiError {
    use base64::Engine;
    let b64 = |d: &[u8; 20]| base64::engine::general_purpose::STANDARD.encode(d);
    ApiError::bad_request(
        "digest_mismatch",
        format!(
            "File digest was incorrect: the parts hash to sha={}, the digest header says sha={}",
            b64(received),
            b64(announced)
        ),
    )
}

fn parts_mismatch() -> ApiError {
    ApiError::bad_request(
        "parts_mismatch",
        "The parts list does not match the parts uploaded to the session",
    )
}

/// `POST /api/2.0/files/upload_sessions/{id}/commit`.
pub(crate) async fn commit(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let session = app.sessions.get(&id)?;
    let digest = parse_digest(&headers)?;
    let req: model::CommitUploadSession = parse_json(&body)?;
    let switches = app.faults.switches();
    let (target, chunks, sha1) = {
        let mut s = lock(&session);
        let received: Vec<&model::UploadPart> = s.parts.values().map(|p| &p.part).collect();
        let same = req.parts.len() == received.len()
            && req.parts.iter().zip(&received).all(|(a, b)| a == *b);
        let mut next = 0;
        let covers = received.iter().all(|p| {
            let ok = p.offset == next;
            next += p.size;
            ok
        }) && next == s.file_size;
        if !same || !covers {
            return Err(parts_mismatch());
        }
        let whole = s
            .stream
            .digest_if_complete(s.file_size)
            .ok_or_else(parts_mismatch)?;
        if whole != digest {
            return Err(digest_mismatch(&whole, &digest));
        }
        let left = s.commit_202_left.get_or_insert(switches.commit_202);
        if *left > 0 {
            *left -= 1;
            app.tally.fault("commit_202");
            let mut resp = StatusCode::ACCEPTED.into_response();
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(1u32));
            return Ok(resp);
        }
        let left = s.mismatch_left.get_or_insert(switches.parts_mismatch);
        if *left > 0 {
            *left -= 1;
            app.tally.fault("parts_mismatch");
            return Err(parts_mismatch());
        }
        let chunks: Option<Vec<Frames>> = s.parts.values().map(|p| p.bytes.clone()).collect();
        (s.target.clone(), chunks, hex::encode(whole))
    };
    let file_size: u64 = req.parts.iter().map(|p| p.size).sum();
    let bytes = match chunks {
        Some(chunks) if !matches!(app.store.blobs, Blobs::Discard) => {
            let joined = tokio::task::spawn_blocking(move || {
                let mut all = BytesMut::with_capacity(file_size as usize);
                for frame in chunks.iter().flat_map(|c| c.iter()) {
                    all.extend_from_slice(frame);
                }
                all.freeze()
            })
            .await
            .map_err(|e| ApiError::internal(format!("join task failed: {e}")))?;
            app.store.keep_blob(&sha1, joined).await?
        }
        _ => None,
    };
    let attrs = req.attributes.unwrap_or(model::UploadAttributes {
        name: None,
        parent: None,
        content_created_at: None,
        content_modified_at: None,
    });
    let content = Content {
        size: file_size,
        sha1,
        content_created_at: attrs.content_created_at,
        content_modified_at: attrs.content_modified_at,
        bytes,
    };
    let mut tree = app.store.lock();
    let id_out = match target {
        Target::NewFile { folder, name } => {
            check_limits(&app, &tree, file_size, 0)?;
            let id = tree.create_file(folder, &name, content)?;
            bump(&app.tally.files_created);
            id
        }
        Target::NewVersion { file, name } => {
            let item = tree.file(file)?;
            check_if_match(&headers, item.etag)?;
            check_limits(&app, &tree, file_size, item.size)?;
            let rename = name.filter(|n| *n != item.name);
            tree.new_version(file, rename.as_deref(), content)?;
            bump(&app.tally.versions_created);
            file
        }
    };
    let reply = files_json(&tree, id_out)?;
    drop(tree);
    app.sessions.remove(&id);
    bump(&app.tally.sessions_committed);
    Ok(stored(
        (StatusCode::CREATED, axum::Json(reply)).into_response(),
    ))
}
