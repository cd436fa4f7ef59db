//! The router (one file per Box resource) and the JSON renderings of items that several
//! resources share.
use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, options, post, put};

use super::Shared;
use super::error::{ApiError, parse_json};
use super::inspect::EmulatorState;
use super::store::{Item, Kind, ROOT, Tree};
use crate::box_api::model;

pub(crate) mod files;
pub(crate) mod folders;
pub(crate) mod form;
pub(crate) mod upload_sessions;
pub(crate) mod users;

/// All routes: API host (`/2.0`), upload host (`/api/2.0`), OAuth and `/_emulator`.
pub(crate) fn router(app: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth2/token", post(super::auth::token))
        .route("/2.0/folders", post(folders::create))
        .route(
            "/2.0/folders/{id}",
            get(folders::get_folder)
                .put(folders::update)
                .delete(folders::delete_folder),
        )
        .route("/2.0/folders/{id}/items", get(folders::items))
        .route("/2.0/users/me", get(users::me))
        .route("/2.0/files/content", options(files::preflight_new))
        // Box answers the preflight with a trailing slash too; rclone's Box backend (1.75)
        // sends `OPTIONS /2.0/files/content/` (backend/box: `Path: "/files/content/"`).
        .route("/2.0/files/content/", options(files::preflight_new))
        .route(
            "/2.0/files/{id}",
            get(files::get_file)
                .put(files::update)
                .delete(files::delete_file),
        )
        .route("/2.0/files/{id}/content", options(files::preflight_version))
        .route("/2.0/files/{id}/copy", post(files::copy))
        .route("/api/2.0/files/content", post(files::upload))
        .route("/api/2.0/files/{id}/content", post(files::upload_version))
        .route(
            "/api/2.0/files/upload_sessions",
            post(upload_sessions::create),
        )
        .route(
            "/api/2.0/files/{id}/upload_sessions",
            post(upload_sessions::create_version),
        )
        .route(
            "/api/2.0/files/upload_sessions/{id}",
            put(upload_sessions::upload_part)
                .get(upload_sessions::status)
                .delete(upload_sessions::abort),
        )
        .route(
            "/api/2.0/files/upload_sessions/{id}/parts",
            get(upload_sessions::list_parts),
        )
        .route(
            "/api/2.0/files/upload_sessions/{id}/commit",
            post(upload_sessions::commit),
        )
        .route("/_emulator/state", get(state))
        .route("/_emulator/config", put(set_config).get(get_config))
        .route("/_emulator/health", get(|| async { "ok" }))
        .fallback(|| async { ApiError::not_found() })
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            super::layer::handle,
        ))
        // Parts are 8 MiB+ and direct uploads up to 50 MB: size rules are Box's, checked in
        // the handlers, not axum's 2 MB default.
        .layer(DefaultBodyLimit::disable())
        .with_state(app)
}

/// `GET /_emulator/state`; `?tree=false` leaves the tree out (counters only), so a bench can
/// poll an emulator of a million items without it building a million-entry reply.
async fn state(
    State(app): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    if q.get("tree").is_some_and(|v| v == "false") {
        return axum::Json(EmulatorState {
            counters: app.tally.snapshot(),
            tree: Vec::new(),
        })
        .into_response();
    }
    axum::Json(app.state()).into_response()
}

async fn get_config(State(app): State<Arc<Shared>>) -> Response {
    axum::Json(app.faults.switches()).into_response()
}

/// `PUT /_emulator/config`: merge the given switch fields into the current switches.
async fn set_config(State(app): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let patch: serde_json::Value = match parse_json(&body) {
        Ok(v) => v,
        Err(e) => return e.into_response(),
    };
    let current = serde_json::to_value(app.faults.switches()).unwrap_or_default();
    let (serde_json::Value::Object(mut cur), serde_json::Value::Object(patch)) = (current, patch)
    else {
        return ApiError::bad_request("bad_request", "expected a JSON object").into_response();
    };
    for (k, v) in patch {
        if !cur.contains_key(&k) {
            return ApiError::bad_request("bad_request", format!("unknown switch {k:?}"))
                .into_response();
        }
        cur.insert(k, v);
    }
    match serde_json::from_value::<super::Switches>(serde_json::Value::Object(cur)) {
        Ok(new) => axum::Json(app.faults.update(|s| *s = new)).into_response(),
        Err(e) => {
            ApiError::bad_request("bad_request", format!("bad switches: {e}")).into_response()
        }
    }
}

/// Parse a Box id from a path (ids are decimal; anything else is 404, as on Box).
pub(crate) fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>().map_err(|_| ApiError::not_found())
}

/// `http://HOST` (`https://` on the TLS listener) of this request, for URLs the emulator hands
/// out. (HTTP/2's `:authority` is copied into `host` by the layer.)
pub(crate) fn base_url(app: &Shared, headers: &HeaderMap) -> String {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let scheme = if app.tls.is_some() { "https" } else { "http" };
    format!("{scheme}://{host}")
}

pub(crate) fn folder_mini(item: &Item) -> model::FolderMini {
    model::FolderMini {
        kind: "folder".into(),
        id: item.id.to_string(),
        sequence_id: (item.id != ROOT).then(|| item.etag.to_string()),
        etag: (item.id != ROOT).then(|| item.etag.to_string()),
        name: Some(item.name.clone()),
    }
}

fn path_collection(tree: &Tree, item: &Item) -> model::PathCollection {
    let entries: Vec<_> = tree.ancestors(item.id).iter().map(folder_mini).collect();
    model::PathCollection {
        total_count: entries.len() as u64,
        entries,
    }
}

/// A full file.
pub(crate) fn file_json(tree: &Tree, item: &Item) -> model::File {
    model::File {
        kind: "file".into(),
        id: item.id.to_string(),
        etag: Some(item.etag.to_string()),
        sequence_id: Some(item.etag.to_string()),
        name: Some(item.name.clone()),
        sha1: Some(item.sha1.clone()),
        size: Some(item.size),
        file_version: Some(model::FileVersionMini {
            kind: "file_version".into(),
            id: item.version_id.to_string(),
            sha1: Some(item.sha1.clone()),
        }),
        parent: tree.get(item.parent).as_ref().map(folder_mini),
        path_collection: Some(path_collection(tree, item)),
        created_at: Some(item.created_at.clone()),
        modified_at: Some(item.modified_at.clone()),
        content_created_at: item.content_created_at.clone(),
        content_modified_at: item.content_modified_at.clone(),
        item_status: Some("active".into()),
    }
}

/// A Files collection of one file (uploads, commits).
pub(crate) fn files_json(tree: &Tree, id: u64) -> Result<model::Files, ApiError> {
    let item = tree.file(id)?;
    Ok(model::Files {
        total_count: 1,
        entries: vec![file_json(tree, &item)],
    })
}

/// A full folder (without `item_collection`; the caller adds it).
pub(crate) fn folder_json(tree: &Tree, item: &Item) -> model::Folder {
    let is_root = item.id == ROOT;
    model::Folder {
        kind: "folder".into(),
        id: item.id.to_string(),
        etag: (!is_root).then(|| item.etag.to_string()),
        sequence_id: (!is_root).then(|| item.etag.to_string()),
        name: Some(item.name.clone()),
        size: Some(tree.folder_size(item.id)),
        parent: (!is_root)
            .then(|| tree.get(item.parent).as_ref().map(folder_mini))
            .flatten(),
        path_collection: Some(path_collection(tree, item)),
        created_at: (!is_root).then(|| item.created_at.clone()),
        modified_at: (!is_root).then(|| item.modified_at.clone()),
        item_status: Some("active".into()),
        item_collection: None,
        permissions: None,
    }
}

/// A listing entry: the mini item plus the requested `fields`.
pub(crate) fn entry_json(item: &Item, fields: Option<&[&str]>) -> model::Item {
    let wants = |f: &str| fields.is_none_or(|list| list.contains(&f));
    let is_file = item.kind == Kind::File;
    let e = model::ItemFields {
        id: item.id.to_string(),
        etag: Some(item.etag.to_string()),
        sequence_id: Some(item.etag.to_string()),
        name: Some(item.name.clone()),
        size: (fields.is_some_and(|l| l.contains(&"size"))).then_some(item.size),
        sha1: (is_file && wants("sha1")).then(|| item.sha1.clone()),
        file_version: (is_file && wants("file_version")).then(|| model::FileVersionMini {
            kind: "file_version".into(),
            id: item.version_id.to_string(),
            sha1: Some(item.sha1.clone()),
        }),
        content_modified_at: fields
            .is_some_and(|l| l.contains(&"content_modified_at"))
            .then(|| item.content_modified_at.clone())
            .flatten(),
        modified_at: fields
            .is_some_and(|l| l.contains(&"modified_at"))
            .then(|| item.modified_at.clone()),
    };
    match item.kind {
        Kind::File => model::Item::File(e),
        Kind::Folder => model::Item::Folder(e),
    }
}
