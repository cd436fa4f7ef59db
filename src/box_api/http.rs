//! The one request path, in layers: a thin retry loop ([`BoxClient::execute_or_unknown`]) that
//! sends, classifies and waits; around each attempt the pacing layer (a rate permit, attempt
//! and retry counting), the token layer (the bearer token; one refresh on a first 401) and the
//! send (build, send, read, count, log). Every outcome is classified by the retry policy's one
//! table ([`super::retry::classify`] for retry or not, [`super::retry::failure_class`] for how
//! far a failure reaches), and the error handed back carries that class.
//!
//! Request bodies are built anew by the caller's closure for every attempt (a consumed stream is
//! never re-sent: that is how other SDKs upload zero bytes after a token refresh). Logs carry
//! the method, a path without query, status, request id and attempt; never headers or tokens.
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;

use super::error::{ApiError, ErrorKind, FailureClass};
use super::model::ErrorBody;
use super::pace::Bucket;
use super::retry::{
    Decision, Endpoint, Outcome, RetryContext, classify, failure_class, is_blocked_temporary,
    parse_retry_after,
};
use super::{BoxClient, Counters};

/// A complete reply (bodies of Box's JSON replies are small; file bytes only go up).
#[derive(Debug)]
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
    pub(crate) request_id: Option<String>,
}

impl Reply {
    pub(crate) fn json<T: serde::de::DeserializeOwned>(&self, op: &str) -> Result<T, ApiError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ApiError::new(ErrorKind::Other, format!("{op}: unexpected reply from Box"))
                .caused_by(e)
                .answered(self.status, self.request_id.clone())
        })
    }

    pub(crate) fn retry_after(&self) -> Option<std::time::Duration> {
        self.headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after)
    }
}

/// How one request is to be sent.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Req<'a> {
    /// Operation name for logs and errors ("create folder", "upload part").
    pub(crate) op: &'a str,
    /// Path for logs (no host, no query).
    pub(crate) path: &'a str,
    pub(crate) bucket: Bucket,
    /// Repeating it after a lost reply is harmless (or its conflict is resolved by the caller).
    pub(crate) idempotent: bool,
    /// File content bytes each attempt carries (for `bytes_sent`).
    pub(crate) body_len: u64,
}

/// How a request failed.
#[derive(Debug)]
pub(crate) enum Fail {
    /// Final: hand to the caller.
    Final(ApiError),
    /// A non-idempotent request may or may not have taken effect. The backoff has been waited;
    /// the caller must look before repeating.
    Unknown(ApiError),
}

impl From<Fail> for ApiError {
    fn from(f: Fail) -> Self {
        match f {
            Fail::Final(e) | Fail::Unknown(e) => e,
        }
    }
}

impl BoxClient {
    /// `DELETE url` with retries (idempotent, API budget). A 404 means the thing is already
    /// gone; `gone_is_done(attempts)` says whether that counts as success after that many
    /// attempts (after a retry, the first attempt's lost reply may have done the deletion).
    pub(crate) async fn delete(
        &self,
        op: &str,
        path: &str,
        url: &str,
        gone_is_done: impl Fn(u32) -> bool,
    ) -> Result<(), ApiError> {
        let mut ctx = self.retry_context();
        let req = Req {
            op,
            path,
            bucket: Bucket::Api,
            idempotent: true,
            body_len: 0,
        };
        match self
            .execute(&mut ctx, req, |h| {
                Ok(h.request(reqwest::Method::DELETE, url))
            })
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind == ErrorKind::NotFound && gone_is_done(ctx.total_attempts) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Send with retries; any non-2xx that is not retried is an error.
    pub(crate) async fn execute<F>(
        &self,
        ctx: &mut RetryContext,
        req: Req<'_>,
        build: F,
    ) -> Result<Reply, ApiError>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder, ApiError>,
    {
        self.execute_or_unknown(ctx, req, build)
            .await
            .map_err(ApiError::from)
    }

    /// As [`BoxClient::execute`], but a non-idempotent request whose outcome is unknown comes
    /// back as [`Fail::Unknown`] instead of being repeated. Attempts accumulate in `ctx` until
    /// the caller calls [`RetryContext::next_request`], so resolve-and-repeat loops stay bounded.
    ///
    /// The retry loop only: each attempt goes through the pacing layer ([`BoxClient::paced`]),
    /// the token layer ([`BoxClient::bearer`], [`BoxClient::unauthorized`]) and the send
    /// ([`BoxClient::send_once`], which counts and logs); [`BoxClient::judge`] classifies the
    /// outcome with the retry policy's table and the loop returns, waits or hands back.
    pub(crate) async fn execute_or_unknown<F>(
        &self,
        ctx: &mut RetryContext,
        req: Req<'_>,
        build: F,
    ) -> Result<Reply, Fail>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder, ApiError>,
    {
        let mut refreshed = false;
        // The status of the attempt before this one, for the retry hook.
        let mut last_status = None;
        loop {
            let attempt = self.paced(ctx, req.bucket, last_status).await;
            let (token, generation) = self.bearer().await?;
            let sent = self.send_once(req, &build, &token, attempt).await?;
            last_status = sent.status();
            if last_status == Some(401) && self.unauthorized(generation, &mut refreshed).await {
                continue;
            }
            match self.judge(ctx, req, sent, attempt) {
                Step::Done(reply) => return Ok(reply),
                Step::Fail(e) => return Err(Fail::Final(e)),
                Step::Wait {
                    wait,
                    unknown: None,
                } => tokio::time::sleep(wait).await,
                Step::Wait {
                    wait,
                    unknown: Some(e),
                } => {
                    tokio::time::sleep(wait).await;
                    return Err(Fail::Unknown(e.after(attempt, ctx.elapsed())));
                }
            }
        }
    }

    /// Pacing layer: a rate permit for the attempt, which is counted (and a retry reported to
    /// the hook). Returns the attempt's number within its request.
    async fn paced(&self, ctx: &mut RetryContext, bucket: Bucket, last: Option<u16>) -> u32 {
        let asked = tokio::time::Instant::now();
        self.identity.pacer.acquire(bucket).await;
        // Queued, not sending: the report keeps the two apart (a row's `queued_ms`).
        super::pace::add_queued(asked.elapsed());
        let attempt = ctx.attempt();
        if attempt > 1 {
            Counters::add(&self.shared.counters.retries, 1);
            if let Some(hook) = &self.shared.config.on_retry {
                hook.call(last);
            }
        }
        attempt
    }

    /// Token layer: the access token to send and its generation. A refused or unreachable
    /// token endpoint is final here ([`super::auth::TokenCache`] says why, once).
    async fn bearer(&self) -> Result<(super::Secret, u64), Fail> {
        self.shared
            .tokens
            .token(&self.shared.http)
            .await
            .map_err(Fail::Final)
    }

    /// Token layer, on a 401: the token may have expired under the request, so it is dropped
    /// and the request sent again once (true). A 401 right after that is final (false), and
    /// the token cache remembers the credentials are refused, so no other request asks again.
    async fn unauthorized(&self, generation: u64, refreshed: &mut bool) -> bool {
        if !*refreshed {
            *refreshed = true;
            Counters::add(&self.shared.counters.unauthorized, 1);
            self.shared.tokens.invalidate(generation).await;
            return true;
        }
        self.shared.tokens.refused_after_refresh(generation).await;
        false
    }

    /// Send one attempt: build it, send it, read the reply, count and log it. Only a refused
    /// certificate is final here (it will not become valid by retrying).
    async fn send_once<F>(
        &self,
        req: Req<'_>,
        build: &F,
        token: &super::Secret,
        attempt: u32,
    ) -> Result<Sent, Fail>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder, ApiError>,
    {
        let counters = &self.shared.counters;
        // File content goes over its own HTTP/1.1 connections (see `Shared::content_http`).
        let http = if req.body_len > 0 {
            &self.shared.content_http
        } else {
            &self.shared.http
        };
        let mut rb = build(http)
            .map_err(Fail::Final)?
            .bearer_auth(token.expose());
        if let Some(u) = &self.identity.as_user {
            rb = rb.header("As-User", u);
        }
        Counters::add(&counters.requests, 1);
        Counters::add(&counters.bytes_sent, req.body_len);
        let request = rb.build().map_err(|e| {
            Fail::Final(
                ApiError::new(
                    ErrorKind::Other,
                    format!("{}: cannot build the request", req.op),
                )
                .caused_by(e.without_url()),
            )
        })?;
        let host = host_port(request.url());
        let result = match http.execute(request).await {
            Ok(resp) => read_reply(resp).await,
            Err(e) => Err(e),
        };
        let sent = match result {
            Ok(reply) => Sent::Answered { reply, host },
            Err(e) => {
                // A refused certificate is permanent: stop now, say why.
                if let Some(why) = super::tls::tls_failure(&e) {
                    Counters::add(&counters.transport_errors, 1);
                    tracing::debug!(op = req.op, path = req.path, attempt, "{why}");
                    return Err(Fail::Final(super::tls::tls_error(req.op, why)));
                }
                let connect = e.is_connect();
                let config = &self.shared.config;
                let timeout = if connect {
                    config.connect_timeout
                } else {
                    config.read_timeout
                };
                let why = super::transport::cause_of(&e, timeout);
                Sent::NoReply {
                    connect,
                    cause: e.without_url(),
                    why,
                    host,
                }
            }
        };
        self.count_and_log(req, &sent, attempt);
        Ok(sent)
    }

    /// Counters layer: what the attempt met, and one debug line (method and path only: never
    /// headers or the query).
    fn count_and_log(&self, req: Req<'_>, sent: &Sent, attempt: u32) {
        let counters = &self.shared.counters;
        match sent.outcome() {
            Outcome::Status(429) => {
                Counters::add(&counters.rate_limited, 1);
                self.identity.pacer.on_429(req.bucket);
            }
            Outcome::Status(500..=599) => Counters::add(&counters.server_errors, 1),
            Outcome::NoReply | Outcome::ConnectFailed => {
                Counters::add(&counters.transport_errors, 1)
            }
            Outcome::Status(_) => {}
        }
        if sent.failing() {
            return tracing::debug!(
                op = req.op,
                path = req.path,
                attempt,
                error = sent.why(),
                "box call got no answer"
            );
        }
        self.shared.watch.ok();
        if let Sent::Answered { reply, .. } = sent {
            tracing::debug!(
                op = req.op,
                path = req.path,
                status = reply.status,
                request_id = reply.request_id.as_deref().unwrap_or(""),
                attempt,
                as_user = self.identity.as_user.as_deref().unwrap_or(""),
                "box call"
            );
        }
    }

    /// Classify one attempt with the retry policy's table ([`classify`], [`failure_class`]):
    /// done, failed for good (with its class), or wait and retry (the error kept when the
    /// caller must resolve an unknown outcome).
    fn judge(&self, ctx: &mut RetryContext, req: Req<'_>, sent: Sent, attempt: u32) -> Step {
        let outcome = sent.outcome();
        let decision = classify(outcome, req.idempotent);
        if matches!(outcome, Outcome::Status(500..=599) | Outcome::NoReply) {
            ctx.maybe_landed = true;
        }
        let sent = match sent.into_success() {
            Ok(reply) => return Step::Done(reply),
            Err(sent) => sent,
        };
        let code = sent.code();
        let class = failure_class(Endpoint::Api, outcome, code.as_deref(), ctx.can_retry());
        if class != FailureClass::Retry {
            let gave_up =
                decision != Decision::Return || is_blocked_temporary(outcome, code.as_deref());
            let e = sent.into_error(req, gave_up.then_some(attempt));
            return Step::Fail(e.with_class(class).after(attempt, ctx.elapsed()));
        }
        // Minutes of silence look like a hang: say what is failing, at warn.
        if sent.failing()
            && let Some(for_) = self.shared.watch.failed()
        {
            tracing::warn!(
                "requests to {} failing for {} s: {}; retrying",
                sent.host(),
                for_.as_secs(),
                sent.why()
            );
        }
        let wait = ctx.next_wait(sent.retry_after());
        tracing::debug!(
            op = req.op,
            path = req.path,
            attempt,
            wait_ms = wait.as_millis() as u64,
            "retrying"
        );
        let unknown = (decision == Decision::Resolve).then(|| sent.into_error(req, None));
        Step::Wait { wait, unknown }
    }
}

/// What the retry loop does after an attempt.
enum Step {
    Done(Reply),
    Fail(ApiError),
    Wait {
        wait: Duration,
        /// The request may have taken effect: hand this back after the wait.
        unknown: Option<ApiError>,
    },
}

/// One attempt, sent: Box's answer, or why there was none (the transport error kept as the
/// cause).
enum Sent {
    Answered {
        reply: Reply,
        host: String,
    },
    NoReply {
        connect: bool,
        cause: reqwest::Error,
        why: String,
        host: String,
    },
}

impl Sent {
    fn outcome(&self) -> Outcome {
        match self {
            Sent::Answered { reply, .. } => Outcome::Status(reply.status),
            Sent::NoReply { connect: true, .. } => Outcome::ConnectFailed,
            Sent::NoReply { .. } => Outcome::NoReply,
        }
    }

    /// The reply, when Box answered 2xx.
    fn into_success(self) -> Result<Reply, Sent> {
        match self {
            Sent::Answered { reply, .. } if (200..300).contains(&reply.status) => Ok(reply),
            other => Err(other),
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            Sent::Answered { reply, .. } => Some(reply.status),
            Sent::NoReply { .. } => None,
        }
    }

    /// No answer, or a 5xx: the server is failing (for the operator's warning).
    fn failing(&self) -> bool {
        matches!(
            self.outcome(),
            Outcome::Status(500..=599) | Outcome::NoReply | Outcome::ConnectFailed
        )
    }

    fn host(&self) -> &str {
        match self {
            Sent::Answered { host, .. } | Sent::NoReply { host, .. } => host,
        }
    }

    /// In words, for the warning: `HTTP 503`, `connection refused`.
    fn why(&self) -> String {
        match self {
            Sent::Answered { reply, .. } => format!("HTTP {}", reply.status),
            Sent::NoReply { why, .. } => why.clone(),
        }
    }

    /// Box's error code, when it answered with one.
    fn code(&self) -> Option<String> {
        match self {
            Sent::Answered { reply, .. } => serde_json::from_slice::<ErrorBody>(&reply.body)
                .ok()
                .map(|b| b.code)
                .filter(|c| !c.is_empty()),
            Sent::NoReply { .. } => None,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Sent::Answered { reply, .. } => reply.retry_after(),
            Sent::NoReply { .. } => None,
        }
    }

    /// The error this attempt makes: Box's answer, or the transport failure kept as the
    /// cause; `gave_up_after` says the retry budget ran out after that many attempts.
    fn into_error(self, req: Req<'_>, gave_up_after: Option<u32>) -> ApiError {
        let gave_up = gave_up_after
            .map(|n| format!(" (gave up after {n} attempts)"))
            .unwrap_or_default();
        match self {
            Sent::Answered { reply, .. } => {
                ApiError::from_response(req.op, reply.status, reply.request_id, &reply.body)
                    .gave_up(&gave_up)
            }
            Sent::NoReply {
                cause, why, host, ..
            } => ApiError::new(
                ErrorKind::Transient,
                format!(
                    "{} {}: no reply from {host}: {why}{gave_up}",
                    req.op, req.path
                ),
            )
            .with_source(cause),
        }
    }
}

/// `host:port` of a URL (`"the server"` when it has no host).
pub(crate) fn host_port(url: &reqwest::Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(h), Some(p)) => format!("{h}:{p}"),
        (Some(h), None) => h.to_owned(),
        _ => "the server".to_owned(),
    }
}

/// The whole reply: status, headers, request id and body.
async fn read_reply(resp: reqwest::Response) -> Result<Reply, reqwest::Error> {
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let request_id = headers
        .get("box-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.bytes().await?;
    Ok(Reply {
        status,
        headers,
        body,
        request_id,
    })
}
