//! `ClientConfig`: base URLs, credentials, rates and retry policy, resolved from `BoxArgs`
//! (flags and `BOX_*` environment) and the JWT config file.
use std::path::PathBuf;
use std::time::Duration;

use super::auth::{AuthConfig, JwtAppConfig};
use super::error::ConfigError;
use super::retry::RetryPolicy;
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
        }
    }

    /// Resolve the command line. Credential precedence: developer token, then JWT config, then
    /// Client Credentials Grant.
    pub fn from_args(args: &crate::cli::BoxArgs) -> Result<Self, ConfigError> {
        let nonempty = |s: &Option<String>| s.as_ref().filter(|v| !v.trim().is_empty()).cloned();
        let subject_type = nonempty(&args.subject_type).unwrap_or_else(|| "enterprise".into());
        if subject_type != "enterprise" && subject_type != "user" {
            return Err(ConfigError::Invalid(format!(
                "--subject-type must be `enterprise` or `user`, not {subject_type:?}"
            )));
        }
        let auth = if let Some(tok) = nonempty(&args.developer_token) {
            AuthConfig::DeveloperToken(Secret::new(tok))
        } else if let Some(path) = &args.jwt_config {
            let config = JwtAppConfig::from_file(path)?;
            let subject_id = nonempty(&args.subject_id)
                .or_else(|| {
                    (subject_type == "enterprise")
                        .then(|| config.enterprise_id.clone())
                        .flatten()
                })
                .ok_or_else(|| {
                    ConfigError::Invalid(format!(
                        "{}: no enterpriseID in the config; give --subject-id",
                        path.display()
                    ))
                })?;
            AuthConfig::Jwt {
                config,
                subject_type,
                subject_id,
            }
        } else if let (Some(client_id), Some(secret)) =
            (nonempty(&args.client_id), nonempty(&args.client_secret))
        {
            let subject_id = nonempty(&args.subject_id).ok_or_else(|| {
                ConfigError::Invalid(
                    "the Client Credentials Grant needs --subject-id (enterprise or user id)"
                        .into(),
                )
            })?;
            AuthConfig::ClientCredentials {
                client_id,
                client_secret: Secret::new(secret),
                subject_type,
                subject_id,
            }
        } else if args.client_id.is_some() || args.client_secret.is_some() {
            return Err(ConfigError::Invalid(
                "--client-id and --client-secret go together".into(),
            ));
        } else {
            return Err(ConfigError::NoCredentials);
        };
        let mut cfg = ClientConfig::new(auth);
        for (name, url) in [
            ("--api-url", &args.api_url),
            ("--upload-url", &args.upload_url),
            ("--oauth-url", &args.oauth_url),
        ] {
            if !(url.is_empty() || url.starts_with("https://") || url.starts_with("http://")) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be an http(s) URL, not {url:?}"
                )));
            }
        }
        if !args.api_url.is_empty() {
            cfg.api_url = args.api_url.trim_end_matches('/').to_owned();
        }
        if !args.upload_url.is_empty() {
            cfg.upload_url = args.upload_url.trim_end_matches('/').to_owned();
        }
        if !args.oauth_url.is_empty() {
            cfg.oauth_url = args.oauth_url.clone();
        }
        cfg.ca_cert = args.ca_cert.clone();
        cfg.as_users = args
            .as_user
            .iter()
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect();
        if let Some(n) = args.api_calls_per_minute {
            cfg.api_calls_per_minute = positive("--api-calls-per-minute", n)?;
        }
        if let Some(n) = args.uploads_per_minute {
            cfg.uploads_per_minute = positive("--uploads-per-minute", n)?;
        }
        if let Some(n) = args.max_attempts {
            cfg.retry.max_attempts = positive("--max-attempts", n)?;
        }
        Ok(cfg)
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

fn positive(name: &str, n: u32) -> Result<u32, ConfigError> {
    if n == 0 {
        return Err(ConfigError::Invalid(format!("{name} must be at least 1")));
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::BoxArgs;

    #[test]
    fn shared_rates_divide_and_never_reach_zero() {
        let mut c = ClientConfig::new(AuthConfig::DeveloperToken(Secret::new("t")));
        c.share_rates(4);
        assert_eq!((c.api_calls_per_minute, c.uploads_per_minute), (250, 60));
        c.share_rates(1000);
        assert_eq!((c.api_calls_per_minute, c.uploads_per_minute), (1, 1));
    }

    #[test]
    fn from_args_picks_credentials_and_rates() {
        let mut a = BoxArgs {
            client_id: Some("cid".into()),
            client_secret: Some("s3cr3t".into()),
            subject_id: Some("42".into()),
            ..Default::default()
        };
        a.api_url = "http://127.0.0.1:9/2.0/".into();
        a.as_user = vec!["1".into(), " 2 ".into()];
        a.api_calls_per_minute = Some(600);
        let c = ClientConfig::from_args(&a).unwrap();
        assert_eq!(c.api_url, "http://127.0.0.1:9/2.0");
        assert_eq!(c.api_calls_per_minute, 600);
        assert_eq!(c.uploads_per_minute, 240);
        assert_eq!(c.as_users, vec!["1", "2"]);
        assert!(
            matches!(&c.auth, AuthConfig::ClientCredentials { subject_type, .. } if subject_type == "enterprise")
        );
        assert!(!format!("{c:?}").contains("s3cr3t"));

        let none = BoxArgs::default();
        assert!(matches!(
            ClientConfig::from_args(&none),
            Err(ConfigError::NoCredentials)
        ));
        let half = BoxArgs {
            client_id: Some("cid".into()),
            ..Default::default()
        };
        assert!(ClientConfig::from_args(&half).is_err());
        let bad = BoxArgs {
            developer_token: Some("t".into()),
            subject_type: Some("bogus".into()),
            ..Default::default()
        };
        assert!(ClientConfig::from_args(&bad).is_err());
        let zero = BoxArgs {
            developer_token: Some("t".into()),
            uploads_per_minute: Some(0),
            ..Default::default()
        };
        assert!(ClientConfig::from_args(&zero).is_err());
    }
}
