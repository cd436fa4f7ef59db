//! File routes: get, rename/move, delete, preflight, direct upload and new version
//! (multipart, `attributes` before `file`, `content-md5` = SHA-1 hex), server-side copy.
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Multipart, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::{Bytes, BytesMut};

use super::form::{UploadForm, form_error};
use super::{base_url, file_json, files_json, only_fields, parse_id, requested_fields};
use crate::box_api::model;
use crate::emulator::Shared;
use crate::emulator::counters::bump;
use crate::emulator::enterprise::Need;
use crate::emulator::error::{ApiError, ApiResult, parse_json};
use crate::emulator::layer::stored;
use crate::emulator::rules::{DIRECT_UPLOAD_MAX, bad_digest, check_name, sha1_of};
use crate::emulator::store::{Content, Kind, Tree};

/// 403s for the account's limits: file size and storage quota.
pub(crate) fn check_limits(app: &Shared, tree: &Tree, size: u64, freed: u64) -> ApiResult<()> {
    let s = app.faults.switches();
    if size > s.max_file_size {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "file_size_limit_exceeded",
            "File size exceeds the folder owner's file size limit",
        ));
    }
    if let Some(quota) = s.quota_bytes
        && tree.used_bytes().saturating_sub(freed) + size > quota
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "storage_limit_exceeded",
            "Account storage limit reached",
        ));
    }
    Ok(())
}

/// `GET /2.0/files/{id}`: the standard file, or with `fields=` only the fields named plus
/// `type`, `id` and `etag` (`super::only_fields`).
pub(crate) async fn get_file(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let tree = app.store.lock();
    let file = file_json(&tree, &tree.file(id)?);
    Ok(match requested_fields(&q) {
        Some(fields) => only_fields(&file, &fields),
        None => axum::Json(file).into_response(),
    })
}

/// `PUT /2.0/files/{id}`: rename and/or move (Box's OpenAPI `put_files_id`: `name`,
/// `parent.id`; 412 when `If-Match` names another etag; 409 `item_name_in_use` on a clash, as
/// for folders). The reply may be lost (`lost_reply_rate`): the move happened all the same.
pub(crate) async fn update(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let tree = super::folders::update_item(&app, id, Kind::File, &headers, &body)?;
    let reply = axum::Json(file_json(&tree, &tree.file(id)?)).into_response();
    Ok(stored(reply))
}

/// `DELETE /2.0/files/{id}`: to the trash (Box's OpenAPI `delete_files_id`: 204; 404 "if the
/// file is not found or has already been deleted"; 412 when `If-Match` names another etag).
pub(crate) async fn delete_file(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let mut tree = app.store.lock();
    let file = tree.file(id)?;
    tree.require(id, Need::Edit)?;
    check_if_match(&headers, file.etag)?;
    tree.delete(id, false)?;
    Ok(stored(StatusCode::NO_CONTENT.into_response()))
}

fn preflight_ok(headers: &HeaderMap, app: &Shared) -> Response {
    axum::Json(model::UploadUrl {
        upload_url: format!("{}/api/2.0/files/content", base_url(app, headers)),
        upload_token: app.faults.hex_id(32),
    })
    .into_response()
}

/// The preflight's 409 names the conflicting item as one object, folder or file
/// (`context_info.conflicts`; Box's `POST /folders` 409 lists them instead). rclone's Box
/// backend decodes the preflight's `conflicts` as a single item and checks its `type` to tell a
/// folder from a file, against real Box.
fn one_conflict(mut e: ApiError) -> ApiError {
    if let Some(conflicts) = e.context_info.as_mut().and_then(|c| c.get_mut("conflicts"))
        && let serde_json::Value::Array(list) = conflicts
        && let Some(first) = list.first().cloned()
    {
        *conflicts = first;
    }
    e
}

/// `OPTIONS /2.0/files/content`: would this upload be accepted?
pub(crate) async fn preflight_new(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let req: model::PreflightRequest = parse_json(&body)?;
    let name = req
        .name
        .ok_or_else(|| ApiError::bad_request("bad_request", "'name' is required"))?;
    check_name(&name)?;
    let parent = req
        .parent
        .ok_or_else(|| ApiError::bad_request("bad_request", "'parent' is required"))?;
    let parent = parse_id(&parent.id)?;
    let tree = app.store.lock();
    tree.folder(parent)?;
    tree.require(parent, Need::Upload)?;
    check_limits(&app, &tree, req.size.unwrap_or(0), 0)?;
    tree.check_free(parent, &name, None).map_err(one_conflict)?;
    Ok(preflight_ok(&headers, &app))
}

/// `OPTIONS /2.0/files/{id}/content`: would this new version be accepted?
pub(crate) async fn preflight_version(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let req: model::PreflightRequest = if body.is_empty() {
        model::PreflightRequest {
            name: None,
            size: None,
            parent: None,
        }
    } else {
        parse_json(&body)?
    };
    let tree = app.store.lock();
    let file = tree.file(id)?;
    tree.require(id, Need::Upload)?;
    if let Some(name) = &req.name {
        check_name(name)?;
        tree.check_free(file.parent, name, Some(id))
            .map_err(one_conflict)?;
    }
    check_limits(&app, &tree, req.size.unwrap_or(0), file.size)?;
    Ok(preflight_ok(&headers, &app))
}

/// `POST /2.0/files/{id}/copy`.
pub(crate) async fn copy(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let req: model::CopyFile = parse_json(&body)?;
    let parent = parse_id(&req.parent.id)?;
    let mut tree = app.store.lock();
    let src = tree.file(id)?.clone();
    let name = req.name.unwrap_or_else(|| src.name.clone());
    check_name(&name)?;
    tree.folder(parent)?;
    tree.require(parent, Need::Upload)?;
    check_limits(&app, &tree, src.size, 0)?;
    let new_id = tree.create_file(
        parent,
        &name,
        Content {
            size: src.size,
            sha1: src.sha1.clone(),
            content_created_at: src.content_created_at.clone(),
            content_modified_at: src.content_modified_at.clone(),
            bytes: src.content.clone(),
        },
    )?;
    bump(&app.tally.files_created);
    let reply = file_json(&tree, &tree.file(new_id)?);
    Ok((StatusCode::CREATED, axum::Json(reply)).into_response())
}

/// The two parts of an upload form.
struct Form {
    attributes: model::UploadAttributes,
    file: Bytes,
}

async fn drain(mp: &mut Multipart) {
    while let Ok(Some(_)) = mp.next_field().await {}
}

/// Read the form, enforcing Box's part order and the direct-upload size limit.
///
/// Box's spec (`POST /files/content`) names the parts `attributes` and `file` and says "the
/// `attributes` part of the body must come before the `file` part" (400
/// `metadata_after_file_contents` otherwise); what Box reads is the part *after* `attributes`,
/// whatever its form name: rclone's Box backend (1.75) names it `contents` and uploads to Box
/// fine. So any part not named `attributes` is the file; the first one counts.
async fn read_form(UploadForm(mp): UploadForm) -> ApiResult<Form> {
    let mut mp = mp?;
    let mut attributes: Option<model::UploadAttributes> = None;
    let mut file: Option<Bytes> = None;
    while let Some(mut field) = mp.next_field().await.map_err(form_error)? {
        match field.name() {
            Some("attributes") => {
                let text = field.bytes().await.map_err(form_error)?;
                attributes = Some(parse_json(&text)?);
            }
            _ if file.is_some() => {}
            _ => {
                if attributes.is_none() {
                    drop(field);
                    drain(&mut mp).await;
                    return Err(ApiError::bad_request(
                        "metadata_after_file_contents",
                        "The attributes part must come before the file part",
                    ));
                }
                let mut chunks: Vec<Bytes> = Vec::new();
                let mut total = 0u64;
                while let Some(chunk) = field.chunk().await.map_err(form_error)? {
                    total += chunk.len() as u64;
                    if total > DIRECT_UPLOAD_MAX {
                        drop(field);
                        drain(&mut mp).await;
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "request_entity_too_large",
                            "Direct uploads are limited to 50 MB; use an upload session",
                        ));
                    }
                    chunks.push(chunk);
                }
                file = Some(match chunks.len() {
                    0 => Bytes::new(),
                    1 => chunks.pop().unwrap_or_default(),
                    _ => {
                        let mut all = BytesMut::with_capacity(total as usize);
                        for c in &chunks {
                            all.extend_from_slice(c);
                        }
                        all.freeze()
                    }
                });
            }
        }
    }
    let attributes = attributes
        .ok_or_else(|| ApiError::bad_request("bad_request", "The attributes part is missing"))?;
    let file =
        file.ok_or_else(|| ApiError::bad_request("bad_request", "The file part is missing"))?;
    Ok(Form { attributes, file })
}

/// Hash the body and check it against `content-md5` (which Box defines as the SHA-1 hex).
async fn verified_content(app: &Shared, headers: &HeaderMap, form: &Form) -> ApiResult<Content> {
    let raw = sha1_of(form.file.clone()).await?;
    let sha1 = hex::encode(raw);
    if let Some(expected) = headers.get("content-md5") {
        let expected = expected.to_str().unwrap_or("").trim().to_ascii_lowercase();
        if expected != sha1 {
            return Err(bad_digest());
        }
    }
    let bytes = app.store.keep_blob(&sha1, form.file.clone()).await?;
    Ok(Content {
        size: form.file.len() as u64,
        sha1,
        content_created_at: form.attributes.content_created_at.clone(),
        content_modified_at: form.attributes.content_modified_at.clone(),
        bytes,
    })
}

/// `POST /api/2.0/files/content`: direct upload of a new file.
pub(crate) async fn upload(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    form: UploadForm,
) -> ApiResult<Response> {
    let form = read_form(form).await?;
    app.tally
        .bytes_received
        .fetch_add(form.file.len() as u64, std::sync::atomic::Ordering::Relaxed);
    let name = form
        .attributes
        .name
        .clone()
        .ok_or_else(|| ApiError::bad_request("bad_request", "'name' is required"))?;
    check_name(&name)?;
    let parent = form
        .attributes
        .parent
        .as_ref()
        .ok_or_else(|| ApiError::bad_request("bad_request", "'parent' is required"))?;
    let parent = parse_id(&parent.id)?;
    {
        let tree = app.store.lock();
        tree.folder(parent)?;
        tree.require(parent, Need::Upload)?;
        check_limits(&app, &tree, form.file.len() as u64, 0)?;
    }
    let content = verified_content(&app, &headers, &form).await?;
    let mut tree = app.store.lock();
    check_limits(&app, &tree, content.size, 0)?;
    let id = tree.create_file(parent, &name, content)?;
    bump(&app.tally.files_created);
    bump(&app.tally.uploads);
    let reply = files_json(&tree, id)?;
    Ok(stored(
        (StatusCode::CREATED, axum::Json(reply)).into_response(),
    ))
}

/// 412 `precondition_failed` unless `if-match` names the item's current etag. Box's OpenAPI has
/// the `if-match` header on `POST /files/{file_id}/content` and on
/// `POST /files/upload_sessions/{upload_session_id}/commit` ("the endpoint will fail with a 412
/// Precondition Failed if it has changed since"), on `PUT` and `DELETE` of `/files/{file_id}`
/// and `/folders/{folder_id}` (their 412: "the `If-Match` header does not match the current
/// `etag` value"); not on session creation.
pub(crate) fn check_if_match(headers: &HeaderMap, etag: u64) -> ApiResult<()> {
    if let Some(want) = headers.get("if-match") {
        let want = want.to_str().unwrap_or("").trim().trim_matches('"');
        if want != etag.to_string() {
            return Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                "precondition_failed",
                "The resource has been modified. Please retrieve the resource again and retry",
            ));
        }
    }
    Ok(())
}

/// `POST /api/2.0/files/{id}/content`: a new version (optional rename, `if-match`); 200, as
/// Box's spec gives it (a new file is 201).
pub(crate) async fn upload_version(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    form: UploadForm,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let form = read_form(form).await?;
    app.tally
        .bytes_received
        .fetch_add(form.file.len() as u64, std::sync::atomic::Ordering::Relaxed);
    if let Some(name) = &form.attributes.name {
        check_name(name)?;
    }
    {
        let tree = app.store.lock();
        let file = tree.file(id)?;
        tree.require(id, Need::Upload)?;
        check_if_match(&headers, file.etag)?;
        check_limits(&app, &tree, form.file.len() as u64, file.size)?;
    }
    let content = verified_content(&app, &headers, &form).await?;
    let mut tree = app.store.lock();
    let file = tree.file(id)?;
    check_if_match(&headers, file.etag)?;
    check_limits(&app, &tree, content.size, file.size)?;
    // Renaming to the file's own current name is not a change.
    let rename = form
        .attributes
        .name
        .as_deref()
        .filter(|n| *n != file.name.as_str());
    tree.new_version(id, rename, content)?;
    bump(&app.tally.versions_created);
    bump(&app.tally.uploads);
    let reply = files_json(&tree, id)?;
    Ok(stored((StatusCode::OK, axum::Json(reply)).into_response()))
}
