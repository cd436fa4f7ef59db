//! Box-shaped error replies (`{"type":"error",...}`), the bare 401 and the OAuth error shape.
//!
//! The request id lives in a task-local set by the request layer, so every error body and the
//! `box-request-id` header carry the same id without threading it through each handler.
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::box_api::model::{ErrorBody, OAuthError};

tokio::task_local! {
    /// The id of the request being handled (set by `layer::handle`).
    pub(crate) static REQUEST_ID: String;
}

/// The current request's id, or an empty string outside a request.
pub(crate) fn request_id() -> String {
    REQUEST_ID.try_with(|r| r.clone()).unwrap_or_default()
}

/// A Box API error: status, Box's `code`, a message and optional `context_info`.
#[derive(Debug, Clone)]
pub(crate) struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub context_info: Option<Value>,
    pub retry_after: Option<u64>,
}

pub(crate) type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            context_info: None,
            retry_after: None,
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
    }

    /// Box's answer for an item in the trash (or under a trashed folder): 404 `trashed`.
    pub fn trashed() -> Self {
        Self::new(StatusCode::NOT_FOUND, "trashed", "Item is trashed")
    }

    pub fn conflict_name(conflicts: Value) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "item_name_in_use",
            "Item with the same name already exists",
        )
        .with_context(serde_json::json!({ "conflicts": conflicts }))
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_server_error",
            message,
        )
    }

    pub fn with_context(mut self, context: Value) -> Self {
        self.context_info = Some(context);
        self
    }

    pub fn with_retry_after(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            kind: "error".into(),
            status: self.status.as_u16(),
            code: self.code.into(),
            message: self.message,
            context_info: self.context_info,
            help_url: Some("http://developers.box.com/docs/#errors".into()),
            request_id: request_id(),
        };
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        resp
    }
}

/// Box's reply to a missing, unknown or expired token: 401, empty body, and this header.
pub(crate) fn unauthorized() -> Response {
    let mut resp = StatusCode::UNAUTHORIZED.into_response();
    resp.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(
            "Bearer realm=\"Service\", error=\"invalid_token\", error_description=\"The access token provided is invalid.\"",
        ),
    );
    resp
}

/// An OAuth 2 error from `/oauth2/token` (`{"error","error_description"}`, 400).
pub(crate) fn oauth_error(error: &str, description: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(OAuthError {
            error: error.into(),
            error_description: description.into(),
        }),
    )
        .into_response()
}

/// Parse a JSON request body into `T`, or a Box-shaped 400.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> ApiResult<T> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request("bad_request", format!("Invalid JSON in request body: {e}"))
    })
}
