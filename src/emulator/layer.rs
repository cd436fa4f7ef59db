//! The request layer every Box route goes through: request id (`box-request-id`), faults
//! before handling (5xx, drops, latency), bearer auth (401), per-token 429s, lost replies after
//! a store, and per-route counting.
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::auth::bearer;
use super::counters::bump;
use super::enterprise::ACTOR;
use super::error::{ApiError, REQUEST_ID, unauthorized};
use super::faults::Roll;
use super::net::Conn;
use super::{Shared, UserAccess};

/// Response marker: the handler stored something (upload, part, commit), so a lost reply may
/// be simulated.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Stored;

/// Mark a response as "something was stored".
pub(crate) fn stored(mut resp: Response) -> Response {
    resp.extensions_mut().insert(Stored);
    resp
}

/// Whether a request counts against the per-user upload limit (Box: 240 uploads/minute).
fn is_upload(method: &Method, route: &str) -> bool {
    method == Method::POST
        && matches!(
            route,
            "/api/2.0/files/content"
                | "/api/2.0/files/{id}/content"
                | "/api/2.0/files/upload_sessions"
                | "/api/2.0/files/{id}/upload_sessions"
        )
}

/// The layer (`axum::middleware::from_fn_with_state`).
pub(crate) async fn handle(
    State(app): State<Arc<Shared>>,
    mut req: Request,
    next: Next,
) -> Response {
    // HTTP/2 carries the host in `:authority` (the URI), not in a `host` header; handlers read
    // `host` to build the URLs they hand out (preflight, session endpoints).
    if !req.headers().contains_key(header::HOST)
        && let Some(host) = req
            .uri()
            .authority()
            .and_then(|a| HeaderValue::from_str(a.as_str()).ok())
    {
        req.headers_mut().insert(header::HOST, host);
    }
    let n = app.next_request.fetch_add(1, Ordering::Relaxed);
    // Box's request ids are opaque hex strings; a mixed counter keeps them unique and short.
    let rid = format!(
        "{:016x}",
        n.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x5bd1_e995
    );
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".into());
    let label = format!("{} {}", req.method(), route);
    app.tally.version(req.version(), &label);
    let mut resp = REQUEST_ID
        .scope(rid.clone(), guarded(app.clone(), req, next, route))
        .await;
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("box-request-id", v);
    }
    app.tally.request(&label, resp.status().as_u16());
    resp
}

fn fault_reply(app: &Shared, status: u16, kind_prefix: &'static str) -> Response {
    let (kind, code, msg) = match (kind_prefix, status) {
        ("fail", 502) => ("fail_502", "bad_gateway", "Bad Gateway"),
        ("fail", 503) => ("fail_503", "unavailable", "Unavailable"),
        ("fail", _) => ("fail_500", "internal_server_error", "Internal Server Error"),
        _ => (
            "lost_reply_5xx",
            "internal_server_error",
            "Internal Server Error",
        ),
    };
    app.tally.fault(kind);
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut err = ApiError::new(status, code, msg);
    if status == StatusCode::SERVICE_UNAVAILABLE {
        err = err.with_retry_after(1);
    }
    err.into_response()
}

fn drop_connection(app: &Shared, conn: Option<&Conn>, kind: &'static str) -> Response {
    app.tally.fault(kind);
    match conn {
        Some(c) => {
            c.kill();
            // Never written: the connection fails first.
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
        None => ApiError::internal("connection dropped").into_response(),
    }
}

async fn guarded(app: Arc<Shared>, req: Request, next: Next, route: String) -> Response {
    if route.starts_with("/_emulator") {
        return next.run(req).await;
    }
    let conn = req
        .extensions()
        .get::<ConnectInfo<Conn>>()
        .map(|c| c.0.clone());
    let switches = app.faults.switches();
    if switches.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(switches.latency_ms)).await;
    }
    match app.faults.before(&switches) {
        Roll::Pass => {}
        Roll::Fail(status) => return fault_reply(&app, status, "fail"),
        Roll::Drop => return drop_connection(&app, conn.as_ref(), "drop"),
    }
    if route != "/oauth2/token" {
        let Some(principal) = bearer(req.headers()).and_then(|t| app.auth.principal(t)) else {
            return unauthorized();
        };
        // Box's limits are per user: a service account acting `As-User` spends that user's
        // budget, not its own.
        let budget = match req.headers().get("as-user").and_then(|v| v.to_str().ok()) {
            Some(user) => format!("as-user:{user}"),
            None => principal,
        };
        let limited = app
            .faults
            .take_api(&budget, switches.rate_limit)
            .and_then(|()| {
                if is_upload(req.method(), &route) {
                    app.faults.take_upload(&budget, switches.upload_rate_limit)
                } else {
                    Ok(())
                }
            });
        // Collaborations (a minimal model): a user who is not a collaborator sees nothing
        // (Box: 404 `not_found`), a viewer may read but not write (403).
        match app.access_of(req.headers()) {
            Some(UserAccess::None) => {
                return ApiError::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
                    .into_response();
            }
            Some(UserAccess::Viewer) if req.method() != Method::GET => {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    "access_denied_insufficient_permissions",
                    "Access denied - insufficient permission",
                )
                .into_response();
            }
            _ => {}
        }
        if let Err(secs) = limited {
            bump(&app.tally.rate_limited);
            return ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limit_exceeded",
                "Request rate limit exceeded, please try again later",
            )
            .with_retry_after(secs)
            .into_response();
        }
    }
    // Who acts: the `As-User` (a declared user, or an undeclared id acting on the service
    // account's tree), else the token's own user. Routes read it (enterprise::actor).
    let as_user = req
        .headers()
        .get("as-user")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let actor = app.store.lock().ent.actor(as_user.as_deref());
    let resp = ACTOR.scope(actor, next.run(req)).await;
    if resp.extensions().get::<Stored>().is_some() && resp.status().is_success() {
        match app.faults.lost_reply(&switches) {
            Roll::Pass => {}
            Roll::Fail(status) => return fault_reply(&app, status, "lost"),
            Roll::Drop => return drop_connection(&app, conn.as_ref(), "lost_reply_drop"),
        }
    }
    resp
}
