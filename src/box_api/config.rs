//! `ClientConfig`: base URLs, credentials, rates and retry policy. The command line resolves it
//! (`cli::BoxArgs::to_client_config`); the library never sees clap types.
use std::path::PathBuf;
use std::time::Duration;

use super::RetryHook;
use super::auth::AuthConfig;
use super::retry::RetryPolicy;
#[cfg(test)]
use super::secret::Secret;

/// Box's documented per-user limit for API calls (per minute).
pub const DEFAULT_API_CALLS_PER_MINUTE: u32 = 1000;
/// Box's documented per-user limit for file uploads (per minute).
pub const DEFAULT_UPLOADS_PER_MINUTE: u32 = 240;

/// Everything a [`super::BoxClient`] needs.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base URL, e.g. `https://api.box.com/2.0`.
    pub api_url: String,
    /// Upload base URL, e.g. `https://upload.box.com/api/2.0`.
    pub upload_url: String,
    /// OAuth token URL, e.g. `https://api.box.com/oauth2/token`.
    pub oauth_url: String,
    /// Extra CA certificate (PEM) to trust. TLS verification is always on.
    pub ca_cert: Option<PathBuf>,
    /// Credentials.
    pub auth: AuthConfig,
    /// Managed users to act as (`--as-user`); each gets its own rate budget.
    pub as_users: Vec<String>,
    /// API calls per minute per identity (Box: 1000).
    pub api_calls_per_minute: u32,
    /// Uploads per minute per identity (Box: 240).
    pub uploads_per_minute: u32,
    /// Retry policy for every call.
    pub retry: RetryPolicy,
    /// Parts of one file in flight at once (Box recommends 3–5).
    pub part_concurrency: usize,
    /// Connect timeout (default 30 s; `None`: none). Tests under a paused tokio clock use
    /// `None`: tokio advances a paused clock to the next timer while waiting on sockets, which
    /// would fire a timeout that real time never reached.
    pub connect_timeout: Option<Duration>,
    /// Longest silence while reading a reply before the attempt counts as failed (default
    /// 120 s; `None`: none).
    pub read_timeout: Option<Duration>,
    /// How long an idle pooled connection is kept (default 60 s; `None`: until the server
    /// closes it, which also keeps the pool's timer out of paused-time tests).
    pub pool_idle_timeout: Option<Duration>,
    /// Other processes create folders in the same tree at once (`--shard`): after resolving a
    /// folder, list its parent and converge on the oldest of same-named twins (one list call
    /// per folder, worth it only when such races can happen).
    pub settle_folder_twins: bool,
    /// Upload bandwidth cap in bytes per second across all upload bodies (`--bwlimit`).
    pub bwlimit: Option<u64>,
    /// Called once per retried request (see [`RetryHook`]): how a pipeline turns the client's
    /// retries into `Retried` events without polling its stats.
    pub on_retry: Option<RetryHook>,
}

impl ClientConfig {
    /// A config with Box's default URLs and limits.
    pub fn new(auth: AuthConfig) -> Self {
        ClientConfig {
            api_url: "https://api.box.com/2.0".into(),
            upload_url: "https://upload.box.com/api/2.0".into(),
            oauth_url: "https://api.box.com/oauth2/token".into(),
            ca_cert: None,
            auth,
            as_users: Vec::new(),
            api_calls_per_minute: DEFAULT_API_CALLS_PER_MINUTE,
            uploads_per_minute: DEFAULT_UPLOADS_PER_MINUTE,
            retry: RetryPolicy::default(),
            part_concurrency: 4,
            connect_timeout: Some(Duration::from_secs(30)),
            read_timeout: Some(Duration::from_secs(120)),
            pool_idle_timeout: Some(Duration::from_secs(60)),
            settle_folder_twins: false,
            bwlimit: None,
            on_retry: None,
        }
    }
}

impl ClientConfig {
    /// Keep 1/`share` of each per-identity rate (at least one call per minute), for `share`
    /// processes acting as the same identities at once (`--shard`, `--rate-share`).
    pub fn share_rates(&mut self, share: u32) {
        let share = share.max(1);
        self.api_calls_per_minute = (self.api_calls_per_minute / share).max(1);
        self.uploads_per_minute = (self.uploads_per_minute / share).max(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_rates_divide_and_never_reach_zero() {
        let mut c = ClientConfig::new(AuthConfig::DeveloperToken(Secret::new("t")));
        c.share_rates(4);
        assert_eq!((c.api_calls_per_minute, c.uploads_per_minute), (250, 60));
        c.share_rates(1000);
        assert_eq!((c.api_calls_per_minute, c.uploads_per_minute), (1, 1));
    }
}
