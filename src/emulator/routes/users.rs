//! User routes: `GET /2.0/users/me`, the account's storage as the client's quota pre-check reads
//! it: `space_amount` is `quota_bytes` (Box's "unlimited" figure without one), `space_used`
//! the bytes the emulator stores; `max_upload_size` is the file size limit.
use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use crate::box_api::model;
use crate::box_api::model::UNLIMITED_SPACE;
use crate::emulator::Shared;

/// The one user the emulator's tokens stand for.
const USER_ID: &str = "11446498";

/// `GET /2.0/users/me`. Without `fields=` Box returns its standard representation (which has
/// the storage fields); with it, `type`, `id` and the fields asked for.
pub(crate) async fn me(
    State(app): State<Arc<Shared>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let switches = app.faults.switches();
    let used = app.store.lock().used_bytes();
    let to_i64 = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
    let user = model::User {
        kind: "user".into(),
        id: USER_ID.into(),
        name: Some("Emulator User".into()),
        login: Some("emulator@example.com".into()),
        space_amount: Some(switches.quota_bytes.map_or(UNLIMITED_SPACE, to_i64)),
        space_used: Some(to_i64(used)),
        max_upload_size: Some(to_i64(switches.max_file_size)),
    };
    let mut json = serde_json::to_value(&user).unwrap_or_default();
    if let (Some(fields), Some(obj)) = (q.get("fields"), json.as_object_mut()) {
        let keep: Vec<&str> = fields.split(',').map(str::trim).collect();
        obj.retain(|k, _| k == "type" || k == "id" || keep.contains(&k.as_str()));
    }
    axum::Json(json).into_response()
}
