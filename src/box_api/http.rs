//! The one request path: pace permit ► token ► send ► classify ► wait and retry.
//!
//! Request bodies are built anew by the caller's closure for every attempt (a consumed stream is
//! never re-sent: that is how other SDKs upload zero bytes after a token refresh). Logs carry
//! the method, a path without query, status, request id and attempt; never headers or tokens.
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderMap;

use super::error::{ApiError, ErrorKind};
use super::pace::Bucket;
use super::retry::{Decision, Outcome, RetryContext, classify, parse_retry_after};
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
            let mut err = ApiError::new(
                ErrorKind::Other,
                format!("{op}: unexpected reply from Box: {e}"),
            );
            err.status = Some(self.status);
            err.request_id = self.request_id.clone();
            err
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
    pub(crate) async fn execute_or_unknown<F>(
        &self,
        ctx: &mut RetryContext,
        req: Req<'_>,
        build: F,
    ) -> Result<Reply, Fail>
    where
        F: Fn(&reqwest::Client) -> Result<reqwest::RequestBuilder, ApiError>,
    {
        let counters = &self.shared.counters;
        let mut refreshed = false;
        // The status of the attempt before this one, for the retry hook.
        let mut last_status = None;
        loop {
            self.identity.pacer.acquire(req.bucket).await;
            let attempt = ctx.attempt();
            if attempt > 1 {
                Counters::add(&counters.retries, 1);
                if let Some(hook) = &self.shared.config.on_retry {
                    hook.call(last_status);
                }
            }
            let (token, generation) = self
                .shared
                .tokens
                .token(&self.shared.http)
                .await
                .map_err(Fail::Final)?;
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
                Fail::Final(ApiError::new(
                    ErrorKind::Other,
                    format!("{}: cannot build the request: {}", req.op, e.without_url()),
                ))
            })?;
            // Only the method and the path go to the log: never headers or the query.
            let method = request.method().clone();
            let url_path = request.url().path().to_owned();
            let host = match (request.url().host_str(), request.url().port()) {
                (Some(h), Some(p)) => format!("{h}:{p}"),
                (Some(h), None) => h.to_owned(),
                _ => "the server".to_owned(),
            };
            let config = &self.shared.config;
            // Why there was no reply, in words: "connection refused", "DNS lookup failed".
            let describe = |e: &reqwest::Error, connect: bool| {
                let timeout = if connect {
                    config.connect_timeout
                } else {
                    config.read_timeout
                };
                super::transport::cause_of(e, timeout)
            };
            let sent = http.execute(request).await;
            let (outcome, reply, transport_err) = match sent {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let headers = resp.headers().clone();
                    let request_id = headers
                        .get("box-request-id")
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_owned);
                    match resp.bytes().await {
                        Ok(body) => (
                            Outcome::Status(status),
                            Some(Reply {
                                status,
                                headers,
                                body,
                                request_id,
                            }),
                            None,
                        ),
                        Err(e) => {
                            let why = describe(&e, false);
                            (
                                Outcome::NoReply,
                                None,
                                Some((Arc::new(e.without_url()), why)),
                            )
                        }
                    }
                }
                Err(e) => {
                    // A refused certificate is permanent: stop now, say why (issue 11).
                    if let Some(why) = super::tls::tls_failure(&e) {
                        Counters::add(&counters.transport_errors, 1);
                        tracing::debug!(op = req.op, %method, path = %url_path, attempt, "{why}");
                        return Err(Fail::Final(super::tls::tls_error(req.op, why)));
                    }
                    let o = if e.is_connect() {
                        Outcome::ConnectFailed
                    } else {
                        Outcome::NoReply
                    };
                    let why = describe(&e, e.is_connect());
                    (o, None, Some((Arc::new(e.without_url()), why)))
                }
            };
            last_status = reply.as_ref().map(|r| r.status);
            let request_id = reply.as_ref().and_then(|r| r.request_id.clone());
            match &reply {
                Some(r) => tracing::debug!(
                    op = req.op,
                    %method,
                    path = %url_path,
                    status = r.status,
                    request_id = request_id.as_deref().unwrap_or(""),
                    attempt,
                    as_user = self.identity.as_user.as_deref().unwrap_or(""),
                    "box call"
                ),
                None => tracing::debug!(
                    op = req.op,
                    %method,
                    path = %url_path,
                    attempt,
                    error = transport_err.as_ref().map(|e| e.1.as_str()).unwrap_or_default(),
                    "box call got no reply"
                ),
            }
            // 401: the token may have expired under us; refresh once per request.
            if let Some(r) = &reply
                && r.status == 401
                && !refreshed
            {
                refreshed = true;
                Counters::add(&counters.unauthorized, 1);
                self.shared.tokens.invalidate(generation).await;
                continue;
            }
            match outcome {
                Outcome::Status(429) => {
                    Counters::add(&counters.rate_limited, 1);
                    self.identity.pacer.on_429(req.bucket);
                }
                Outcome::Status(500..=599) => Counters::add(&counters.server_errors, 1),
                Outcome::NoReply | Outcome::ConnectFailed => {
                    Counters::add(&counters.transport_errors, 1)
                }
                _ => {}
            }
            if matches!(outcome, Outcome::Status(500..=599) | Outcome::NoReply) {
                ctx.maybe_landed = true;
            }
            let failing = matches!(
                outcome,
                Outcome::Status(500..=599) | Outcome::NoReply | Outcome::ConnectFailed
            );
            if !failing {
                self.shared.watch.ok();
            }
            // The error as of now: Box's answer, or the transport failure kept as the cause;
            // with the request's attempts and the operation's time so far.
            let error = |elapsed: Duration| {
                let mut e = match (&reply, &transport_err) {
                    (Some(r), _) => {
                        ApiError::from_response(req.op, r.status, r.request_id.clone(), &r.body)
                    }
                    (None, Some((t, why))) => {
                        let mut e = ApiError::new(
                            ErrorKind::Transient,
                            format!("{} {}: no reply from {host}: {why}", req.op, req.path),
                        );
                        e.source = Some(t.clone());
                        e
                    }
                    (None, None) => ApiError::new(
                        ErrorKind::Transient,
                        format!("{} {}: no reply from {host}", req.op, req.path),
                    ),
                };
                e.attempts = Some(attempt);
                e.elapsed = Some(elapsed);
                e
            };
            match classify(outcome, req.idempotent) {
                Decision::Return => {
                    if reply
                        .as_ref()
                        .is_some_and(|r| (200..300).contains(&r.status))
                    {
                        return reply.ok_or_else(|| {
                            Fail::Final(ApiError::new(ErrorKind::Other, "no reply"))
                        });
                    }
                    return Err(Fail::Final(error(ctx.elapsed())));
                }
                Decision::Retry | Decision::Resolve if !ctx.can_retry() => {
                    let mut e = error(ctx.elapsed());
                    if e.status == Some(429) {
                        e.kind = ErrorKind::RateLimited;
                    }
                    e.message = format!("{} (gave up after {attempt} attempts)", e.message);
                    return Err(Fail::Final(e));
                }
                decision => {
                    // Minutes of silence look like a hang: say what is failing, at warn.
                    if failing && let Some(for_) = self.shared.watch.failed() {
                        let why = match (&reply, &transport_err) {
                            (Some(r), _) => format!("HTTP {}", r.status),
                            (None, Some((_, why))) => why.clone(),
                            (None, None) => "no reply".into(),
                        };
                        tracing::warn!(
                            "requests to {host} failing for {} s: {why}; retrying",
                            for_.as_secs()
                        );
                    }
                    let wait = ctx.next_wait(reply.as_ref().and_then(Reply::retry_after));
                    tracing::debug!(
                        op = req.op,
                        path = req.path,
                        attempt,
                        wait_ms = wait.as_millis() as u64,
                        "retrying"
                    );
                    tokio::time::sleep(wait).await;
                    if decision == Decision::Resolve {
                        return Err(Fail::Unknown(error(ctx.elapsed())));
                    }
                }
            }
        }
    }
}
