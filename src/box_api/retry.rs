//! One retry policy for every Box call: which failures are retried, how long to wait (full-jitter
//! exponential backoff, at least `Retry-After`), and when to give up (attempts and total time).
//!
//! Split as object_store splits it: [`RetryPolicy`] is data with documented defaults,
//! [`RetryContext`] is the state of one operation (it can span a whole chunked upload), and
//! [`classify`] decides from the outcome alone. Pacing (`pace.rs`) and concurrency (the caller's
//! semaphores) are separate controls.
//!
//! Time is tokio's (`tokio::time::Instant`, `tokio::time::sleep` at the call sites), so
//! `tokio::time::pause()` drives every wait; jitter comes from a [`StdRng`] that
//! [`RetryPolicy::jitter_seed`] can fix.
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tokio::time::Instant;

pub use super::error::FailureClass;

/// How calls are retried. Defaults are generous on purpose: a migration runs for days and a
/// transient Box hiccup must not turn into a failed file.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts per request, the first included (default 10). A 202 "commit not ready yet" does
    /// not count: it is progress, bounded by `max_elapsed`.
    pub max_attempts: u32,
    /// Give up once an operation has spent this long (default 15 minutes).
    pub max_elapsed: Duration,
    /// First backoff ceiling (default 500 ms); doubles per retry.
    pub initial_backoff: Duration,
    /// Largest backoff ceiling (default 60 s).
    pub max_backoff: Duration,
    /// Largest `Retry-After` honoured as given (default 5 minutes; longer values are capped).
    pub max_retry_after: Duration,
    /// How many times a commit answered 400 `parts_mismatch` is retried (default 5): Box says
    /// this while it is still catching up with the last parts (rclone does the same).
    pub parts_mismatch_retries: u32,
    /// Wait before retrying a `parts_mismatch` commit (default 2 s, doubled each time).
    pub parts_mismatch_wait: Duration,
    /// Seed of the jitter RNG (default `None`: from the OS, so processes do not retry in step).
    /// Tests fix it to replay the same waits.
    pub jitter_seed: Option<u64>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 10,
            max_elapsed: Duration::from_secs(15 * 60),
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(300),
            parts_mismatch_retries: 5,
            parts_mismatch_wait: Duration::from_secs(2),
            jitter_seed: None,
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a uniform wait in `[0, min(max_backoff, initial_backoff * 2^retry)]`
    /// (AWS's "full jitter"), so many tasks failing together do not retry together.
    pub fn backoff<R: Rng + ?Sized>(&self, retry: u32, rng: &mut R) -> Duration {
        let ceiling = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(31)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let ms = ceiling.as_millis() as u64;
        Duration::from_millis(if ms == 0 { 0 } else { rng.gen_range(0..=ms) })
    }

    /// The wait before the next attempt: the jittered backoff, but never less than the server's
    /// `Retry-After` (capped at `max_retry_after`).
    pub fn wait<R: Rng + ?Sized>(
        &self,
        retry: u32,
        retry_after: Option<Duration>,
        rng: &mut R,
    ) -> Duration {
        let b = self.backoff(retry, rng);
        match retry_after {
            Some(ra) => b.max(ra.min(self.max_retry_after)),
            None => b,
        }
    }
    /// The RNG jitter is drawn from: seeded by [`RetryPolicy::jitter_seed`], else by the OS.
    pub fn jitter_rng(&self) -> StdRng {
        match self.jitter_seed {
            Some(seed) => StdRng::seed_from_u64(seed),
            None => StdRng::from_entropy(),
        }
    }
}

/// What one attempt produced, as far as retrying is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Box answered with this status.
    Status(u16),
    /// The connection could not be made: nothing reached Box.
    ConnectFailed,
    /// The request may have reached Box but no complete reply came back (reset, timeout,
    /// truncated reply).
    NoReply,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Done (2xx) or not retryable: hand the result to the caller.
    Return,
    /// Retry the same request.
    Retry,
    /// The request may or may not have taken effect and is not idempotent: the caller must find
    /// out (look for the file, ...) before repeating it.
    Resolve,
}

/// Decide from the outcome and whether repeating the request is harmless.
/// 429, 5xx, resets and timeouts are retried; other 4xx are not; 401 is handled by the token
/// cache (refresh once) before this is asked.
pub fn classify(outcome: Outcome, idempotent: bool) -> Decision {
    match outcome {
        Outcome::Status(s) if (200..300).contains(&s) => Decision::Return,
        Outcome::Status(429) => Decision::Retry,
        // A 5xx may come after the work was done (the reply, not the request, failed), so a
        // non-idempotent call must look before it repeats.
        Outcome::Status(500..=599) if !idempotent => Decision::Resolve,
        Outcome::Status(500..=599) => Decision::Retry,
        Outcome::Status(_) => Decision::Return,
        Outcome::ConnectFailed => Decision::Retry,
        Outcome::NoReply if idempotent => Decision::Retry,
        Outcome::NoReply => Decision::Resolve,
    }
}

/// Which service an attempt went to: the API and upload hosts, or the OAuth token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// `api.box.com` / `upload.box.com`: one failure may doom only its row.
    Api,
    /// `POST /oauth2/token`: every request of the job needs the token it hands out.
    Token,
}

/// How far a failed attempt reaches (see [`FailureClass`]): the one table every Box call's
/// outcome goes through, API and token endpoint alike. `code` is Box's error `code` (API) or
/// OAuth `error` (token endpoint); `budget_left` says whether the retry policy still allows
/// another attempt, so a retryable outcome is [`FailureClass::Retry`] only while it does.
///
/// A 401 reaches this table only when it is final: the token layer refreshes once on a first
/// 401 (a token that expired under the request), and a developer token cannot be refreshed.
pub fn failure_class(
    endpoint: Endpoint,
    outcome: Outcome,
    code: Option<&str>,
    budget_left: bool,
) -> FailureClass {
    let retryable = matches!(
        outcome,
        Outcome::Status(429 | 500..=599) | Outcome::NoReply | Outcome::ConnectFailed
    ) || is_blocked_temporary(outcome, code);
    if retryable {
        return match (budget_left, endpoint) {
            (true, _) => FailureClass::Retry,
            // Without a token nothing else can be sent either.
            (false, Endpoint::Token) => FailureClass::Job,
            (false, Endpoint::Api) => FailureClass::Row,
        };
    }
    let Outcome::Status(status) = outcome else {
        return FailureClass::Row;
    };
    match (endpoint, status, code.unwrap_or("")) {
        // Refused credentials (`invalid_grant`, `invalid_client`, `unauthorized_client`), a
        // malformed grant, a wrong token URL: the same request refused the same way again.
        (Endpoint::Token, 400..=499, _) => FailureClass::Job,
        (Endpoint::Token, _, _) => FailureClass::Row,
        (Endpoint::Api, _, "storage_limit_exceeded") => FailureClass::Job,
        (Endpoint::Api, 401, _) => FailureClass::Job,
        // About this file, not about who sends it.
        (Endpoint::Api, _, "file_size_limit_exceeded" | "access_denied_item_locked") => {
            FailureClass::Row
        }
        // The identity may not write here (`access_denied_insufficient_permissions`, ...).
        (Endpoint::Api, 403, _) => FailureClass::Identity,
        // Box answers 404 `trashed` for an item (or a parent folder) in the trash.
        (Endpoint::Api, 404, "trashed") => FailureClass::Subtree,
        (Endpoint::Api, _, _) => FailureClass::Row,
    }
}

/// A 409 `operation_blocked_temporary`: Box's OpenAPI (`put_folders_id`, `delete_folders_id`,
/// response 409) says it is "Returned if either of the destination or source folders is locked
/// due to another move, copy, delete or restore operation in progress. The operation can be
/// retried at a later point." So it is retried like a 429, not reported as a name clash.
pub fn is_blocked_temporary(outcome: Outcome, code: Option<&str>) -> bool {
    outcome == Outcome::Status(409) && code == Some("operation_blocked_temporary")
}

/// Parse `Retry-After`: delta-seconds or an HTTP date.
/// An HTTP date is a wall-clock instant, so that form alone is measured against the OS clock.
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let when = httpdate::parse_http_date(v).ok()?;
    Some(
        when.duration_since(std::time::SystemTime::now())
            .unwrap_or(Duration::ZERO),
    )
}

/// The retry state of one operation (a request, or a whole upload with its commit loop).
#[derive(Debug)]
pub struct RetryContext {
    policy: RetryPolicy,
    started: Instant,
    rng: StdRng,
    /// Attempts made by the current request (reset per request with [`RetryContext::next_request`]).
    attempts: u32,
    /// Attempts made over the whole operation.
    pub total_attempts: u32,
    /// Retries made over the whole operation.
    pub retries: u32,
    /// An attempt reached Box without a definite answer (no reply, or a 5xx that may have come
    /// after the work was done): what it asked for may have happened. A 409 on a later attempt
    /// can then be this operation's own earlier attempt, not something Box held before.
    pub maybe_landed: bool,
}

impl RetryContext {
    /// Start an operation, its jitter drawn from [`RetryPolicy::jitter_rng`].
    pub fn new(policy: RetryPolicy) -> Self {
        let rng = policy.jitter_rng();
        Self::with_rng(policy, rng)
    }

    /// Start an operation with its own jitter RNG (a client hands each operation one drawn from
    /// its seeded RNG, so operations do not all replay the same waits).
    pub fn with_rng(policy: RetryPolicy, rng: StdRng) -> Self {
        RetryContext {
            policy,
            started: Instant::now(),
            rng,
            attempts: 0,
            total_attempts: 0,
            retries: 0,
            maybe_landed: false,
        }
    }

    /// The policy.
    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Time since the operation started (tokio's clock).
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Count an attempt.
    pub fn attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.total_attempts += 1;
        self.attempts
    }

    /// A new request of the same operation starts with a fresh attempt budget (the time budget
    /// is shared).
    pub fn next_request(&mut self) {
        self.attempts = 0;
    }

    /// True while another attempt is allowed.
    pub fn can_retry(&self) -> bool {
        self.attempts < self.policy.max_attempts && self.within_time()
    }

    /// True while the operation's time budget lasts.
    pub fn within_time(&self) -> bool {
        self.started.elapsed() < self.policy.max_elapsed
    }

    /// The wait before the next retry (counts a retry).
    pub fn next_wait(&mut self, retry_after: Option<Duration>) -> Duration {
        self.retries += 1;
        let w = self
            .policy
            .wait(self.attempts.saturating_sub(1), retry_after, &mut self.rng);
        // Never sleep past the deadline.
        let left = self
            .policy
            .max_elapsed
            .saturating_sub(self.started.elapsed());
        w.min(left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(7);
        for retry in 0..20 {
            let ceiling = (500u64 << retry.min(20)).min(60_000);
            let mut max_seen = 0;
            for _ in 0..200 {
                let d = p.backoff(retry, &mut rng).as_millis() as u64;
                assert!(d <= ceiling, "retry {retry}: {d} > {ceiling}");
                max_seen = max_seen.max(d);
            }
            // Full jitter spreads over the whole range, not just near the top.
            assert!(max_seen > ceiling / 2, "retry {retry}: {max_seen}");
        }
        // Deterministic with a fixed RNG.
        let a: Vec<_> = (0..5)
            .map(|r| p.backoff(r, &mut StdRng::seed_from_u64(1)))
            .collect();
        let b: Vec<_> = (0..5)
            .map(|r| p.backoff(r, &mut StdRng::seed_from_u64(1)))
            .collect();
        assert_eq!(a, b);
    }

    #[test]
    fn retry_after_is_a_floor_and_capped() {
        let p = RetryPolicy::default();
        let mut rng = StdRng::seed_from_u64(3);
        let w = p.wait(0, Some(Duration::from_secs(7)), &mut rng);
        assert!(w >= Duration::from_secs(7));
        let w = p.wait(0, Some(Duration::from_secs(100_000)), &mut rng);
        assert_eq!(w, Duration::from_secs(300));
    }

    #[test]
    fn classify_retries_only_what_is_safe() {
        use Decision::*;
        assert_eq!(classify(Outcome::Status(201), false), Return);
        assert_eq!(classify(Outcome::Status(429), false), Retry);
        assert_eq!(classify(Outcome::Status(503), true), Retry);
        assert_eq!(classify(Outcome::Status(500), true), Retry);
        assert_eq!(classify(Outcome::Status(500), false), Resolve);
        assert_eq!(classify(Outcome::Status(504), false), Resolve);
        assert_eq!(classify(Outcome::Status(400), true), Return);
        assert_eq!(classify(Outcome::Status(404), true), Return);
        assert_eq!(classify(Outcome::Status(409), false), Return);
        assert_eq!(classify(Outcome::ConnectFailed, false), Retry);
        assert_eq!(classify(Outcome::NoReply, true), Retry);
        assert_eq!(classify(Outcome::NoReply, false), Resolve);
    }

    /// The classification table: (endpoint, outcome, code, budget left) → class.
    #[test]
    fn failure_classes_follow_status_code_and_budget() {
        use Endpoint::{Api, Token};
        use FailureClass::*;
        use Outcome::{ConnectFailed, NoReply, Status};
        let table: &[(Endpoint, Outcome, Option<&str>, bool, FailureClass)] = &[
            (Api, Status(429), Some("rate_limit_exceeded"), true, Retry),
            (Api, Status(429), Some("rate_limit_exceeded"), false, Row),
            (Api, Status(500), None, true, Retry),
            (Api, Status(503), Some("unavailable"), false, Row),
            (Api, NoReply, None, true, Retry),
            (Api, ConnectFailed, None, false, Row),
            (Api, Status(400), Some("item_name_invalid"), true, Row),
            (Api, Status(400), Some("parts_mismatch"), true, Row),
            (Api, Status(401), None, true, Job),
            (Api, Status(403), Some("storage_limit_exceeded"), true, Job),
            (
                Api,
                Status(403),
                Some("access_denied_insufficient_permissions"),
                true,
                Identity,
            ),
            (Api, Status(403), Some("forbidden"), true, Identity),
            (Api, Status(404), Some("not_found"), true, Row),
            (Api, Status(404), Some("trashed"), true, Subtree),
            (Api, Status(409), Some("item_name_in_use"), true, Row),
            (
                Api,
                Status(409),
                Some("operation_blocked_temporary"),
                true,
                Retry,
            ),
            (
                Api,
                Status(409),
                Some("operation_blocked_temporary"),
                false,
                Row,
            ),
            (Api, Status(412), Some("precondition_failed"), true, Row),
            (
                Api,
                Status(413),
                Some("file_size_limit_exceeded"),
                true,
                Row,
            ),
            (
                Api,
                Status(403),
                Some("file_size_limit_exceeded"),
                true,
                Row,
            ),
            (
                Api,
                Status(403),
                Some("access_denied_item_locked"),
                true,
                Row,
            ),
            (Token, Status(400), Some("invalid_grant"), true, Job),
            (Token, Status(400), Some("invalid_client"), true, Job),
            (Token, Status(400), Some("unauthorized_client"), true, Job),
            (Token, Status(401), Some("invalid_client"), true, Job),
            (Token, Status(404), None, true, Job),
            (Token, Status(429), None, true, Retry),
            (Token, Status(503), None, true, Retry),
            (Token, Status(503), None, false, Job),
            (Token, ConnectFailed, None, true, Retry),
            (Token, ConnectFailed, None, false, Job),
            (Token, NoReply, None, false, Job),
        ];
        for &(endpoint, outcome, code, left, want) in table {
            assert_eq!(
                failure_class(endpoint, outcome, code, left),
                want,
                "{endpoint:?} {outcome:?} {code:?} budget left {left}"
            );
        }
    }

    #[test]
    fn retry_after_parses_seconds_and_dates() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after(" 0.5 "), Some(Duration::from_millis(500)));
        assert_eq!(parse_retry_after("-1"), None);
        assert_eq!(
            parse_retry_after("Thu, 01 Jan 1970 00:00:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn context_bounds_attempts() {
        let mut ctx = RetryContext::new(RetryPolicy {
            max_attempts: 3,
            ..Default::default()
        });
        ctx.attempt();
        assert!(ctx.can_retry());
        ctx.attempt();
        ctx.attempt();
        assert!(!ctx.can_retry());
        ctx.next_request();
        assert!(ctx.can_retry());
        assert_eq!(ctx.total_attempts, 3);
    }

    #[test]
    fn a_seeded_policy_replays_its_jitter() {
        let p = RetryPolicy {
            jitter_seed: Some(42),
            ..Default::default()
        };
        let waits = |p: &RetryPolicy| {
            let mut ctx = RetryContext::new(p.clone());
            (0..6)
                .map(|_| {
                    ctx.attempt();
                    ctx.next_wait(None)
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(waits(&p), waits(&p));
        let other = RetryPolicy {
            jitter_seed: Some(43),
            ..Default::default()
        };
        assert_ne!(waits(&p), waits(&other));
    }

    /// The time budget is tokio's: a paused clock moved past `max_elapsed` ends the operation
    /// without a real wait.
    #[tokio::test(start_paused = true)]
    async fn the_time_budget_runs_on_tokios_clock() {
        let mut ctx = RetryContext::new(RetryPolicy {
            max_elapsed: Duration::from_secs(60),
            ..Default::default()
        });
        ctx.attempt();
        assert!(ctx.can_retry());
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert!(ctx.can_retry());
        // Never a wait past the deadline, whatever Retry-After says.
        assert_eq!(
            ctx.next_wait(Some(Duration::from_secs(30))),
            Duration::from_secs(1)
        );
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert!(!ctx.can_retry() && !ctx.within_time());
        assert_eq!(ctx.elapsed(), Duration::from_secs(60));
    }
}
