//! User routes. `GET /2.0/users/me`: the acting user (the `As-User` when it is a declared
//! user, else the token's own user, the service account), with the account's storage as the
//! client's quota pre-check reads it: `space_amount` is `quota_bytes` (Box's "unlimited" figure
//! without one), `space_used` the bytes the emulator stores; `max_upload_size` is the file size
//! limit. `GET /2.0/users` (the enterprise's managed users: `filter_term` is a login or name
//! prefix, case-insensitive; `user_type`; offset paging) and `GET /2.0/users/{id}`.
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::requested_fields;
use crate::box_api::model;
use crate::box_api::model::UNLIMITED_SPACE;
use crate::emulator::Shared;
use crate::emulator::enterprise::{Enterprise, SERVICE_USER, actor};
use crate::emulator::error::{ApiError, ApiResult};

/// Box's largest page for `/users`, `/groups` and memberships.
pub(crate) const MAX_LIMIT: u64 = 1000;

/// `GET /2.0/users/me`. Without `fields=` Box returns its standard representation (which has
/// the storage fields); with it, `type`, `id` and the fields asked for.
pub(crate) async fn me(
    State(app): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let switches = app.faults.switches();
    let (used, mini) = {
        let tree = app.store.lock();
        let me = actor()
            .map(|a| a.user)
            .filter(|u| tree.ent.user(u).is_some())
            .unwrap_or_else(|| SERVICE_USER.into());
        (tree.used_bytes(), tree.ent.mini(&me))
    };
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let user = model::User {
        kind: "user".into(),
        id: mini.id,
        name: mini.name,
        login: mini.login,
        space_amount: Some(switches.quota_bytes.map_or(UNLIMITED_SPACE, to_i64)),
        space_used: Some(to_i64(used)),
        max_upload_size: Some(to_i64(switches.max_file_size)),
    };
    let json = serde_json::to_value(&user).unwrap_or_default();
    axum::Json(keep_fields(json, &q)).into_response()
}

/// With `fields=`: `type`, `id` and the fields named; without, everything.
pub(crate) fn keep_fields(mut json: Value, q: &HashMap<String, String>) -> Value {
    if let (Some(fields), Some(obj)) = (requested_fields(q), json.as_object_mut()) {
        obj.retain(|k, _| k == "type" || k == "id" || fields.contains(k));
    }
    json
}

/// A user's standard representation (a subset of Box's `User--Full`).
fn user_json(ent: &Enterprise, id: &str) -> Value {
    let mini = ent.mini(id);
    json!({
        "type": "user",
        "id": mini.id,
        "name": mini.name,
        "login": mini.login,
        "status": "active",
        "role": if id == SERVICE_USER { "admin" } else { "user" },
    })
}

/// `offset` and `limit` of an offset-paged listing (400 `bad_request` for a bad value, or a
/// limit over Box's 1000).
pub(crate) fn paging(q: &HashMap<String, String>, default: u64) -> ApiResult<(u64, u64)> {
    let get = |key: &str, dflt: u64| -> ApiResult<u64> {
        match q.get(key) {
            None => Ok(dflt),
            Some(v) => v.parse().map_err(|_| {
                ApiError::bad_request("bad_request", format!("Invalid value for {key}: {v:?}"))
            }),
        }
    };
    let limit = get("limit", default)?;
    if limit > MAX_LIMIT {
        return Err(ApiError::bad_request(
            "bad_request",
            "Invalid value for limit: must be at most 1000",
        ));
    }
    Ok((get("offset", 0)?, limit))
}

/// Whether `text` starts with `term`, without regard to case.
pub(crate) fn starts_with(text: &str, term: &str) -> bool {
    text.to_lowercase().starts_with(&term.to_lowercase())
}

/// `GET /2.0/users`: the enterprise's managed users (the service account, an app user, is not
/// listed), filtered by `filter_term` (login or name prefix) and `user_type` (`all`,
/// `managed`: everyone; `external`: nobody).
pub(crate) async fn list(
    State(app): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (offset, limit) = paging(&q, 100)?;
    let external = match q.get("user_type").map(String::as_str) {
        None | Some("all") | Some("managed") => false,
        Some("external") => true,
        Some(other) => {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("Invalid value for user_type: {other:?}"),
            ));
        }
    };
    let term = q.get("filter_term").map(|t| t.trim()).unwrap_or("");
    let tree = app.store.lock();
    let matching: Vec<&str> = tree
        .ent
        .users
        .iter()
        .filter(|u| !external && (starts_with(&u.login, term) || starts_with(&u.name, term)))
        .map(|u| u.id.as_str())
        .collect();
    let entries: Vec<Value> = matching
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|id| keep_fields(user_json(&tree.ent, id), &q))
        .collect();
    Ok(axum::Json(json!({
        "total_count": matching.len(),
        "limit": limit,
        "offset": offset,
        "entries": entries,
    }))
    .into_response())
}

/// `GET /2.0/users/{id}`: a declared user or the service account; 404 `not_found` otherwise.
pub(crate) async fn get_user(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let tree = app.store.lock();
    if id != SERVICE_USER && tree.ent.user(&id).is_none() {
        return Err(ApiError::not_found());
    }
    Ok(axum::Json(keep_fields(user_json(&tree.ent, &id), &q)).into_response())
}
