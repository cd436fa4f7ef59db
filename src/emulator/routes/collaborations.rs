//! Collaboration routes: `POST /2.0/collaborations` and `GET /2.0/folders/{id}/collaborations`.
//!
//! Box's answers (Box's OpenAPI `post_collaborations`; shared/box-api.md): 201 with the
//! collaboration; 400 `user_already_collaborator` when that user, group or invited login
//! already has one on the item; 400 `collaborations_not_available_on_root_folder` for folder
//! "0"; a login Box does not know becomes a *pending* invitation (201, `status` `pending`,
//! `item` null, `invite_email` the login, `accessible_by` the invitee with its `login` and an
//! empty `name`, as Box's `post_collaborations` reference redacts a pending collaboration made
//! by login and its `User--Collaborations` schema describes it) that grants nothing; an unknown
//! user or group id is 404 `not_found`; a bad role or a missing field 400 `bad_request`; an
//! actor who may not invite (only owner, co-owner and editor may) 403
//! `access_denied_insufficient_permissions`; an item the actor cannot see 404.
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::users::keep_fields;
use super::{parse_id, requested_fields};
use crate::box_api::model::{self, CollabRole};
use crate::emulator::Shared;
use crate::emulator::enterprise::{Collab, Enterprise, Grantee, Need, SERVICE_USER, actor};
use crate::emulator::error::{ApiError, ApiResult, parse_json};
use crate::emulator::rules::now_text;
use crate::emulator::store::{ROOT, Tree};

/// What `POST /collaborations` asked for.
struct Request {
    item_type: String,
    item_id: String,
    /// (`user` or `group`, id, login).
    grantee: (String, Option<String>, Option<String>),
    role: CollabRole,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("bad_request", message)
}

/// A string field of a JSON object, or 400.
fn text(v: &Value, path: &str) -> ApiResult<Option<String>> {
    match v {
        Value::Null => Ok(None),
        Value::String(s) => Ok(Some(s.clone())),
        _ => Err(bad(format!("'{path}' must be a string"))),
    }
}

fn parse_request(body: &[u8]) -> ApiResult<Request> {
    let body: Value = parse_json(body)?;
    let item = body.get("item").ok_or_else(|| bad("'item' is required"))?;
    let item_type =
        text(&item["type"], "item.type")?.ok_or_else(|| bad("'item.type' is required"))?;
    if item_type != "folder" && item_type != "file" {
        return Err(bad(format!(
            "'item.type' {item_type:?} is not folder or file"
        )));
    }
    let item_id = text(&item["id"], "item.id")?.ok_or_else(|| bad("'item.id' is required"))?;
    let by = body
        .get("accessible_by")
        .ok_or_else(|| bad("'accessible_by' is required"))?;
    let kind = text(&by["type"], "accessible_by.type")?
        .ok_or_else(|| bad("'accessible_by.type' is required"))?;
    let id = text(&by["id"], "accessible_by.id")?;
    let login = text(&by["login"], "accessible_by.login")?;
    match (kind.as_str(), &id, &login) {
        ("user", None, None) => return Err(bad("'accessible_by' needs an id or a login")),
        ("group", None, _) => return Err(bad("a group is named by 'accessible_by.id'")),
        ("user" | "group", _, _) => {}
        _ => {
            return Err(bad(format!(
                "'accessible_by.type' {kind:?} is not user or group"
            )));
        }
    }
    let role = body
        .get("role")
        .and_then(Value::as_str)
        .ok_or_else(|| bad("'role' is required"))?;
    let role = CollabRole::parse(role)
        .filter(|r| CollabRole::GRANTABLE.contains(r))
        .ok_or_else(|| bad(format!("'role' {role:?} is not a role Box grants")))?;
    Ok(Request {
        item_type,
        item_id,
        grantee: (kind, id, login),
        role,
    })
}

/// The grantee a request names: 404 for an unknown user or group id; a login Box does not
/// know is an invitation.
fn grantee(
    ent: &Enterprise,
    (kind, id, login): &(String, Option<String>, Option<String>),
) -> ApiResult<Grantee> {
    if kind == "group" {
        let id = id.as_deref().unwrap_or_default();
        return ent
            .group(id)
            .map(|g| Grantee::Group(g.id.clone()))
            .ok_or_else(ApiError::not_found);
    }
    if let Some(id) = id {
        return match ent.user(id) {
            Some(u) => Ok(Grantee::User(u.id.clone())),
            None if id == SERVICE_USER => Ok(Grantee::User(id.clone())),
            None => Err(ApiError::not_found()),
        };
    }
    let login = login.as_deref().unwrap_or_default().trim();
    Ok(match ent.user_by_login(login) {
        Some(u) => Grantee::User(u.id.clone()),
        None => Grantee::Invite(login.to_string()),
    })
}

fn same(a: &Grantee, b: &Grantee) -> bool {
    match (a, b) {
        (Grantee::Invite(x), Grantee::Invite(y)) => x.eq_ignore_ascii_case(y),
        _ => a == b,
    }
}

/// Where the made-up user ids of pending invitees start (far above the enterprise's ids).
const PENDING_INVITEE_IDS: u64 = 9_000_000_000;

/// A collaboration as Box shows it.
fn collab_json(tree: &Tree, c: &Collab) -> model::Collaboration {
    let ent = &tree.ent;
    let pending = matches!(c.grantee, Grantee::Invite(_));
    let item = (!pending).then(|| model::CollabItem {
        kind: c.item_type.clone(),
        id: c.item.to_string(),
        name: tree.get(c.item).map(|i| i.name),
    });
    let accessible_by = match &c.grantee {
        Grantee::User(u) => {
            let m = ent.mini(u);
            Some(model::Grantee {
                kind: "user".into(),
                id: m.id,
                name: m.name,
                login: m.login,
            })
        }
        Grantee::Group(g) => ent.group(g).map(|g| model::Grantee {
            kind: "group".into(),
            id: g.id.clone(),
            name: Some(g.name.clone()),
            login: None,
        }),
        // The invitee has no Box account yet: an id the emulator makes up from the
        // collaboration's (stable across listings), Box's redaction of a pending invitation
        // made by login (`name` empty, `login` kept).
        Grantee::Invite(email) => Some(model::Grantee {
            kind: "user".into(),
            id: (PENDING_INVITEE_IDS + c.id).to_string(),
            name: Some(String::new()),
            login: Some(email.clone()),
        }),
    };
    model::Collaboration {
        kind: "collaboration".into(),
        id: c.id.to_string(),
        item,
        accessible_by,
        invite_email: match &c.grantee {
            Grantee::Invite(email) => Some(email.clone()),
            _ => None,
        },
        role: Some(c.role),
        status: Some(c.status().into()),
        created_by: Some(ent.mini(&c.created_by)),
        created_at: Some(c.created_at.clone()),
        modified_at: Some(c.created_at.clone()),
    }
}

/// `POST /2.0/collaborations[?notify=false]` (no mail is ever sent).
pub(crate) async fn create(
    State(app): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let req = parse_request(&body)?;
    let root_refused = || {
        ApiError::bad_request(
            "collaborations_not_available_on_root_folder",
            "Root folder cannot be collaborated",
        )
    };
    if req.item_type == "folder" && req.item_id.trim() == ROOT.to_string() {
        return Err(root_refused());
    }
    let id = parse_id(req.item_id.trim())?;
    let mut tree = app.store.lock();
    match req.item_type.as_str() {
        "folder" => tree.folder(id)?,
        _ => tree.file(id)?,
    };
    if tree.is_root(id) {
        return Err(root_refused());
    }
    tree.require(id, Need::Invite)?;
    let grantee = grantee(&tree.ent, &req.grantee)?;
    if tree
        .ent
        .collabs
        .iter()
        .any(|c| c.item == id && same(&c.grantee, &grantee))
    {
        return Err(ApiError::bad_request(
            "user_already_collaborator",
            "User is already a collaborator",
        ));
    }
    let collab = Collab {
        id: tree.ent.next_id(40_000_000),
        item: id,
        item_type: req.item_type,
        grantee,
        role: req.role,
        created_by: actor().map_or_else(|| SERVICE_USER.into(), |a| a.user),
        created_at: now_text(),
    };
    let reply = collab_json(&tree, &collab);
    tree.ent.collabs.push(collab);
    tree.save_enterprise();
    let json = serde_json::to_value(reply).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok((StatusCode::CREATED, axum::Json(keep_fields(json, &q))).into_response())
}

/// `GET /2.0/folders/{id}/collaborations`: the folder's own collaborations (not those it
/// inherits), pending ones included, oldest first; marker paging (`marker` is the id of the
/// last collaboration returned), `fields=` as on items.
pub(crate) async fn of_folder(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let id = parse_id(&id)?;
    let (_, limit) = super::users::paging(&q, 100)?;
    let after = match q.get("marker").filter(|m| !m.is_empty()) {
        None => 0,
        Some(m) => m
            .parse::<u64>()
            .map_err(|_| ApiError::bad_request("invalid_marker", "The marker is invalid"))?,
    };
    let tree = app.store.lock();
    tree.folder(id)?;
    let mut mine: Vec<&Collab> = tree
        .ent
        .collabs
        .iter()
        .filter(|c| c.item == id && c.item_type == "folder" && c.id > after)
        .collect();
    mine.sort_by_key(|c| c.id);
    let more = mine.len() as u64 > limit;
    mine.truncate(limit as usize);
    let fields = requested_fields(&q);
    let entries: Vec<Value> = mine
        .iter()
        .map(|c| {
            let json = serde_json::to_value(collab_json(&tree, c)).unwrap_or_default();
            match &fields {
                Some(_) => keep_fields(json, &q),
                None => json,
            }
        })
        .collect();
    let next = more
        .then(|| mine.last().map(|c| c.id.to_string()))
        .flatten();
    Ok(axum::Json(serde_json::json!({
        "limit": limit,
        "next_marker": next,
        "entries": entries,
    }))
    .into_response())
}
