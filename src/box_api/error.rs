//! `ApiError`: every failure of a Box call, with Box's status, code and request id, mapped to a
//! semantic [`ErrorKind`] the upload stage can act on (skip, retry later, report).
//!
//! Display shows the operation, status, code, message and request id: never a token, header or
//! URL query (URLs carrying tokens are not recorded at all).
//!
//! Causes are kept, not only printed: a transport failure keeps its `reqwest::Error` and a local
//! file failure its [`LocalFileError`] (with the `io::Error`) as [`std::error::Error::source`],
//! and a request that was retried says how often and for how long in `attempts` and `elapsed`.
//! `message` stays the one-line text the report's `error_message` column shows.
use std::error::Error as StdError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use super::model::ErrorBody;
use super::retry::{Endpoint, Outcome, failure_class};

/// What kind of failure this was, independent of the exact HTTP status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ErrorKind {
    /// 401/403 or a token request refused: credentials or permissions.
    Auth,
    /// 404: the item or session does not exist.
    NotFound,
    /// 409: the name is taken; `existing` is the conflicting item's id when Box named it.
    Conflict {
        /// Id of the item that holds the name.
        existing: Option<String>,
    },
    /// 429 after every retry was spent.
    RateLimited,
    /// 5xx, dropped connection or timeout after every retry was spent.
    Transient,
    /// 400 and other 4xx: the request itself is wrong; retrying will not help.
    Invalid,
    /// The file is larger than the account allows (`file_size_limit_exceeded`, 413).
    TooLarge,
    /// The account is out of storage (`storage_limit_exceeded`).
    Quota,
    /// 412: `if-match` did not match (the file changed in Box).
    Precondition,
    /// Box stored something other than what we sent (SHA-1 or size differs).
    Integrity,
    /// Local I/O: the source file could not be read (the cause is a [`LocalFileError`]), or
    /// changed since it was scanned.
    Io,
    /// Anything else (bad reply body, unexpected status).
    Other,
}

/// How far a failure reaches: what else it dooms, and so what the run must do about it.
///
/// The request path retries [`FailureClass::Retry`] outcomes itself; an error it hands back is
/// one of the other four, and the executor acts on it: report the row, drop the identity,
/// heal the subtree, or stop the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureClass {
    /// Worth sending again (5xx, 429, a dropped connection) within the retry budget.
    Retry,
    /// This row only (a bad name, a file too large, a local read error): report it, go on.
    Row,
    /// The identity the request ran as may not do this (403 on a write As-User): give its
    /// files to the other identities.
    Identity,
    /// A Box folder on the row's path is gone (trashed or deleted since the journal saw it):
    /// forget that subtree and create it again.
    Subtree,
    /// Nothing else can succeed either (credentials refused and not refreshable, destination
    /// gone, account full): stop the job.
    Job,
}

/// A failed Box call.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{}", self.render())]
pub struct ApiError {
    /// Semantic kind.
    pub kind: ErrorKind,
    /// HTTP status, when Box answered.
    pub status: Option<u16>,
    /// Box's error code (`item_name_in_use`, ...).
    pub code: Option<String>,
    /// What went wrong, naming the operation and item.
    pub message: String,
    /// Box's request id, for Box support.
    pub request_id: Option<String>,
    /// Box's `context_info` (conflicting items, ...).
    pub context_info: Option<Value>,
    /// HTTP attempts the failed request made (retries included), when it went out at all.
    pub attempts: Option<u32>,
    /// Time the operation had spent when it gave up (tokio's clock), when it went out at all.
    pub elapsed: Option<Duration>,
    /// The underlying cause: a [`LocalFileError`], a `reqwest::Error` (URL removed), ...
    /// (`Arc` so the error stays `Clone`).
    pub source: Option<Arc<dyn StdError + Send + Sync>>,
    /// What the request path decided this failure dooms ([`super::retry::failure_class`]).
    pub(super) class: FailureClass,
}

/// Reading the local file to upload failed: which file, what we were doing, and the OS error.
/// Kept apart from Box's errors: retrying the request cannot help, fixing the file can.
#[derive(Debug, thiserror::Error)]
#[error("{}: {op}", path.display())]
pub struct LocalFileError {
    /// The file.
    pub path: PathBuf,
    /// What failed ("cannot open", "cannot read part at 0").
    pub op: String,
    /// The OS error.
    #[source]
    pub source: std::io::Error,
}

impl ApiError {
    /// An error with no HTTP side: it dooms its row only, unless it says the account is full.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        let class = if kind == ErrorKind::Quota {
            FailureClass::Job
        } else {
            FailureClass::Row
        };
        ApiError {
            class,
            kind,
            status: None,
            code: None,
            message: message.into(),
            request_id: None,
            context_info: None,
            attempts: None,
            elapsed: None,
            source: None,
        }
    }

    /// After a 404 on a folder the user named (`--dest`), what to check: Box answers 404 for a
    /// folder the identity cannot see, not only for a wrong id. Empty for other errors.
    pub fn dest_hint(&self) -> &'static str {
        if self.kind == ErrorKind::NotFound {
            ". Check the id, and that the app's service account (or the --as-user user) is a \
             collaborator on the folder: Box answers 404 for folders it cannot see"
        } else {
            ""
        }
    }

    /// Local I/O failure on `path` (kind [`ErrorKind::Io`], cause a [`LocalFileError`]).
    pub fn local(path: &Path, op: &str, err: std::io::Error) -> Self {
        let local = LocalFileError {
            path: path.to_owned(),
            op: op.to_owned(),
            source: err,
        };
        // The report's one line: "<path>: <op>: <OS error>", as before the cause was kept.
        let message = format!("{local}: {}", local.source);
        Self::new(ErrorKind::Io, message).with_source(local)
    }

    /// Keep `cause` as this error's source, and say it: the message (the report's one line)
    /// ends with the cause's text, written once here rather than by whoever prints the chain.
    /// For causes the message already says in words (a transport failure's host and cause, a
    /// local file's path and OS error), use [`ApiError::with_source`].
    pub fn caused_by(mut self, cause: impl StdError + Send + Sync + 'static) -> Self {
        self.message = format!("{}: {cause}", self.message);
        self.with_source(cause)
    }

    /// Keep `cause` as this error's source (the message already says it in words).
    pub fn with_source(mut self, cause: impl StdError + Send + Sync + 'static) -> Self {
        self.source = Some(Arc::new(cause));
        self
    }

    /// The local file failure behind this error, if that is what it is.
    pub fn local_file(&self) -> Option<&LocalFileError> {
        self.source.as_deref()?.downcast_ref()
    }

    /// Build from an HTTP status and the (possibly non-JSON) body Box sent.
    pub fn from_response(
        op: &str,
        status: u16,
        header_request_id: Option<String>,
        body: &[u8],
    ) -> Self {
        let parsed: Option<ErrorBody> = serde_json::from_slice(body).ok();
        let (code, message, context_info, request_id) = match parsed {
            Some(b) => (
                Some(b.code).filter(|c| !c.is_empty()),
                b.message,
                b.context_info,
                Some(b.request_id).filter(|r| !r.is_empty()),
            ),
            None => (
                None,
                String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned(),
                None,
                None,
            ),
        };
        let kind = kind_for(status, code.as_deref(), context_info.as_ref());
        // Final: a retryable status comes here only once the retry budget is spent.
        let class = failure_class(
            Endpoint::Api,
            Outcome::Status(status),
            code.as_deref(),
            false,
        );
        ApiError {
            class,
            kind,
            status: Some(status),
            code,
            message: format!("{op}: {message}"),
            request_id: request_id.or(header_request_id),
            context_info,
            attempts: None,
            elapsed: None,
            source: None,
        }
    }

    /// The items Box listed in `context_info.conflicts` (a list for folders, an object for files).
    pub fn conflicts(&self) -> Vec<Value> {
        match self.context_info.as_ref().and_then(|c| c.get("conflicts")) {
            Some(Value::Array(items)) => items.clone(),
            Some(obj @ Value::Object(_)) => vec![obj.clone()],
            _ => Vec::new(),
        }
    }

    /// What this final error dooms besides its own row (see [`FailureClass`]), as the request
    /// path's one table ([`super::retry::failure_class`]) decided when the error was made.
    pub fn class(&self) -> FailureClass {
        self.class
    }

    /// The same error, dooming `class`.
    pub(crate) fn with_class(mut self, class: FailureClass) -> Self {
        self.class = class;
        self
    }

    /// The same error with Box's status and request id (an answer Box gave but we could not
    /// read).
    pub(crate) fn answered(mut self, status: u16, request_id: Option<String>) -> Self {
        self.status = Some(status);
        self.request_id = request_id;
        self
    }

    /// The same error with Box's request id.
    pub(crate) fn with_request_id(mut self, request_id: Option<String>) -> Self {
        self.request_id = request_id;
        self
    }

    /// The same error with this code (for failures Box gave no code for).
    pub(crate) fn with_code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// The same error, saying the retry budget ran out (`suffix`: " (gave up after N
    /// attempts)", or empty).
    pub(crate) fn gave_up(mut self, suffix: &str) -> Self {
        self.message.push_str(suffix);
        self
    }

    /// The same error, with the attempts its request made and the operation's time so far.
    pub(crate) fn after(mut self, attempts: u32, elapsed: Duration) -> Self {
        self.attempts = Some(attempts);
        self.elapsed = Some(elapsed);
        self
    }

    /// True for a 409 `item_name_in_use` (or any 409 conflict).
    pub fn is_name_in_use(&self) -> bool {
        matches!(self.kind, ErrorKind::Conflict { .. })
    }

    fn render(&self) -> String {
        let mut s = String::new();
        if let Some(st) = self.status {
            s.push_str(&format!("HTTP {st} "));
        }
        if let Some(c) = &self.code {
            s.push_str(&format!("{c}: "));
        }
        s.push_str(&self.message);
        if let Some(r) = &self.request_id {
            s.push_str(&format!(" (request id {r})"));
        }
        s
    }
}

/// Map status + Box code to a kind.
fn kind_for(status: u16, code: Option<&str>, ctx: Option<&Value>) -> ErrorKind {
    match (status, code.unwrap_or("")) {
        (_, "storage_limit_exceeded") => ErrorKind::Quota,
        (_, "file_size_limit_exceeded") | (413, _) => ErrorKind::TooLarge,
        (401, _) | (403, _) => ErrorKind::Auth,
        (404, _) => ErrorKind::NotFound,
        // A folder locked by another operation: nothing holds the name; retry later.
        (409, "operation_blocked_temporary") => ErrorKind::Transient,
        (409, _) => {
            let existing = ctx
                .and_then(|c| c.get("conflicts"))
                .and_then(|c| match c {
                    Value::Array(a) => a.first().cloned(),
                    other => Some(other.clone()),
                })
                .and_then(|c| c.get("id").and_then(Value::as_str).map(str::to_owned));
            ErrorKind::Conflict { existing }
        }
        (412, _) => ErrorKind::Precondition,
        (429, _) => ErrorKind::RateLimited,
        (500..=599, _) => ErrorKind::Transient,
        (400..=499, _) => ErrorKind::Invalid,
        _ => ErrorKind::Other,
    }
}

/// Building a [`super::ClientConfig`] from flags, environment and files failed.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// No credentials were given at all.
    #[error(
        "no Box credentials: give --developer-token, --jwt-config, or --client-id with --client-secret (or the BOX_* environment variables)"
    )]
    NoCredentials,
    /// A value is missing or malformed.
    #[error("{0}")]
    Invalid(String),
    /// The JWT config file could not be read or parsed.
    #[error("JWT config {path}: {reason}")]
    JwtConfig {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        reason: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflicts_accept_list_and_object() {
        let folder = br#"{"type":"error","status":409,"code":"item_name_in_use","message":"x","context_info":{"conflicts":[{"type":"folder","id":"7","name":"a"}]},"request_id":"r1"}"#;
        let e = ApiError::from_response("create folder", 409, None, folder);
        assert_eq!(
            e.kind,
            ErrorKind::Conflict {
                existing: Some("7".into())
            }
        );
        assert_eq!(e.conflicts().len(), 1);
        let file = br#"{"type":"error","status":409,"code":"item_name_in_use","message":"x","context_info":{"conflicts":{"type":"file","id":"9","sha1":"ab"}},"request_id":"r2"}"#;
        let e = ApiError::from_response("upload", 409, None, file);
        assert_eq!(
            e.kind,
            ErrorKind::Conflict {
                existing: Some("9".into())
            }
        );
        assert_eq!(e.conflicts()[0]["sha1"], "ab");
        assert_eq!(e.request_id.as_deref(), Some("r2"));
    }

    #[test]
    fn kinds_follow_status_and_code() {
        let q = br#"{"type":"error","status":403,"code":"storage_limit_exceeded","message":"full","request_id":""}"#;
        assert_eq!(
            ApiError::from_response("x", 403, None, q).kind,
            ErrorKind::Quota
        );
        assert_eq!(
            ApiError::from_response("x", 503, Some("h".into()), b"oops").kind,
            ErrorKind::Transient
        );
        assert_eq!(
            ApiError::from_response("x", 400, None, b"{}").kind,
            ErrorKind::Invalid
        );
        assert_eq!(
            ApiError::from_response("x", 412, None, b"{}").kind,
            ErrorKind::Precondition
        );
        let e = ApiError::from_response("x", 503, Some("h".into()), b"oops");
        assert_eq!(e.request_id.as_deref(), Some("h"));
        assert!(e.to_string().contains("HTTP 503"));
    }

    #[test]
    fn a_local_file_error_keeps_its_path_and_os_error_as_the_cause() {
        let os = std::io::Error::from(std::io::ErrorKind::NotFound);
        let os_text = os.to_string();
        let e = ApiError::local(Path::new("/x/a.txt"), "cannot open", os);
        assert_eq!(e.kind, ErrorKind::Io);
        // The report line is unchanged: path, step, OS error.
        assert_eq!(e.message, format!("/x/a.txt: cannot open: {os_text}"));
        let local = e.local_file().expect("a LocalFileError");
        assert_eq!(local.path, Path::new("/x/a.txt"));
        assert_eq!(local.source.kind(), std::io::ErrorKind::NotFound);
        // The chain: ApiError → LocalFileError → io::Error.
        let cause = StdError::source(&e).unwrap();
        assert_eq!(cause.to_string(), "/x/a.txt: cannot open");
        assert!(cause.source().unwrap().is::<std::io::Error>());
        // A Box error is not a local one.
        assert!(
            ApiError::from_response("x", 404, None, b"{}")
                .local_file()
                .is_none()
        );
    }
}
