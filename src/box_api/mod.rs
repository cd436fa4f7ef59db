//! The only door to Box: auth, pacing, one retry path, folders, files and upload sessions.
//!
//! Every request goes `pace ► auth ► retry ► reqwest`: a rate permit is taken before each
//! attempt, the token comes from a cache that refreshes before expiry (and once on 401), and
//! [`retry::classify`] decides what is repeated. Non-idempotent calls (uploads, commits) whose
//! reply was lost are resolved by looking at Box, never repeated blindly into a duplicate.
// `ApiError` carries Box's status, code, message, request id and context_info by design (the
// report needs them); its size is nothing next to the network round trip that produced it.
#![allow(clippy::result_large_err)]
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rand::SeedableRng;
use rand::rngs::StdRng;

pub mod auth;
pub mod bandwidth;
pub mod collab;
mod commit;
mod config;
pub mod error;
mod files;
mod folders;
mod http;
mod items;
pub mod limits;
pub mod model;
pub mod names;
pub mod pace;
pub mod retry;
pub mod secret;
pub mod tls;
pub mod transport;
mod upload_session;
mod users;

pub use auth::{AuthConfig, JwtAppConfig};
pub use collab::{Collaborated, Collaborator};
pub use config::{ClientConfig, DEFAULT_API_CALLS_PER_MINUTE, DEFAULT_UPLOADS_PER_MINUTE};
pub use error::{ApiError, ConfigError, ErrorKind, FailureClass};
pub use files::{UploadSource, UploadTarget, Uploaded};
pub use model::{File, Folder, Item, UploadPart, UploadSession, User};
pub use retry::RetryPolicy;
pub use secret::Secret;
pub use upload_session::ChunkedOptions;

use pace::Pacer;

/// Called once per retried request with the HTTP status of the attempt that failed (`None`: no
/// reply). Set at construction ([`ClientConfig::on_retry`]); the migrate pipeline turns each
/// call into an `Event::Retried`, so observers count retries from events alone.
#[derive(Clone)]
pub struct RetryHook(Arc<dyn Fn(Option<u16>) + Send + Sync>);

impl RetryHook {
    /// A hook calling `f`.
    pub fn new(f: impl Fn(Option<u16>) + Send + Sync + 'static) -> Self {
        RetryHook(Arc::new(f))
    }

    fn call(&self, status: Option<u16>) {
        (self.0)(status);
    }
}

impl fmt::Debug for RetryHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RetryHook")
    }
}

/// Counters over every identity of one client (atomic; read with [`BoxClient::stats`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// HTTP attempts sent (retries included, token requests excluded).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// 429 replies.
    pub rate_limited: u64,
    /// 5xx replies.
    pub server_errors: u64,
    /// Attempts that got no (complete) reply.
    pub transport_errors: u64,
    /// 401 replies that led to a token refresh.
    pub unauthorized: u64,
    /// File content bytes put on the wire (every attempt counted).
    pub bytes_sent: u64,
}

#[derive(Debug, Default)]
struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    rate_limited: AtomicU64,
    server_errors: AtomicU64,
    transport_errors: AtomicU64,
    unauthorized: AtomicU64,
    bytes_sent: AtomicU64,
}

impl Counters {
    fn add(c: &AtomicU64, n: u64) {
        c.fetch_add(n, Ordering::Relaxed);
    }
}

/// What all identities of one client share: the HTTP clients (API calls, file content), one
/// token, one folder cache.
struct Shared {
    config: ClientConfig,
    /// API calls: one pool, HTTP/2 where the server offers it (many small calls share a
    /// connection).
    http: reqwest::Client,
    /// Requests that carry file content (direct uploads, new versions, session parts):
    /// HTTP/1.1, one connection per request in flight. Over one HTTP/2 connection every part
    /// in flight shares one TCP congestion window, one flow-control window and one TLS stream
    /// that the server decrypts on one core. Measured with `VERSUS_ROWS=big cargo bench --bench
    /// versus` (4 × 512 MiB through the TLS emulator, 2 cores, 3 runs each): 12.0 to 12.5 s
    /// over HTTP/2, 7.7 to 8.1 s over HTTP/1.1. Small files too: 10,000 × 16 KiB in 2.0 to
    /// 2.3 s over HTTP/1.1, 2.6 to 3.0 s over HTTP/2 (same bench, `VERSUS_ROWS=small`).
    content_http: reqwest::Client,
    tokens: auth::TokenCache,
    counters: Counters,
    identities: Mutex<HashMap<String, Arc<Identity>>>,
    folders: folders::FolderCache,
    /// `--bwlimit`: the byte bucket every upload body draws from.
    bandwidth: Option<Arc<bandwidth::Bandwidth>>,
    /// Seeds each operation's jitter RNG: from `retry.jitter_seed` when set (reproducible),
    /// else from the OS.
    jitter: Mutex<StdRng>,
    /// Requests failing in a row (no reply, 5xx): when to warn the operator.
    watch: transport::FailureWatch,
    /// `--as-user` identities Box refused writes for: out of the lease pool for the rest of
    /// the run ([`BoxClient::retire`]).
    retired: Mutex<std::collections::HashSet<String>>,
}

/// One rate budget: the service account itself, or one `As-User`.
#[derive(Debug)]
struct Identity {
    as_user: Option<String>,
    pacer: Pacer,
    /// Files leased to this identity and not finished yet ([`BoxClient::lease`]).
    busy: AtomicUsize,
}

/// One file's hold on an identity ([`BoxClient::lease`]): every request of the file (all parts
/// and the commit of a chunked upload) goes through [`Lease::client`]; dropping it frees the
/// identity for the next file.
#[derive(Debug)]
pub struct Lease {
    client: BoxClient,
}

impl Lease {
    /// The client acting as the leased identity.
    pub fn client(&self) -> &BoxClient {
        &self.client
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.client.identity.busy.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A Box client. Cheap to clone (an `Arc` inside); share one per identity across all tasks.
#[derive(Clone)]
pub struct BoxClient {
    shared: Arc<Shared>,
    identity: Arc<Identity>,
}

impl fmt::Debug for BoxClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoxClient")
            .field("api_url", &self.shared.config.api_url)
            .field("upload_url", &self.shared.config.upload_url)
            .field("as_user", &self.identity.as_user)
            .finish_non_exhaustive()
    }
}

impl BoxClient {
    /// Build a client (no request is made until the first call).
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        let ca = match &config.ca_cert {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| ApiError::local(path, "cannot read the CA certificate", e))?;
                Some(reqwest::Certificate::from_pem(&pem).map_err(|e| {
                    ApiError::new(
                        ErrorKind::Invalid,
                        format!("{}: not a PEM certificate", path.display()),
                    )
                    .caused_by(e)
                })?)
            }
            None => None,
        };
        let build = |http1_only: bool| {
            let mut builder = reqwest::Client::builder()
                .pool_idle_timeout(config.pool_idle_timeout)
                .user_agent(concat!("boxlift/", env!("CARGO_PKG_VERSION")));
            if http1_only {
                builder = builder.http1_only();
            }
            if let Some(t) = config.connect_timeout {
                builder = builder.connect_timeout(t);
            }
            if let Some(t) = config.read_timeout {
                builder = builder.read_timeout(t);
            }
            if let Some(cert) = &ca {
                builder = builder.add_root_certificate(cert.clone());
            }
            builder.build().map_err(|e| {
                ApiError::new(ErrorKind::Other, "cannot build the HTTP client").caused_by(e)
            })
        };
        let http = build(false)?;
        let content_http = build(true)?;
        let tokens = auth::TokenCache::new(
            config.auth.clone(),
            config.oauth_url.clone(),
            config.retry.clone(),
        );
        let identity = Arc::new(Identity {
            as_user: None,
            pacer: Pacer::with_mode(
                config.api_calls_per_minute,
                config.uploads_per_minute,
                config.pace,
            ),
            busy: AtomicUsize::new(0),
        });
        let jitter = Mutex::new(config.retry.jitter_rng());
        let bandwidth = config.bwlimit.map(bandwidth::Bandwidth::new);
        Ok(BoxClient {
            shared: Arc::new(Shared {
                jitter,
                bandwidth,
                config,
                http,
                content_http,
                tokens,
                counters: Counters::default(),
                identities: Mutex::new(HashMap::new()),
                folders: folders::FolderCache::default(),
                watch: transport::FailureWatch::default(),
                retired: Mutex::new(Default::default()),
            }),
            identity,
        })
    }

    /// An upload body, throttled by `--bwlimit` when one is set.
    pub(crate) fn upload_body<S>(&self, body: S) -> reqwest::Body
    where
        S: futures::Stream<Item = std::io::Result<bytes::Bytes>> + Send + 'static,
    {
        match &self.shared.bandwidth {
            Some(bw) => reqwest::Body::wrap_stream(bw.clone().throttle(body)),
            None => reqwest::Body::wrap_stream(body),
        }
    }

    /// Is upload bandwidth capped (`--bwlimit`)?
    pub(crate) fn throttled(&self) -> bool {
        self.shared.bandwidth.is_some()
    }

    /// The same client acting as `user_id` (`As-User` header) with its own rate budget. Asking
    /// twice for the same user gives the same budget.
    pub fn as_user(&self, user_id: &str) -> BoxClient {
        let mut ids = self
            .shared
            .identities
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let identity = ids
            .entry(user_id.to_owned())
            .or_insert_with(|| {
                Arc::new(Identity {
                    as_user: Some(user_id.to_owned()),
                    pacer: Pacer::with_mode(
                        self.shared.config.api_calls_per_minute,
                        self.shared.config.uploads_per_minute,
                        self.shared.config.pace,
                    ),
                    busy: AtomicUsize::new(0),
                })
            })
            .clone();
        BoxClient {
            shared: self.shared.clone(),
            identity,
        }
    }

    /// One client per configured `--as-user` not retired (or just this one when there are
    /// none): spread work over them for N times the throughput.
    pub fn identities(&self) -> Vec<BoxClient> {
        if self.shared.config.as_users.is_empty() {
            return vec![self.clone()];
        }
        self.shared
            .config
            .as_users
            .iter()
            .filter(|u| !self.is_retired(u))
            .map(|u| self.as_user(u))
            .collect()
    }

    /// Take `--as-user` identity `user` out of the lease pool for the rest of the run (Box
    /// refuses its writes). Returns how many configured identities are left, or `None` if it
    /// was already retired.
    pub fn retire(&self, user: &str) -> Option<usize> {
        let mut retired = self
            .shared
            .retired
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if !retired.insert(user.to_owned()) {
            return None;
        }
        let users = &self.shared.config.as_users;
        Some(users.iter().filter(|u| !retired.contains(*u)).count())
    }

    /// Has `user` been retired ([`BoxClient::retire`])?
    pub fn is_retired(&self, user: &str) -> bool {
        self.shared
            .retired
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(user)
    }

    /// Lease an identity for one file: `user` when given (a session an earlier run opened as
    /// that user must be finished by it), else the configured identity with the fewest files
    /// in flight, ties going to the one with the most budget left now (the highest current
    /// rate: not slowed by a 429), then to the first. A file waits for its identity's pacing
    /// while it holds the lease, so an identity whose budget frees later holds its files longer
    /// and is picked less: no identity idles while another has a queue.
    pub fn lease(&self, user: Option<&str>) -> Lease {
        let client = match user {
            Some(u) => self.as_user(u),
            None => {
                // (files in flight, minus the budget left now): the smallest wins, the first
                // on a tie.
                let key = |c: &BoxClient| {
                    let (api, upload) = c.current_rates();
                    (
                        c.identity.busy.load(Ordering::Relaxed),
                        -(api.min(upload * 4.0)),
                    )
                };
                self.identities()
                    .into_iter()
                    .min_by(|a, b| {
                        key(a)
                            .partial_cmp(&key(b))
                            .unwrap_or(std::cmp::Ordering::Equal)
                    })
                    .unwrap_or_else(|| self.clone())
            }
        };
        client.identity.busy.fetch_add(1, Ordering::Relaxed);
        Lease { client }
    }

    /// The `As-User` this client acts as, if any.
    pub fn acting_as(&self) -> Option<&str> {
        self.identity.as_user.as_deref()
    }

    /// Current rate budgets of this identity, per minute: (API calls, uploads). They drop after
    /// 429s and recover slowly.
    pub fn current_rates(&self) -> (f64, f64) {
        self.identity.pacer.rates()
    }

    /// The configuration.
    pub fn config(&self) -> &ClientConfig {
        &self.shared.config
    }

    /// Counters so far (shared by all identities of this client).
    pub fn stats(&self) -> ClientStats {
        let c = &self.shared.counters;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientStats {
            requests: l(&c.requests),
            retries: l(&c.retries),
            rate_limited: l(&c.rate_limited),
            server_errors: l(&c.server_errors),
            transport_errors: l(&c.transport_errors),
            unauthorized: l(&c.unauthorized),
            bytes_sent: l(&c.bytes_sent),
        }
    }

    /// The retry state of a new operation, with its own jitter RNG drawn from the client's.
    fn retry_context(&self) -> retry::RetryContext {
        let rng = {
            let mut master = self.shared.jitter.lock().unwrap_or_else(|e| e.into_inner());
            StdRng::from_rng(&mut *master).unwrap_or_else(|_| StdRng::from_entropy())
        };
        retry::RetryContext::with_rng(self.shared.config.retry.clone(), rng)
    }

    fn api(&self, path: &str) -> String {
        format!("{}{path}", self.shared.config.api_url)
    }

    fn upload(&self, path: &str) -> String {
        format!("{}{path}", self.shared.config.upload_url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_user_identities_have_their_own_budget_shared_by_clones() {
        let c = BoxClient::new(ClientConfig::new(AuthConfig::DeveloperToken(Secret::new(
            "t",
        ))))
        .unwrap();
        let a1 = c.as_user("1");
        let a2 = c.as_user("1");
        let b = c.as_user("2");
        assert!(Arc::ptr_eq(&a1.identity, &a2.identity));
        assert!(!Arc::ptr_eq(&a1.identity, &b.identity));
        assert!(!Arc::ptr_eq(&a1.identity, &c.identity));
        assert!(Arc::ptr_eq(&a1.shared, &b.shared));
        a1.identity.pacer.on_429(pace::Bucket::Api);
        assert!(a1.current_rates().0 < b.current_rates().0);
        assert_eq!(a2.current_rates(), a1.current_rates());
        assert!(!format!("{c:?}").contains("\"t\""));
    }

    #[test]
    fn a_retired_identity_gets_no_more_files() {
        let mut cfg = ClientConfig::new(AuthConfig::DeveloperToken(Secret::new("t")));
        cfg.as_users = vec!["a".into(), "b".into()];
        let c = BoxClient::new(cfg).unwrap();
        assert_eq!(c.retire("a"), Some(1));
        assert_eq!(c.retire("a"), None, "retired once");
        assert!(c.is_retired("a") && !c.is_retired("b"));
        // "b" is busier and busier, and still gets every file.
        let leases: Vec<Lease> = (0..3).map(|_| c.lease(None)).collect();
        assert!(leases.iter().all(|l| l.client().acting_as() == Some("b")));
        assert_eq!(c.retire("b"), Some(0));
        assert!(c.identities().is_empty());
    }

    #[test]
    fn leases_go_to_the_least_busy_identity_and_a_named_one_is_kept() {
        let mut cfg = ClientConfig::new(AuthConfig::DeveloperToken(Secret::new("t")));
        cfg.as_users = vec!["a".into(), "b".into(), "c".into()];
        let c = BoxClient::new(cfg).unwrap();
        let who = |l: &Lease| l.client().acting_as().unwrap().to_string();
        let l1 = c.lease(None);
        let l2 = c.lease(None);
        let l3 = c.lease(None);
        assert_eq!([who(&l1), who(&l2), who(&l3)], ["a", "b", "c"]);
        // "b" finishes first: the next file goes to it, not round-robin to "a".
        drop(l2);
        let l4 = c.lease(None);
        assert_eq!(who(&l4), "b");
        // A session opened as "c" stays with "c" even though it is as busy as the others.
        let l5 = c.lease(Some("c"));
        assert_eq!(who(&l5), "c");
        // Equal load: the identity slowed by a 429 is passed over.
        drop((l1, l3, l4, l5));
        c.as_user("a").identity.pacer.on_429(pace::Bucket::Api);
        assert_eq!(who(&c.lease(None)), "b");
        // No As-User: the service account itself.
        let plain = BoxClient::new(ClientConfig::new(AuthConfig::DeveloperToken(Secret::new(
            "t",
        ))))
        .unwrap();
        assert_eq!(plain.lease(None).client().acting_as(), None);
    }
}
