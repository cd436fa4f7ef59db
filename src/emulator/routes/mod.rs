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
use super::enterprise::actor;
use super::error::{ApiError, parse_json};
use super::inspect::EmulatorState;
use super::store::{Item, Kind, ROOT, Tree};
use crate::box_api::model;

pub(crate) mod collaborations;
pub(crate) mod files;
pub(crate) mod folders;
pub(crate) mod form;
pub(crate) mod groups;
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
        .route("/2.0/folders/trash/items", get(folders::trash_items))
        .route("/2.0/users/me", get(users::me))
        .route("/2.0/users", get(users::list))
        .route("/2.0/users/{id}", get(users::get_user))
        .route("/2.0/groups", get(groups::list))
        .route("/2.0/groups/{id}", get(groups::get_group))
        .route("/2.0/groups/{id}/memberships", get(groups::memberships))
        .route("/2.0/collaborations", post(collaborations::create))
        .route(
            "/2.0/folders/{id}/collaborations",
            get(collaborations::of_folder),
        )
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
        .route("/_emulator/operation_blocked", put(operation_blocked))
        .route(
            "/_emulator/auth",
            put(super::auth::set_switches).get(super::auth::get_switches),
        )
        .route("/_emulator/auth/revoke", post(super::auth::revoke))
        .route(
            "/_emulator/auth/developer_tokens",
            post(super::auth::add_developer_token),
        )
        .route("/_emulator/trash/{id}", post(trash))
        .route("/_emulator/refuse_writes", put(refuse_writes))
        .route("/_emulator/enterprise", post(declare).get(enterprise))
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

/// `PUT /_emulator/operation_blocked` with `{"times": N}`: the next N folder moves and
/// deletions answer 409 `operation_blocked_temporary` (Box: a folder locked by another move,
/// copy, delete or restore in progress), so a test can check the client retries it. 204.
async fn operation_blocked(State(app): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Blocked {
        times: u32,
    }
    match parse_json::<Blocked>(&body) {
        Ok(b) => {
            app.faults.block_operations(b.times);
            axum::http::StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The names in a request's `fields=` (None without one).
pub(crate) fn requested_fields(q: &HashMap<String, String>) -> Option<Vec<String>> {
    q.get("fields").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    })
}

/// An item reduced to what `fields=` asked for. Box: "when a specific field is requested no
/// other fields are returned except for those requested and the base set of fields. For a
/// file, this base set is comprised of the etag, id, and type values" (developer.box.com,
/// guides/api-calls/request-extra-fields; the OpenAPI `fields` parameter of `GET
/// /files/{file_id}` and `GET /folders/{folder_id}`: "none of the standard fields are returned
/// in the response unless explicitly specified"). A client that reads a field it did not ask
/// for then fails here as it would on Box.
pub(crate) fn only_fields<T: serde::Serialize>(item: &T, fields: &[String]) -> Response {
    let mut json = serde_json::to_value(item).unwrap_or_default();
    if let Some(obj) = json.as_object_mut() {
        obj.retain(|k, _| matches!(k.as_str(), "type" | "id" | "etag") || fields.contains(k));
    }
    axum::Json(json).into_response()
}

/// `POST /_emulator/trash/{id}`: trash folder `id` and its contents, as `DELETE
/// /folders/{id}?recursive=true` does (Box's OpenAPI `delete_folders_id`: the folder moves to
/// the trash), but without a token, so a test can do it to a run from outside, like a user in
/// Box's web app. 204; 404 if there is no such folder.
async fn trash(
    State(app): State<Arc<Shared>>,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Response {
    match trash_folder(&app, &id) {
        Ok(()) => axum::http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => e.into_response(),
    }
}

pub(crate) fn trash_folder(app: &Shared, id: &str) -> Result<(), ApiError> {
    let id = parse_id(id)?;
    let mut tree = app.store.lock();
    tree.folder(id)?;
    tree.delete(id, true)
}

/// `PUT /_emulator/refuse_writes` with `{"users": ["12", ...]}`: from now on Box refuses those
/// `As-User` ids' writes with 403 `access_denied_insufficient_permissions` (Box's answer to a
/// Viewer uploading or creating a folder; `permissions.can_upload` reads false), as if an
/// admin lowered their collaboration mid-run. An empty list lifts it. 204.
async fn refuse_writes(State(app): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    #[derive(serde::Deserialize)]
    struct Refuse {
        users: Vec<String>,
    }
    match parse_json::<Refuse>(&body) {
        Ok(r) => {
            app.faults.refuse_writes(r.users);
            axum::http::StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// `POST /_emulator/enterprise` with the `--enterprise` JSON (`EnterpriseSpec`): declare more
/// users (each gets a root folder) and groups at run time. 204; 400 `bad_request` naming what
/// is wrong (nothing is declared then).
async fn declare(State(app): State<Arc<Shared>>, body: axum::body::Bytes) -> Response {
    let spec = match parse_json::<super::EnterpriseSpec>(&body) {
        Ok(s) => s,
        Err(e) => return e.into_response(),
    };
    match app.store.lock().declare(&spec) {
        Ok(()) => axum::http::StatusCode::NO_CONTENT.into_response(),
        Err(e) => ApiError::bad_request("bad_request", e).into_response(),
    }
}

/// `GET /_emulator/enterprise`: users (with their root folder ids), groups and collaborations.
async fn enterprise(State(app): State<Arc<Shared>>) -> Response {
    axum::Json(&app.store.lock().ent).into_response()
}

/// Parse a Box id from a path (ids are decimal; anything else is 404, as on Box). Folder "0"
/// is the acting user's own root.
pub(crate) fn parse_id(raw: &str) -> Result<u64, ApiError> {
    raw.parse::<u64>()
        .map(own_root)
        .map_err(|_| ApiError::not_found())
}

/// Folder "0" is the acting user's own root; any other id is itself.
pub(crate) fn own_root(id: u64) -> u64 {
    match id {
        ROOT => actor().map_or(ROOT, |a| a.root),
        id => id,
    }
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

/// The id a client sees: every root folder (the service account's, or a user's own) is "0"
/// to the user it belongs to, the only one who sees it.
pub(crate) fn shown_id(item: &Item) -> String {
    if item.parent == item.id {
        ROOT.to_string()
    } else {
        item.id.to_string()
    }
}

pub(crate) fn folder_mini(item: &Item) -> model::FolderMini {
    let is_root = item.parent == item.id;
    model::FolderMini {
        kind: "folder".into(),
        id: shown_id(item),
        sequence_id: (!is_root).then(|| item.etag.to_string()),
        etag: (!is_root).then(|| item.etag.to_string()),
        name: Some(item.name.clone()),
    }
}

/// The folders above `item` as the acting user sees them. The owner sees the whole way from
/// "All Files" ("0"). A collaborator sees it from *their* "All Files": then the topmost folder
/// a collaboration grants them, and on down (Box shows a collaborated folder in the
/// collaborator's root; the owner's folders above it stay hidden).
fn path_collection(tree: &Tree, item: &Item) -> model::PathCollection {
    let mut above = tree.ancestors(item.id);
    if let Some(who) = actor()
        && let Some(entry) = tree.entry_point(&who, item.id)
        && !tree.is_root(entry)
    {
        let from = above
            .iter()
            .position(|a| a.id == entry)
            .unwrap_or(above.len());
        let root = tree.get(who.root).into_iter();
        above = root.chain(above.drain(from..)).collect();
    }
    let entries: Vec<_> = above.iter().map(folder_mini).collect();
    model::PathCollection {
        total_count: entries.len() as u64,
        entries,
    }
}

/// A full file.
pub(crate) fn file_json(tree: &Tree, item: &Item) -> model::File {
    let path = path_collection(tree, item);
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
        parent: path.entries.last().cloned(),
        path_collection: Some(path),
        created_at: Some(item.created_at.clone()),
        modified_at: Some(item.modified_at.clone()),
        content_created_at: item.content_created_at.clone(),
        content_modified_at: item.content_modified_at.clone(),
        item_status: Some("active".into()),
        owned_by: Some(tree.ent.mini(&tree.owner_of(item.id))),
        created_by: Some(tree.ent.mini(&item.created_by)),
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
    let is_root = tree.is_root(item.id);
    let path = path_collection(tree, item);
    model::Folder {
        kind: "folder".into(),
        id: shown_id(item),
        etag: (!is_root).then(|| item.etag.to_string()),
        sequence_id: (!is_root).then(|| item.etag.to_string()),
        name: Some(item.name.clone()),
        size: Some(tree.folder_size(item.id)),
        parent: path.entries.last().cloned(),
        path_collection: Some(path),
        created_at: (!is_root).then(|| item.created_at.clone()),
        modified_at: (!is_root).then(|| item.modified_at.clone()),
        item_status: Some("active".into()),
        item_collection: None,
        permissions: None,
        owned_by: Some(tree.ent.mini(&tree.owner_of(item.id))),
        created_by: Some(tree.ent.mini(&item.created_by)),
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
        owned_by: None,
        created_by: None,
    };
    match item.kind {
        Kind::File => model::Item::File(e),
        Kind::Folder => model::Item::Folder(e),
    }
}
