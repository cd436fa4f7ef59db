//! `BoxArgs`: how to reach and authenticate to Box, as typed (flags and `BOX_*` environment),
//! and its resolution into the client's [`ClientConfig`] (with the JWT config file).
use std::path::PathBuf;

use clap::Args;

use crate::box_api::{
    AuthConfig, ClientConfig, ConfigError, DEFAULT_API_CALLS_PER_MINUTE,
    DEFAULT_UPLOADS_PER_MINUTE, JwtAppConfig, Secret,
};

/// How to reach and authenticate to Box. Shared by every verb that talks to Box.
///
/// Secrets come from flags, the environment or the JWT config file, and are never printed:
/// every secret-bearing env var is `hide_env_values`.
#[derive(Debug, Args, Clone, Default)]
pub struct BoxArgs {
    /// Box API base URL.
    #[arg(long, env = "BOX_API_URL", default_value = "https://api.box.com/2.0")]
    pub api_url: String,
    /// Box upload base URL.
    #[arg(
        long,
        env = "BOX_UPLOAD_URL",
        default_value = "https://upload.box.com/api/2.0"
    )]
    pub upload_url: String,
    /// Box OAuth 2 token URL.
    #[arg(
        long,
        env = "BOX_OAUTH_URL",
        default_value = "https://api.box.com/oauth2/token"
    )]
    pub oauth_url: String,
    /// Extra CA certificate (PEM) to trust, for TLS-intercepting proxies and private CAs.
    #[arg(long, env = "SSL_CERT_FILE")]
    pub ca_cert: Option<PathBuf>,
    /// Developer token (valid 60 minutes; for testing).
    #[arg(long, env = "BOX_DEVELOPER_TOKEN", hide_env_values = true)]
    pub developer_token: Option<String>,
    /// OAuth client id (Client Credentials Grant).
    #[arg(long, env = "BOX_CLIENT_ID", hide_env_values = true)]
    pub client_id: Option<String>,
    /// OAuth client secret (Client Credentials Grant).
    #[arg(long, env = "BOX_CLIENT_SECRET", hide_env_values = true)]
    pub client_secret: Option<String>,
    /// Token subject type for the Client Credentials Grant: enterprise or user.
    #[arg(long, env = "BOX_SUBJECT_TYPE")]
    pub subject_type: Option<String>,
    /// Token subject id (enterprise id or user id).
    #[arg(long, env = "BOX_SUBJECT_ID")]
    pub subject_id: Option<String>,
    /// The Box app's JWT config JSON, as the Box developer console writes it.
    #[arg(long, env = "BOX_JWT_CONFIG")]
    pub jwt_config: Option<PathBuf>,
    /// Act as these managed users (comma-separated ids); each gets its own rate budget.
    #[arg(long, value_delimiter = ',')]
    pub as_user: Vec<String>,
    /// API calls per minute per identity (default 1000, Box's documented per-user limit).
    #[arg(long, env = "BOX_API_CALLS_PER_MINUTE", alias = "api-calls-per-min")]
    pub api_calls_per_minute: Option<u32>,
    /// File uploads per minute per identity (default 240, Box's documented per-user limit).
    #[arg(long, env = "BOX_UPLOADS_PER_MINUTE", alias = "uploads-per-min")]
    pub uploads_per_minute: Option<u32>,
    /// Attempts per Box request before giving up (default 10; backoff with full jitter).
    #[arg(long, env = "BOX_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
}

impl BoxArgs {
    /// Resolve into the client's config. Credential precedence: developer token, then JWT
    /// config, then Client Credentials Grant.
    pub fn to_client_config(&self) -> Result<ClientConfig, ConfigError> {
        let args = self;
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
        let rates = args.rates()?;
        cfg.api_calls_per_minute = rates.api_calls_per_minute;
        cfg.uploads_per_minute = rates.uploads_per_minute;
        if let Some(n) = args.max_attempts {
            cfg.retry.max_attempts = positive("--max-attempts", n)?;
        }
        Ok(cfg)
    }
}

/// Per-identity rate limits, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rates {
    /// API calls per minute per identity.
    pub api_calls_per_minute: u32,
    /// Upload requests per minute per identity.
    pub uploads_per_minute: u32,
}

impl BoxArgs {
    /// The per-identity rates as given (flag, `BOX_*` variable or `[box]` key, in clap's order),
    /// checked, with Box's documented limits as defaults. `migrate` paces and `audit` plans
    /// with these same numbers, so a plan matches the run it plans.
    pub fn rates(&self) -> Result<Rates, ConfigError> {
        let pick = |name, given: Option<u32>, default| match given {
            Some(n) => positive(name, n),
            None => Ok(default),
        };
        Ok(Rates {
            api_calls_per_minute: pick(
                "--api-calls-per-minute",
                self.api_calls_per_minute,
                DEFAULT_API_CALLS_PER_MINUTE,
            )?,
            uploads_per_minute: pick(
                "--uploads-per-minute",
                self.uploads_per_minute,
                DEFAULT_UPLOADS_PER_MINUTE,
            )?,
        })
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

    #[test]
    fn to_client_config_picks_credentials_and_rates() {
        let mut a = BoxArgs {
            client_id: Some("cid".into()),
            client_secret: Some("s3cr3t".into()),
            subject_id: Some("42".into()),
            ..Default::default()
        };
        a.api_url = "http://127.0.0.1:9/2.0/".into();
        a.as_user = vec!["1".into(), " 2 ".into()];
        a.api_calls_per_minute = Some(600);
        let c = a.to_client_config().unwrap();
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
            none.to_client_config(),
            Err(ConfigError::NoCredentials)
        ));
        let half = BoxArgs {
            client_id: Some("cid".into()),
            ..Default::default()
        };
        assert!(half.to_client_config().is_err());
        let bad = BoxArgs {
            developer_token: Some("t".into()),
            subject_type: Some("bogus".into()),
            ..Default::default()
        };
        assert!(bad.to_client_config().is_err());
        let zero = BoxArgs {
            developer_token: Some("t".into()),
            uploads_per_minute: Some(0),
            ..Default::default()
        };
        assert!(zero.to_client_config().is_err());
    }
}
