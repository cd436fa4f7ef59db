//! Folder routes: get, list items (offset and marker paging), create (409 with conflicts, and
//! the optional duplicate-creating race), rename/move, delete.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::files::check_if_match;
use super::{entry_json, folder_json, only_fields, parse_id, requested_fields};
use crate::box_api::model;
use crate::emulator::Shared;
use crate::emulator::counters::bump;
use crate::emulator::enterprise::{Need, actor};
use crate::emulator::error::{ApiError, ApiResult, parse_json};
use crate::emulator::layer::stored;
use crate::emulator::rules::{check_name, name_key};
use crate::emulator::store::{Kind, Tree};

/// How long a folder creation is held when `folder_race` is on, so a concurrent creation of
/// the same name can overlap it (box-node-sdk#574: both succeed on Box).
const RACE_HOLD: Duration = Duration::from_millis(30);

/// Folder creations in flight, by (parent, lowercase name): a count and a flag shared by
/// every creation that overlapped another one (set for all of them, whoever wakes first).
#[derive(Debug, Default)]
pub(crate) struct RaceTable(Mutex<HashMap<RaceKey, (usize, Arc<AtomicBool>)>>);

/// (parent id, lowercase name).
type RaceKey = (u64, String);

impl RaceTable {
    fn enter(&self, key: &(u64, String)) -> Arc<AtomicBool> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let slot = m
            .entry(key.clone())
            .or_insert_with(|| (0, Arc::new(AtomicBool::new(false))));
        slot.0 += 1;
        if slot.0 > 1 {
            slot.1.store(true, Ordering::SeqCst);
        }
        slot.1.clone()
    }
    fn leave(&self, key: &(u64, String)) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = m.get_mut(key) {
            slot.0 -= 1;
            if slot.0 == 0 {
                m.remove(key);
            }
        }
    }
}

fn folder_reply(tree: &Tree, id: u64, status: StatusCode) -> ApiResult<Response> {
    let item = tree.folder(id)?;
    let mut folder = folder_json(tree, &item);
    folder.item_collection = Some(first_page(tree, id));
    Ok((status, axum::Json(folder)).into_response())
}

/// The `item_collection` of a folder reply: its first 100 items.
fn first_page(tree: &Tree, id: u64) -> model::Items {
    let (entries, total) = page(tree, id, 0, 100, None);
    model::Items {
        total_count: Some(total),
        limit: Some(100),
        offset: Some(0),
        entries,
        ..Default::default()
    }
}

fn page(
    tree: &Tree,
    id: u64,
    offset: u64,
    limit: u64,
    fields: Option<&[&str]>,
) -> (Vec<model::Item>, u64) {
    let total = tree.child_count(id) as u64;
    let entries = tree
        .children(id)
        .skip(offset as usize)
        .take(limit as usize)
        .filter_map(|c| tree.get(c).map(|i| entry_json(&i, fields)))
        .collect();
    (entries, total)
}

/// `GET /2.0/folders/{id}`: the standard folder with its first items, or with `fields=` only
/// the fields named plus `type`, `id` and `etag` (`super::only_fields`). `permissions` (Box's
/// `Folder--Full.permissions`) says what the caller may do there; only `can_upload` and its
/// read-side siblings are modelled.
pub(crate) async fn get_folder(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    headers: axum::http::HeaderMap,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let tree = app.store.lock();
    let Some(fields) = requested_fields(&q) else {
        return folder_reply(&tree, id, StatusCode::OK);
    };
    let item = tree.folder(id)?;
    let mut folder = folder_json(&tree, &item);
    let wants = |f: &str| fields.iter().any(|x| x == f);
    if wants("item_collection") {
        folder.item_collection = Some(first_page(&tree, id));
    }
    if wants("permissions") {
        folder.permissions = Some(permissions(&app, &tree, id, &headers));
    }
    Ok(only_fields(&folder, &fields))
}

/// `permissions` as the acting user's access allows (Box's `Folder--Full.permissions`): the
/// owner and editors may do everything, viewers only read. A user the legacy
/// `EmulatorConfig::access` (or `refuse_writes`) makes a viewer may not write anywhere.
fn permissions(
    app: &Shared,
    tree: &Tree,
    id: u64,
    headers: &HeaderMap,
) -> model::FolderPermissions {
    let access = actor().and_then(|a| tree.access(&a, id));
    let legacy_write = app.access_of(headers).is_none();
    let may = |need| legacy_write && access.is_none_or(|a| a.allows(need));
    model::FolderPermissions {
        can_upload: may(Need::Upload),
        can_download: access.is_none_or(|a| a.allows(Need::Read)),
        can_delete: may(Need::Edit),
        can_rename: may(Need::Edit),
        can_share: may(Need::Edit),
        can_invite_collaborator: may(Need::Invite),
        can_set_share_access: may(Need::Edit),
    }
}

fn query_u64(q: &HashMap<String, String>, key: &str, default: u64) -> ApiResult<u64> {
    match q.get(key) {
        None => Ok(default),
        Some(v) => v.parse().map_err(|_| {
            ApiError::bad_request("bad_request", format!("Invalid value for {key}: {v:?}"))
        }),
    }
}

/// `GET /2.0/folders/{id}/items`: offset paging (total_count) or marker paging (next_marker).
pub(crate) async fn items(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let limit = query_u64(&q, "limit", 100)?;
    if limit > 1000 {
        return Err(ApiError::bad_request(
            "bad_request",
            "Invalid value for limit: must be at most 1000",
        ));
    }
    let fields: Option<Vec<&str>> = q.get("fields").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let fields = fields.as_deref();
    let tree = app.store.lock();
    tree.folder(id)?;
    tree.require(id, Need::Read)?;
    let usemarker = q
        .get("usemarker")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let items = if usemarker {
        // The marker is the id of the last entry returned: stable under concurrent inserts.
        let after =
            match q.get("marker").filter(|m| !m.is_empty()) {
                None => None,
                Some(m) => Some(m.parse::<u64>().map_err(|_| {
                    ApiError::bad_request("invalid_marker", "The marker is invalid")
                })?),
            };
        let ids: Vec<u64> = match after {
            None => tree.children(id).take(limit as usize + 1).collect(),
            Some(a) => tree
                .children_after(id, a)
                .take(limit as usize + 1)
                .collect(),
        };
        let more = ids.len() as u64 > limit;
        let shown = &ids[..ids.len().min(limit as usize)];
        let next = if more {
            shown.last().map(|l| l.to_string())
        } else {
            None
        };
        model::Items {
            limit: Some(limit),
            next_marker: next,
            entries: shown
                .iter()
                .filter_map(|c| tree.get(*c).map(|i| entry_json(&i, fields)))
                .collect(),
            ..Default::default()
        }
    } else {
        let offset = query_u64(&q, "offset", 0)?;
        let (entries, total) = page(&tree, id, offset, limit, fields);
        model::Items {
            total_count: Some(total),
            limit: Some(limit),
            offset: Some(offset),
            order: Some(vec![model::Order {
                by: "type".into(),
                direction: "ASC".into(),
            }]),
            entries,
            ..Default::default()
        }
    };
    let mut items = serde_json::to_value(items).map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(fields) = fields {
        add_requested_fields(&tree, &mut items, fields);
    }
    Ok(axum::Json(items).into_response())
}

/// Fields a listing returns when `fields=` asks for them and `model::ItemFields` (the shape
/// boxlift reads) does not carry. Box: "fields: A comma-separated list of attributes to include
/// in the response" (`GET /folders/{id}/items`); rclone's Box backend asks for `item_status`,
/// `created_at` and `content_created_at` and skips every entry whose `item_status` is not
/// `active`, so without them it sees an empty folder.
fn add_requested_fields(tree: &Tree, items: &mut serde_json::Value, fields: &[&str]) {
    let Some(entries) = items
        .get_mut("entries")
        .and_then(serde_json::Value::as_array_mut)
    else {
        return;
    };
    for entry in entries {
        let Some(item) = entry
            .get("id")
            .and_then(serde_json::Value::as_str)
            .and_then(|id| id.parse::<u64>().ok())
            .and_then(|id| tree.get(id))
        else {
            continue;
        };
        let Some(obj) = entry.as_object_mut() else {
            continue;
        };
        for &f in fields {
            let value = match f {
                "item_status" => serde_json::json!("active"),
                "created_at" => serde_json::json!(item.created_at),
                "content_created_at" => match &item.content_created_at {
                    Some(t) => serde_json::json!(t),
                    None => continue,
                },
                // No shared links in the emulator: Box gives `null` for an item without one.
                "shared_link" => serde_json::Value::Null,
                "owned_by" => serde_json::json!(tree.ent.mini(&tree.owner_of(item.id))),
                "created_by" => serde_json::json!(tree.ent.mini(&item.created_by)),
                _ => continue,
            };
            obj.entry(f).or_insert(value);
        }
    }
}

#[derive(Debug, serde::Deserialize)]
struct CreateBody {
    name: Option<String>,
    parent: Option<model::ParentRef>,
}

/// `POST /2.0/folders`.
pub(crate) async fn create(
    State(app): State<Arc<Shared>>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let body: CreateBody = parse_json(&body)?;
    let name = body
        .name
        .ok_or_else(|| ApiError::bad_request("bad_request", "'name' is required"))?;
    let parent = body
        .parent
        .ok_or_else(|| ApiError::bad_request("bad_request", "'parent' is required"))?;
    check_name(&name)?;
    let parent = parse_id(&parent.id)?;
    {
        let tree = app.store.lock();
        tree.folder(parent)?;
        tree.require(parent, Need::Upload)?;
        tree.check_free(parent, &name, None)?;
    }
    let mut raced = false;
    if app.faults.switches().folder_race {
        let key = (parent, name_key(&name));
        let flag = app.folder_race.enter(&key);
        tokio::time::sleep(RACE_HOLD).await;
        raced = flag.load(Ordering::SeqCst);
        app.folder_race.leave(&key);
    }
    let mut tree = app.store.lock();
    tree.folder(parent)?;
    if raced {
        // Both racers pass the check they made before the other one landed.
        app.tally.fault("folder_race");
    } else {
        tree.check_free(parent, &name, None)?;
    }
    let id = tree.create_folder(parent, &name);
    bump(&app.tally.folders_created);
    folder_reply(&tree, id, StatusCode::CREATED)
}

/// `PUT /2.0/folders/{id}`: rename and/or move the folder with everything in it, one call
/// (Box's OpenAPI `put_folders_id`). The reply may be lost (`lost_reply_rate`).
pub(crate) async fn update(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    blocked(&app)?;
    let tree = update_item(&app, id, Kind::Folder, &headers, &body)?;
    Ok(stored(folder_reply(&tree, id, StatusCode::OK)?))
}

/// 409 `operation_blocked_temporary` while `/_emulator/operation_blocked` has answers left.
/// Box's OpenAPI, `put_folders_id` and `delete_folders_id` 409: "Returned if either of the
/// destination or source folders is locked due to another move, copy, delete or restore
/// operation in progress. The operation can be retried at a later point."
fn blocked(app: &Shared) -> ApiResult<()> {
    if app.faults.take_blocked() {
        app.tally.fault("operation_blocked");
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "operation_blocked_temporary",
            "The operation is blocked by another ongoing operation",
        ));
    }
    Ok(())
}

/// Shared by folders and files: rename and/or move (404 for a missing or trashed item or
/// destination, 412 when `If-Match` names another etag, 409 `item_name_in_use`, 400 for a
/// folder moved into itself). The tree stays locked for the reply.
pub(crate) fn update_item<'a>(
    app: &'a Shared,
    id: u64,
    kind: Kind,
    headers: &HeaderMap,
    body: &[u8],
) -> ApiResult<MutexGuard<'a, Tree>> {
    let body: model::UpdateItem = parse_json(body)?;
    if let Some(name) = &body.name {
        check_name(name)?;
    }
    let parent = body.parent.as_ref().map(|p| parse_id(&p.id)).transpose()?;
    let mut tree = app.store.lock();
    let item = match kind {
        Kind::Folder => tree.folder(id)?,
        Kind::File => tree.file(id)?,
    };
    tree.require(id, Need::Edit)?;
    if let Some(p) = parent {
        tree.folder(p)?;
        tree.require(p, Need::Upload)?;
    }
    check_if_match(headers, item.etag)?;
    tree.update(id, body.name.as_deref(), parent)?;
    Ok(tree)
}

/// `DELETE /2.0/folders/{id}[?recursive=true]`: to the trash with everything in it (Box's
/// OpenAPI `delete_folders_id`: 204; 400 `folder_not_empty` without `recursive`; 412 when
/// `If-Match` names another etag; 409 `operation_blocked_temporary`).
pub(crate) async fn delete_folder(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let recursive = q
        .get("recursive")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    blocked(&app)?;
    let mut tree = app.store.lock();
    let folder = tree.folder(id)?;
    tree.require(id, Need::Edit)?;
    check_if_match(&headers, folder.etag)?;
    tree.delete(id, recursive)?;
    Ok(stored(StatusCode::NO_CONTENT.into_response()))
}

/// `GET /2.0/folders/trash/items`: what was deleted, top-level items only (Box's OpenAPI
/// `get_folders_trash_items`: "Retrieves the files and folders that have been moved to the
/// trash"; a trashed folder's content is not listed beside it). Offset paging with
/// `total_count`, or marker paging (`usemarker=true`; the marker is the last id returned).
pub(crate) async fn trash_items(
    State(app): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let limit = query_u64(&q, "limit", 100)?;
    if limit > 1000 {
        return Err(ApiError::bad_request(
            "bad_request",
            "Invalid value for limit: must be at most 1000",
        ));
    }
    let fields: Option<Vec<&str>> = q.get("fields").map(|f| {
        f.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect()
    });
    let fields = fields.as_deref();
    let tree = app.store.lock();
    let usemarker = q
        .get("usemarker")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let items = if usemarker {
        let after = match q.get("marker").filter(|m| !m.is_empty()) {
            None => 0,
            Some(m) => m
                .parse::<u64>()
                .map_err(|_| ApiError::bad_request("invalid_marker", "The marker is invalid"))?,
        };
        let page: Vec<_> = tree
            .trash_items()
            .filter(|i| after == 0 || i.id > after)
            .take(limit as usize + 1)
            .collect();
        let more = page.len() as u64 > limit;
        let shown = &page[..page.len().min(limit as usize)];
        model::Items {
            limit: Some(limit),
            next_marker: more
                .then(|| shown.last().map(|i| i.id.to_string()))
                .flatten(),
            entries: shown.iter().map(|i| entry_json(i, fields)).collect(),
            ..Default::default()
        }
    } else {
        let offset = query_u64(&q, "offset", 0)?;
        model::Items {
            total_count: Some(tree.trash_items().count() as u64),
            limit: Some(limit),
            offset: Some(offset),
            entries: tree
                .trash_items()
                .skip(offset as usize)
                .take(limit as usize)
                .map(|i| entry_json(i, fields))
                .collect(),
            ..Default::default()
        }
    };
    Ok(axum::Json(items).into_response())
}
