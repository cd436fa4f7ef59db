//! Access tokens and `POST /oauth2/token`: developer tokens, Client Credentials Grant, the JWT
//! bearer grant (claims and RS256/384/512 signature checked as Box does) and refresh tokens.
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
// Token expiry on tokio's clock: real time on a normal runtime, and moved by
// `tokio::time::advance` when a test serves the emulator on a paused one.
use tokio::time::Instant;

use super::Shared;
use super::error::oauth_error;
use crate::box_api::model::AccessToken;

/// Box's token URL: the `aud` a JWT assertion must name.
pub(crate) const BOX_TOKEN_URL: &str = "https://api.box.com/oauth2/token";

/// Token table.
#[derive(Debug)]
pub(crate) struct Auth {
    /// access token → (expiry (None: never, for developer tokens), principal).
    tokens: Mutex<HashMap<String, (Option<Instant>, String)>>,
    /// refresh token → (client id, principal) (single use, as Box's).
    refresh: Mutex<HashMap<String, (String, String)>>,
    jtis: Mutex<HashSet<String>>,
    clients: Vec<(String, String)>,
    keys: Vec<(String, DecodingKey)>,
    pub ttl: Duration,
    /// `/_emulator/auth` `refuse_grants`: every token request is refused `invalid_grant`.
    refuse_grants: AtomicBool,
}

impl Auth {
    pub fn new(
        developer_tokens: &[String],
        clients: Vec<(String, String)>,
        pem_keys: &[(String, String)],
        ttl: Duration,
    ) -> std::io::Result<Auth> {
        let keys = pem_keys
            .iter()
            .map(|(kid, pem)| {
                DecodingKey::from_rsa_pem(pem.as_bytes())
                    .map(|k| (kid.clone(), k))
                    .map_err(|e| {
                        std::io::Error::other(format!(
                            "JWT public key {kid:?} is not an RSA PEM: {e}"
                        ))
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Auth {
            // A developer token is its own user's credential: its principal is the token.
            tokens: Mutex::new(
                developer_tokens
                    .iter()
                    .map(|t| (t.clone(), (None, format!("dev:{t}"))))
                    .collect(),
            ),
            refresh: Mutex::new(HashMap::new()),
            jtis: Mutex::new(HashSet::new()),
            clients,
            keys,
            ttl,
            refuse_grants: AtomicBool::new(false),
        })
    }

    /// Revoke every access token issued so far, developer tokens included (as when an admin
    /// revokes an app's tokens, or a developer token is revoked in the console): each then
    /// gets Box's bare 401. Returns how many were revoked.
    pub fn revoke_all(&self) -> usize {
        let mut map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        let n = map.len();
        map.clear();
        n
    }

    /// Accept `token` as a developer token from now on (a new one from the console).
    pub fn add_developer_token(&self, token: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(token.to_owned(), (None, format!("dev:{token}")));
    }

    /// Refuse every grant from now on (`true`), or accept valid ones again.
    pub fn set_refuse_grants(&self, refuse: bool) {
        self.refuse_grants.store(refuse, Ordering::Relaxed);
    }

    /// Are grants refused?
    pub fn refuses_grants(&self) -> bool {
        self.refuse_grants.load(Ordering::Relaxed)
    }

    /// The principal (the Box user or service account) of a live access token; `None` for a
    /// missing, unknown or expired token. Box's rate limits are per user, not per token, so
    /// every token of one principal (a refreshed one, another process's) shares one budget.
    pub fn principal(&self, token: &str) -> Option<String> {
        let map = self.tokens.lock().unwrap_or_else(|p| p.into_inner());
        match map.get(token) {
            Some((None, who)) => Some(who.clone()),
            Some((Some(expiry), who)) if Instant::now() < *expiry => Some(who.clone()),
            _ => None,
        }
    }

    fn client_ok(&self, id: &str, secret: &str) -> bool {
        self.clients.iter().any(|(i, s)| i == id && s == secret)
    }
}

/// The bearer token of a request, if any.
pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = v.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

#[derive(Debug, Deserialize)]
pub(crate) struct TokenForm {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
    box_subject_type: Option<String>,
    box_subject_id: Option<String>,
    assertion: Option<String>,
    refresh_token: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Claims {
    iss: Option<String>,
    sub: Option<String>,
    box_sub_type: Option<String>,
    aud: Option<serde_json::Value>,
    jti: Option<String>,
    exp: Option<i64>,
}

fn issue(app: &Shared, client_id: &str, principal: String) -> Response {
    let access = app.faults.hex_id(32).to_lowercase();
    let refresh = app.faults.hex_id(64).to_lowercase();
    let ttl = app.auth.ttl;
    app.auth
        .tokens
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(
            access.clone(),
            (Some(Instant::now() + ttl), principal.clone()),
        );
    app.auth
        .refresh
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(refresh.clone(), (client_id.to_string(), principal));
    axum::Json(AccessToken {
        access_token: access,
        expires_in: ttl.as_secs().max(1),
        token_type: "bearer".into(),
        // Box issues refresh tokens only for OAuth 2 user auth; the emulator issues one with
        // every grant so the refresh_token grant can be exercised.
        refresh_token: Some(refresh),
        restricted_to: Some(Vec::new()),
        issued_token_type: None,
    })
    .into_response()
}

/// `POST /oauth2/token` (form-encoded).
pub(crate) async fn token(
    State(app): State<Arc<Shared>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    let form: TokenForm = match serde_urlencoded_like(&body) {
        Some(f) => f,
        None => return oauth_error("invalid_request", "Invalid form body"),
    };
    if app.auth.refuses_grants() {
        return refused_grant(form.grant_type.as_deref());
    }
    let client_id = form.client_id.clone().unwrap_or_default();
    let secret = form.client_secret.clone().unwrap_or_default();
    match form.grant_type.as_deref() {
        Some("client_credentials") => {
            if !app.auth.client_ok(&client_id, &secret) {
                return oauth_error("invalid_client", "The client credentials are invalid");
            }
            let subject_ok = matches!(
                form.box_subject_type.as_deref(),
                Some("enterprise" | "user")
            ) && form
                .box_subject_id
                .as_deref()
                .is_some_and(|s| !s.is_empty());
            if !subject_ok {
                return oauth_error("invalid_grant", "Grant credentials are invalid");
            }
            let principal = format!(
                "{client_id}/{}:{}",
                form.box_subject_type.as_deref().unwrap_or_default(),
                form.box_subject_id.as_deref().unwrap_or_default()
            );
            issue(&app, &client_id, principal)
        }
        Some("urn:ietf:params:oauth:grant-type:jwt-bearer") => {
            if !app.auth.client_ok(&client_id, &secret) {
                return oauth_error("invalid_client", "The client credentials are invalid");
            }
            let host = headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or("127.0.0.1");
            let own_url = format!("http://{host}/oauth2/token");
            match check_assertion(&app.auth, form.assertion.as_deref(), &client_id, &own_url) {
                Ok(subject) => issue(&app, &client_id, format!("{client_id}/{subject}")),
                Err(why) => oauth_error("invalid_grant", &why),
            }
        }
        Some("refresh_token") => {
            let presented = form.refresh_token.unwrap_or_default();
            let owner = app
                .auth
                .refresh
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&presented);
            match owner {
                Some((owner, principal)) if client_id.is_empty() || owner == client_id => {
                    issue(&app, &owner, principal)
                }
                _ => oauth_error("invalid_grant", "Invalid refresh token"),
            }
        }
        _ => oauth_error(
            "unsupported_grant_type",
            "Invalid grant_type parameter or parameter missing",
        ),
    }
}

/// The answer to a grant Box refuses (`refuse_grants`): Box's OpenAPI spec, operation
/// `post_oauth2_token`, answers an authentication error with status 400 and an `OAuth2Error`
/// body (`{"error","error_description"}`); a refused grant's `error` is `invalid_grant` (OAuth
/// 2.0, RFC 6749 section 5.2: "the provided authorization grant ... or refresh token is
/// invalid, expired, revoked"), with Box's descriptions for a refresh token and for other grants.
fn refused_grant(grant_type: Option<&str>) -> Response {
    match grant_type {
        Some("refresh_token") => oauth_error("invalid_grant", "Invalid refresh token"),
        _ => oauth_error("invalid_grant", "Grant credentials are invalid"),
    }
}

/// `GET /_emulator/auth`: the auth switches.
pub(crate) async fn get_switches(State(app): State<Arc<Shared>>) -> Response {
    axum::Json(AuthSwitches {
        refuse_grants: app.auth.refuses_grants(),
    })
    .into_response()
}

/// Auth switches (`PUT /_emulator/auth`), apart from the fault switches: they act on the token
/// table rather than on each request.
#[derive(Debug, Deserialize, serde::Serialize)]
pub(crate) struct AuthSwitches {
    /// Refuse every token request with 400 `invalid_grant` (a refresh that Box refuses).
    refuse_grants: bool,
}

/// `PUT /_emulator/auth` `{"refuse_grants": bool}`.
pub(crate) async fn set_switches(
    State(app): State<Arc<Shared>>,
    axum::Json(s): axum::Json<AuthSwitches>,
) -> Response {
    app.auth.set_refuse_grants(s.refuse_grants);
    axum::Json(s).into_response()
}

/// `POST /_emulator/auth/revoke`: every access token issued so far (developer tokens too)
/// answers as Box answers a revoked one: 401, an empty body and `WWW-Authenticate: Bearer
/// realm="Service", error="invalid_token", ...` (see `error::unauthorized`).
pub(crate) async fn revoke(State(app): State<Arc<Shared>>) -> Response {
    let n = app.auth.revoke_all();
    axum::Json(serde_json::json!({ "revoked": n })).into_response()
}

/// `POST /_emulator/auth/developer_tokens` `{"token": "..."}`: accept a new developer token.
pub(crate) async fn add_developer_token(
    State(app): State<Arc<Shared>>,
    axum::Json(body): axum::Json<serde_json::Value>,
) -> Response {
    match body
        .get("token")
        .and_then(|t| t.as_str())
        .filter(|t| !t.is_empty())
    {
        Some(t) => {
            app.auth.add_developer_token(t);
            axum::http::StatusCode::CREATED.into_response()
        }
        None => super::error::ApiError::bad_request("bad_request", "expected {\"token\": \"...\"}")
            .into_response(),
    }
}

/// Parse an `application/x-www-form-urlencoded` body.
fn serde_urlencoded_like(body: &[u8]) -> Option<TokenForm> {
    let text = std::str::from_utf8(body).ok()?;
    let mut map = serde_json::Map::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let decode = |s: &str| urlencoding::decode(&s.replace('+', " ")).map(|c| c.into_owned());
        map.insert(decode(k).ok()?, serde_json::Value::String(decode(v).ok()?));
    }
    serde_json::from_value(serde_json::Value::Object(map)).ok()
}

/// Check a JWT assertion as Box does; the error text says which claim failed. On success,
/// the subject as `box_sub_type:sub`.
fn check_assertion(
    auth: &Auth,
    assertion: Option<&str>,
    client_id: &str,
    own_url: &str,
) -> Result<String, String> {
    let assertion = assertion.ok_or("Missing assertion")?;
    let header = jsonwebtoken::decode_header(assertion)
        .map_err(|e| format!("Invalid JWT assertion: {e}"))?;
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return Err("Please check the 'alg' header: RS256, RS384 or RS512".into());
    }
    let key = match header.kid.as_deref() {
        Some(kid) => auth.keys.iter().find(|(k, _)| k == kid),
        None if auth.keys.len() == 1 => auth.keys.first(),
        None => None,
    }
    .ok_or("Please check the 'kid' header: no public key with this id")?;
    let mut validation = Validation::new(header.alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    validation.validate_nbf = false;
    validation.required_spec_claims = HashSet::new();
    let data = jsonwebtoken::decode::<Claims>(assertion, &key.1, &validation)
        .map_err(|e| format!("Signature verification error. The public key identified by the JWT header may not correspond to the private key used to sign the assertion: {e}"))?;
    let c = data.claims;
    if c.iss.as_deref() != Some(client_id) {
        return Err("Please check the 'iss' claim: it must be the client id".into());
    }
    if c.sub.as_deref().is_none_or(str::is_empty) {
        return Err("Please check the 'sub' claim".into());
    }
    if !matches!(c.box_sub_type.as_deref(), Some("enterprise" | "user")) {
        return Err("Please check the 'box_sub_type' claim: enterprise or user".into());
    }
    let aud_ok = |a: &str| a == BOX_TOKEN_URL || a == own_url;
    let aud_matches = match &c.aud {
        Some(serde_json::Value::String(a)) => aud_ok(a),
        Some(serde_json::Value::Array(list)) => list.iter().any(|a| a.as_str().is_some_and(aud_ok)),
        _ => false,
    };
    if !aud_matches {
        return Err("Please check the 'aud' claim. Should match the token url.".into());
    }
    let now = chrono::Utc::now().timestamp();
    match c.exp {
        None => return Err("Please check the 'exp' claim: missing".into()),
        Some(exp) if exp <= now => return Err("Please check the 'exp' claim: expired".into()),
        Some(exp) if exp > now + 60 => {
            return Err("Please check the 'exp' claim: at most 60 seconds ahead".into());
        }
        _ => {}
    }
    let jti = c.jti.ok_or("Please check the 'jti' claim: missing")?;
    if !(16..=128).contains(&jti.chars().count()) {
        return Err("Please check the 'jti' claim: 16 to 128 characters".into());
    }
    if !auth
        .jtis
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(jti)
    {
        return Err("Please check the 'jti' claim. A unique 'jti' value is required.".into());
    }
    Ok(format!(
        "{}:{}",
        c.box_sub_type.unwrap_or_default(),
        c.sub.unwrap_or_default()
    ))
}
