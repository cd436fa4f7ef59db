//! What went wrong when Box never answered, in words an operator can act on: which host, and
//! why (connection refused, DNS failure, timeout, TLS, reset), instead of reqwest's "error
//! sending request". And [`FailureWatch`]: a warning at the default
//! verbosity when requests keep failing, so a closed port is not minutes of silence.
use std::error::Error as StdError;
use std::io::ErrorKind as IoKind;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// `host` or `host:port` of the request that failed (`"the server"` when unknown).
pub fn host_of(err: &reqwest::Error) -> String {
    match err.url() {
        Some(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => "the server".into(),
        },
        None => "the server".into(),
    }
}

/// The cause of a request that got no reply, in a few words: `connection refused`,
/// `DNS lookup failed (...)`, `timed out after 30 s`, `TLS: ...`, `connection reset`, or the
/// innermost error's text. Walks the source chain (reqwest → hyper-util → io::Error → ...);
/// an `io::Error` hides its payload from `source()`, so its `get_ref()` is followed too.
pub fn cause_of(err: &reqwest::Error, timeout: Option<Duration>) -> String {
    let chain = chain(err);
    let texts: Vec<String> = chain.iter().map(|e| e.to_string()).collect();
    let innermost = texts.last().cloned().unwrap_or_default();
    let io_kind = chain
        .iter()
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .map(std::io::Error::kind)
        .find(|k| *k != IoKind::Other);
    if texts.iter().any(|t| t.contains("dns error")) {
        return format!("DNS lookup failed ({innermost})");
    }
    if let Some(tls) = chain.iter().find_map(|e| e.downcast_ref::<rustls::Error>()) {
        return format!("TLS: {tls}");
    }
    match io_kind {
        Some(IoKind::ConnectionRefused) => return "connection refused".into(),
        Some(IoKind::ConnectionReset) => return "connection reset by the server".into(),
        Some(IoKind::ConnectionAborted) => return "connection aborted".into(),
        Some(IoKind::TimedOut) => return timed_out(timeout),
        _ => {}
    }
    if err.is_timeout() {
        return timed_out(timeout);
    }
    if innermost.is_empty() {
        "no reply".into()
    } else {
        innermost
    }
}

fn timed_out(timeout: Option<Duration>) -> String {
    match timeout {
        Some(t) => format!("timed out after {}", human(t)),
        None => "timed out".into(),
    }
}

fn human(d: Duration) -> String {
    if d.as_millis().is_multiple_of(1000) {
        format!("{} s", d.as_secs())
    } else {
        format!("{} ms", d.as_millis())
    }
}

/// The error and its causes, outermost first (bounded: chains are short).
fn chain(err: &reqwest::Error) -> Vec<&(dyn StdError + 'static)> {
    let mut out: Vec<&(dyn StdError + 'static)> = Vec::new();
    let mut next: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(e) = next {
        if out.len() >= 32 {
            break;
        }
        out.push(e);
        next = match e.downcast_ref::<std::io::Error>() {
            Some(io) => io.get_ref().map(|inner| inner as &(dyn StdError + 'static)),
            None => e.source(),
        };
    }
    out
}

/// How long requests may fail in a row before the operator is told, and how often after.
const WARN_AFTER: Duration = Duration::from_secs(5);
const WARN_EVERY: Duration = Duration::from_secs(30);

/// Tracks failing requests (no reply, 5xx) across one client; [`FailureWatch::failed`] says
/// when to warn. Any answer from Box ends the streak. On tokio's clock, so paused-time tests
/// see the same warnings as a real outage.
#[derive(Debug, Default)]
pub(crate) struct FailureWatch {
    state: Mutex<Streak>,
}

#[derive(Debug, Default)]
struct Streak {
    since: Option<Instant>,
    warned: Option<Instant>,
}

impl FailureWatch {
    /// A request got an answer: the streak is over.
    pub(crate) fn ok(&self) {
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if s.since.is_some() {
            *s = Streak::default();
        }
    }

    /// A request failed now; returns how long requests have been failing when that deserves a
    /// warning (first after [`WARN_AFTER`], then every [`WARN_EVERY`]).
    pub(crate) fn failed(&self) -> Option<Duration> {
        let now = Instant::now();
        let mut s = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let since = *s.since.get_or_insert(now);
        let failing = now - since;
        let due = match s.warned {
            None => failing >= WARN_AFTER,
            Some(w) => now - w >= WARN_EVERY,
        };
        if due {
            s.warned = Some(now);
            Some(failing)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn warns_after_five_seconds_of_failures_then_every_thirty() {
        let w = FailureWatch::default();
        assert_eq!(w.failed(), None);
        tokio::time::advance(Duration::from_secs(4)).await;
        assert_eq!(w.failed(), None);
        tokio::time::advance(Duration::from_secs(2)).await;
        assert_eq!(w.failed(), Some(Duration::from_secs(6)));
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(w.failed(), None, "not again within 30 s");
        tokio::time::advance(Duration::from_secs(20)).await;
        assert_eq!(w.failed(), Some(Duration::from_secs(36)));
        // An answer ends the streak: the next failure starts a new one.
        w.ok();
        assert_eq!(w.failed(), None);
    }
}
