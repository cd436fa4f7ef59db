//! Group routes: `GET /2.0/groups` (`filter_term`: a name prefix, case-insensitive; offset
//! paging), `GET /2.0/groups/{id}` and `GET /2.0/groups/{id}/memberships` (offset paging);
//! 404 `not_found` for a group Box does not know.
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::users::{keep_fields, paging, starts_with};
use crate::emulator::Shared;
use crate::emulator::enterprise::{Enterprise, Group};
use crate::emulator::error::{ApiError, ApiResult};

fn group_json(g: &Group) -> Value {
    serde_json::to_value(Enterprise::group_mini(g)).unwrap_or_default()
}

/// `GET /2.0/groups`.
pub(crate) async fn list(
    State(app): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (offset, limit) = paging(&q, 100)?;
    let term = q.get("filter_term").map(|t| t.trim()).unwrap_or("");
    let tree = app.store.lock();
    let matching: Vec<&Group> = tree
        .ent
        .groups
        .iter()
        .filter(|g| starts_with(&g.name, term))
        .collect();
    let entries: Vec<Value> = matching
        .iter()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|g| keep_fields(group_json(g), &q))
        .collect();
    Ok(axum::Json(json!({
        "total_count": matching.len(),
        "limit": limit,
        "offset": offset,
        "entries": entries,
    }))
    .into_response())
}

/// `GET /2.0/groups/{id}`.
pub(crate) async fn get_group(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let tree = app.store.lock();
    let g = tree.ent.group(&id).ok_or_else(ApiError::not_found)?;
    Ok(axum::Json(keep_fields(group_json(g), &q)).into_response())
}

/// `GET /2.0/groups/{id}/memberships`: one `group_membership` (role `member`) per member.
pub(crate) async fn memberships(
    State(app): State<Arc<Shared>>,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> ApiResult<Response> {
    let (offset, limit) = paging(&q, 100)?;
    let tree = app.store.lock();
    let g = tree.ent.group(&id).ok_or_else(ApiError::not_found)?;
    let group = Enterprise::group_mini(g);
    let entries: Vec<Value> = g
        .members
        .iter()
        .enumerate()
        .skip(offset as usize)
        .take(limit as usize)
        .map(|(i, user)| {
            json!({
                "type": "group_membership",
                // Unique and stable: the group id, then the member's place in it.
                "id": format!("{}{:04}", g.id, i + 1),
                "user": tree.ent.mini(user),
                "group": group,
                "role": "member",
            })
        })
        .collect();
    Ok(axum::Json(json!({
        "total_count": g.members.len(),
        "limit": limit,
        "offset": offset,
        "entries": entries,
    }))
    .into_response())
}
