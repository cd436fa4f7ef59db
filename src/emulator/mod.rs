//! A Box-compatible server (axum) for tests, benches and trying boxlift out: Box's paths,
//! headers, status codes, error bodies and limits, plus seeded, switchable faults.
//!
//! `serve(listener, config, shutdown)` runs it on a listener (as mini-redis's `server::run`);
//! [`Emulator::start`] runs it on its own thread and runtime on `127.0.0.1:0` for tests. It shares
//! only `box_api::model` (JSON shapes) with the client, so a client bug cannot hide here.
//!
//! Layout: `layer` (request id, auth, faults, 429s, counting), `routes/*` (one file per Box
//! resource), `rules` (Box's validation), `store` (tree + blobs), `sessions` (chunked uploads),
//! `faults` (switches, RNG, rate buckets), `auth` (tokens, OAuth), `inspect` (state JSON).
//!
//! # Box facts and the emulator's choices
//!
//! - Statuses from Box's spec (box/box-openapi `content/paths/*.yml`): direct upload 201, new
//!   version 200, commit 201 / 202 + `Retry-After`, upload part 416 for a range that does not
//!   fit the session, `metadata_after_file_contents` 400.
//! - 401 for a missing/unknown/expired token: empty body + `WWW-Authenticate: Bearer
//!   realm="Service", error="invalid_token", ...`.
//! - Not fixed by the spec, chosen here: a wrong `content-md5` or part `digest` is 400
//!   `bad_digest`; a wrong whole-file `digest` at commit is 400 `digest_mismatch`, as Box's SDK
//!   trackers show it (box/box-java-sdk#701); a direct upload over 50 MiB is 413
//!   `request_entity_too_large`; account limits are 403 `file_size_limit_exceeded` /
//!   `storage_limit_exceeded` (box-api.md); a commit whose parts list differs from the parts
//!   received is 400 `parts_mismatch`.
//! - `part_size`: 8 MiB, doubled while the file would need more than 10,000 parts
//!   (`rules::part_size_for`).
//! - Listings are in creation order; `next_marker` is the id of the last entry returned.
//! - Refresh tokens are issued with every grant (Box issues them only for user OAuth) so the
//!   refresh grant can be exercised; developer tokens never expire.
//! - Upload sessions live in memory even with `data_dir` (a restart loses open sessions, as
//!   an expired session would on Box: 404).
use std::collections::HashMap;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

mod auth;
mod counters;
mod enterprise;
mod error;
mod faults;
pub mod inspect;
mod layer;
mod net;
mod routes;
mod rules;
mod sessions;
mod store;
pub mod tls;

pub use enterprise::{EnterpriseSpec, GroupSpec, UserSpec};
pub use faults::Switches;
pub use inspect::{Counters, EmulatorState, TreeEntry};

/// Everything the emulator can be told at start. `Default`: no faults, no rate limit, in
/// memory, developer token `dev-token`, client (`emu-client`, `emu-secret`), tokens live
/// 3600 s, sessions 7 days, max file size 5 GB (Box Business), no quota.
#[derive(Clone)]
pub struct EmulatorConfig {
    /// Bearer tokens accepted as is (never expire).
    pub developer_tokens: Vec<String>,
    /// OAuth clients: (client_id, client_secret).
    pub clients: Vec<(String, String)>,
    /// JWT public keys: (kid, PEM), selected by the assertion's `kid`.
    pub jwt_public_keys: Vec<(String, String)>,
    /// Lifetime of issued access tokens.
    pub token_ttl: Duration,
    /// Keep the tree in SQLite and blobs on disk here.
    pub data_dir: Option<PathBuf>,
    /// Verify digests but keep no bytes (benchmarks).
    pub discard: bool,
    /// Seed of the fault RNG (and of generated ids).
    pub seed: u64,
    /// API calls per second per user (the token's subject, or the As-User).
    pub rate_limit: Option<f64>,
    /// Uploads per second per user (the token's subject, or the As-User).
    pub upload_rate_limit: Option<f64>,
    /// Probability of a random 500/502/503 before handling.
    pub fail_rate: f64,
    /// Probability of a dropped connection (no reply).
    pub drop_rate: f64,
    /// Added latency per request, in milliseconds.
    pub latency_ms: u64,
    /// 202 + Retry-After replies each session gets before its commit succeeds.
    pub commit_202: u32,
    /// Upload session lifetime.
    pub session_ttl: Duration,
    /// Storage quota in bytes.
    pub quota_bytes: Option<u64>,
    /// Largest file accepted, in bytes.
    pub max_file_size: u64,
    /// Probability that a stored upload/part/commit loses its reply.
    pub lost_reply_rate: f64,
    /// Transient `parts_mismatch` replies each session gets on a correct commit.
    pub parts_mismatch: u32,
    /// Concurrent creations of the same folder may both succeed.
    pub folder_race: bool,
    /// Serve HTTPS with this configuration instead of plain HTTP (see [`tls`]).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Managed users (`As-User` ids) with less than Editor access to the whole tree; every other
    /// user, and the token's own user, may read and write everywhere.
    pub access: Vec<(String, UserAccess)>,
    /// Managed users (each with a root folder of their own) and groups. The token's own user
    /// (the service account, id 11446498) is always there. An `As-User` id not declared here
    /// acts on the service account's tree, as if an admin had made it a co-owner.
    pub enterprise: EnterpriseSpec,
}

/// What a managed user may do in the tree (a minimal model of Box collaborations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserAccess {
    /// Not a collaborator: Box answers 404 `not_found` for every item (it does not reveal that
    /// the item exists).
    None,
    /// Viewer: reads succeed, `permissions.can_upload` is false, and writes get 403
    /// `access_denied_insufficient_permissions`.
    Viewer,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        let s = Switches::default();
        EmulatorConfig {
            developer_tokens: vec!["dev-token".into()],
            clients: vec![("emu-client".into(), "emu-secret".into())],
            jwt_public_keys: Vec::new(),
            token_ttl: Duration::from_secs(3600),
            data_dir: None,
            discard: false,
            seed: 0,
            rate_limit: s.rate_limit,
            upload_rate_limit: s.upload_rate_limit,
            fail_rate: s.fail_rate,
            drop_rate: s.drop_rate,
            latency_ms: s.latency_ms,
            commit_202: s.commit_202,
            session_ttl: Duration::from_secs_f64(s.session_ttl_secs),
            quota_bytes: s.quota_bytes,
            max_file_size: s.max_file_size,
            lost_reply_rate: s.lost_reply_rate,
            parts_mismatch: s.parts_mismatch,
            folder_race: s.folder_race,
            tls: None,
            access: Vec::new(),
            enterprise: EnterpriseSpec::default(),
        }
    }
}

impl std::fmt::Debug for EmulatorConfig {
    // Secrets (tokens, client secrets) are never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorConfig")
            .field(
                "developer_tokens",
                &format!("{} hidden", self.developer_tokens.len()),
            )
            .field(
                "clients",
                &self.clients.iter().map(|c| &c.0).collect::<Vec<_>>(),
            )
            .field(
                "jwt_public_keys",
                &self
                    .jwt_public_keys
                    .iter()
                    .map(|k| &k.0)
                    .collect::<Vec<_>>(),
            )
            .field("token_ttl", &self.token_ttl)
            .field("data_dir", &self.data_dir)
            .field("discard", &self.discard)
            .field("seed", &self.seed)
            .field("switches", &self.switches())
            .field("tls", &self.tls.is_some())
            .field("access", &self.access)
            .field("enterprise", &self.enterprise)
            .finish()
    }
}

impl EmulatorConfig {
    /// The runtime-switchable part of this config.
    pub fn switches(&self) -> Switches {
        Switches {
            rate_limit: self.rate_limit,
            upload_rate_limit: self.upload_rate_limit,
            fail_rate: self.fail_rate,
            drop_rate: self.drop_rate,
            latency_ms: self.latency_ms,
            commit_202: self.commit_202,
            session_ttl_secs: self.session_ttl.as_secs_f64(),
            quota_bytes: self.quota_bytes,
            max_file_size: self.max_file_size,
            lost_reply_rate: self.lost_reply_rate,
            parts_mismatch: self.parts_mismatch,
            folder_race: self.folder_race,
        }
    }
}

/// State shared by all handlers.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: store::Store,
    pub sessions: sessions::Sessions,
    pub auth: auth::Auth,
    pub faults: faults::Faults,
    pub tally: counters::Tally,
    pub folder_race: routes::folders::RaceTable,
    pub next_request: AtomicU64,
    /// Serve TLS with this configuration.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Managed users with less than Editor access.
    pub access: HashMap<String, UserAccess>,
}

impl Shared {
    /// The access of the request's `As-User` (`None`: full access).
    pub(crate) fn access_of(&self, headers: &axum::http::HeaderMap) -> Option<UserAccess> {
        let user = headers.get("as-user")?.to_str().ok()?;
        // A user whose writes a test refused mid-run is a viewer from then on.
        match self.access.get(user).copied() {
            None if self.faults.writes_refused(user) => Some(UserAccess::Viewer),
            access => access,
        }
    }
}

impl Shared {
    fn new(config: &EmulatorConfig) -> std::io::Result<Shared> {
        let store = store::Store::open(config.data_dir.as_deref(), config.discard)?;
        store
            .lock()
            .declare(&config.enterprise)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        Ok(Shared {
            store,
            sessions: sessions::Sessions::default(),
            auth: auth::Auth::new(
                &config.developer_tokens,
                config.clients.clone(),
                &config.jwt_public_keys,
                config.token_ttl,
            )?,
            faults: faults::Faults::new(config.switches(), config.seed),
            tally: counters::Tally::default(),
            folder_race: routes::folders::RaceTable::default(),
            next_request: AtomicU64::new(1),
            tls: config.tls.clone(),
            access: config.access.iter().cloned().collect(),
        })
    }

    /// Counters and tree.
    pub(crate) fn state(&self) -> EmulatorState {
        let tree = self.store.lock();
        let entries = tree
            .entries()
            .into_iter()
            .map(|(path, item, owner)| TreeEntry {
                path,
                kind: item.kind.as_str().into(),
                id: item.id.to_string(),
                parent_id: item.parent.to_string(),
                size: item.size,
                sha1: (item.kind == store::Kind::File).then(|| item.sha1.clone()),
                versions: item.versions,
                owner,
                created_by: item.created_by.clone(),
            })
            .collect();
        EmulatorState {
            counters: self.tally.snapshot(),
            tree: entries,
        }
    }
}

/// Serve the emulator on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: EmulatorConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let shared = Arc::new(Shared::new(&config)?);
    serve_shared(listener, shared, shutdown).await
}

async fn serve_shared(
    listener: tokio::net::TcpListener,
    shared: Arc<Shared>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = match shared.tls.clone() {
        Some(tls) => net::KillListener::tls(listener, tls, shared.clone())?,
        None => net::KillListener::plain(listener)?,
    };
    let app = routes::router(shared);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<net::Conn>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// The emulator on its own thread and runtime (for tests; usable from sync and async code).
#[derive(Debug)]
pub struct Emulator;

impl Emulator {
    /// Start on `127.0.0.1:0`; the server stops when the handle is dropped.
    pub fn start(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let shared = Arc::new(Shared::new(&config)?);
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<std::io::Result<()>>();
        let for_thread = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("box-emulator-{port}"))
            .spawn(move || {
                let rt = match tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                {
                    Ok(rt) => rt,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return;
                    }
                };
                rt.block_on(async move {
                    let listener = match tokio::net::TcpListener::from_std(std_listener) {
                        Ok(l) => l,
                        Err(e) => {
                            let _ = ready_tx.send(Err(e));
                            return;
                        }
                    };
                    let _ = ready_tx.send(Ok(()));
                    let mut rx2 = rx.clone();
                    let stop = async move {
                        let _ = rx.wait_for(|v| *v).await;
                    };
                    // Graceful shutdown, but never wait more than 2 s for slow connections.
                    tokio::select! {
                        r = serve_shared(listener, for_thread, stop) => {
                            if let Err(e) = r { tracing::error!("emulator stopped: {e}"); }
                        }
                        _ = async {
                            let _ = rx2.wait_for(|v| *v).await;
                            tokio::time::sleep(Duration::from_secs(2)).await;
                        } => {}
                    }
                });
                rt.shutdown_timeout(Duration::from_millis(500));
            })?;
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("emulator thread died at start"))??;
        Ok(EmulatorHandle {
            base_url: format!("{}://127.0.0.1:{port}", scheme(&config)),
            shared,
            stop: tx,
            thread: Some(thread),
        })
    }

    /// Start on `127.0.0.1:0` as a task of the current tokio runtime (not a thread of its
    /// own), so its clocks (token and session expiry) are that runtime's: a test on a paused
    /// clock moves them with `tokio::time::advance`. The server stops when the handle is
    /// dropped. Panics outside a tokio runtime, as `tokio::spawn` does.
    pub fn spawn(config: EmulatorConfig) -> std::io::Result<EmulatorHandle> {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        std_listener.set_nonblocking(true)?;
        let port = std_listener.local_addr()?.port();
        let listener = tokio::net::TcpListener::from_std(std_listener)?;
        let shared = Arc::new(Shared::new(&config)?);
        let (tx, mut rx) = tokio::sync::watch::channel(false);
        let stop = async move {
            let _ = rx.wait_for(|v| *v).await;
        };
        let for_task = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = serve_shared(listener, for_task, stop).await {
                tracing::error!("emulator stopped: {e}");
            }
        });
        Ok(EmulatorHandle {
            base_url: format!("{}://127.0.0.1:{port}", scheme(&config)),
            shared,
            stop: tx,
            thread: None,
        })
    }
}

/// `https` when the emulator serves TLS, else `http`.
fn scheme(config: &EmulatorConfig) -> &'static str {
    if config.tls.is_some() {
        "https"
    } else {
        "http"
    }
}

/// A running in-process emulator. Dropping it stops the server.
#[derive(Debug)]
pub struct EmulatorHandle {
    base_url: String,
    shared: Arc<Shared>,
    stop: tokio::sync::watch::Sender<bool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl EmulatorHandle {
    /// `http://127.0.0.1:PORT` (`https://` when serving TLS).
    pub fn base_url(&self) -> String {
        self.base_url.clone()
    }
    /// The API host's base (`/2.0`).
    pub fn api_url(&self) -> String {
        format!("{}/2.0", self.base_url)
    }
    /// The upload host's base (`/api/2.0`).
    pub fn upload_url(&self) -> String {
        format!("{}/api/2.0", self.base_url)
    }
    /// The OAuth token URL.
    pub fn oauth_url(&self) -> String {
        format!("{}/oauth2/token", self.base_url)
    }
    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.base_url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0)
    }
    /// Counters and tree, now.
    pub fn state(&self) -> EmulatorState {
        self.shared.state()
    }
    /// The current switches.
    pub fn switches(&self) -> Switches {
        self.shared.faults.switches()
    }
    /// What `GET /2.0/folders/trash/items` lists (the top of each deletion; a trashed folder's
    /// content is in the trash with it), each with the path it had when it was trashed, by id.
    pub fn trashed_items(&self) -> Vec<TreeEntry> {
        let tree = self.shared.store.lock();
        tree.trash_paths()
            .map(|(path, item, owner)| TreeEntry {
                path: path.to_owned(),
                kind: item.kind.as_str().into(),
                id: item.id.to_string(),
                parent_id: item.parent.to_string(),
                size: item.size,
                sha1: (item.kind == store::Kind::File).then(|| item.sha1.clone()),
                versions: item.versions,
                owner: owner.to_owned(),
                created_by: item.created_by.clone(),
            })
            .collect()
    }
    /// Change switches while running (faults on/off, limits).
    pub fn set_switches(&self, f: impl FnOnce(&mut Switches)) -> Switches {
        self.shared.faults.update(f)
    }
    /// The next `times` folder moves and deletions answer 409 `operation_blocked_temporary`
    /// (`PUT /_emulator/operation_blocked`); 0 lifts it.
    pub fn block_operations(&self, times: u32) {
        self.shared.faults.block_operations(times);
    }
    /// Revoke every access token issued so far (`POST /_emulator/auth/revoke`).
    pub fn revoke_tokens(&self) -> usize {
        self.shared.auth.revoke_all()
    }
    /// Refuse every token request `invalid_grant` (`PUT /_emulator/auth`).
    pub fn refuse_grants(&self, refuse: bool) {
        self.shared.auth.set_refuse_grants(refuse);
    }
    /// Accept a new developer token (`POST /_emulator/auth/developer_tokens`).
    pub fn add_developer_token(&self, token: &str) {
        self.shared.auth.add_developer_token(token);
    }
    /// Refuse the writes of these `As-User` ids from now on (403
    /// `access_denied_insufficient_permissions`, `permissions.can_upload` false), as
    /// `PUT /_emulator/refuse_writes` does; an empty list lifts it.
    pub fn refuse_writes(&self, users: &[&str]) {
        self.shared
            .faults
            .refuse_writes(users.iter().map(|u| u.to_string()));
    }
    /// Declare more users (each gets a root folder of its own) and groups, as
    /// `POST /_emulator/enterprise` does; refused as a whole, with the reason.
    pub fn declare(&self, spec: &EnterpriseSpec) -> Result<(), String> {
        self.shared.store.lock().declare(spec)
    }
    /// Move folder `id` and everything under it to the trash, as someone deleting it in Box's
    /// web app would (`POST /_emulator/trash/{id}`): afterwards a request naming any of them
    /// answers 404 `trashed`.
    pub fn trash(&self, id: &str) -> Result<(), String> {
        routes::trash_folder(&self.shared, id).map_err(|e| e.message)
    }
}

impl Drop for EmulatorHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
