//! Authentication: developer token, Client Credentials Grant, JWT (Box app config JSON), with a
//! token cache that refreshes before expiry and once more when Box answers 401.
//!
//! `As-User` is not an auth mode: the service account's token plus an `As-User` header, set per
//! [`super::BoxClient`] identity.
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
// Token expiry is measured on tokio's clock, so a paused-time test can expire a token.
use tokio::time::Instant;

use super::error::{ApiError, ConfigError, ErrorKind};
use super::model::{AccessToken, OAuthError};
use super::retry::{Decision, Outcome, RetryContext, RetryPolicy, classify, parse_retry_after};
use super::secret::Secret;

/// The JWT `aud` claim Box requires (always this value, whatever host serves the token).
pub const BOX_TOKEN_AUDIENCE: &str = "https://api.box.com/oauth2/token";

/// How the client authenticates.
#[derive(Debug, Clone)]
pub enum AuthConfig {
    /// A developer token (60 minutes; cannot be refreshed).
    DeveloperToken(Secret),
    /// Client Credentials Grant.
    ClientCredentials {
        /// OAuth client id.
        client_id: String,
        /// OAuth client secret.
        client_secret: Secret,
        /// `enterprise` or `user`.
        subject_type: String,
        /// Enterprise id or user id.
        subject_id: String,
    },
    /// JWT signed with the app's private key.
    Jwt {
        /// The app config from the developer console.
        config: JwtAppConfig,
        /// `enterprise` or `user`.
        subject_type: String,
        /// Enterprise id or user id.
        subject_id: String,
    },
}

/// The Box app's JWT config JSON as the developer console writes it.
#[derive(Debug, Clone)]
pub struct JwtAppConfig {
    /// `boxAppSettings.clientID`.
    pub client_id: String,
    /// `boxAppSettings.clientSecret`.
    pub client_secret: Secret,
    /// `boxAppSettings.appAuth.publicKeyID` (the JWT `kid`).
    pub public_key_id: String,
    /// `boxAppSettings.appAuth.privateKey`: encrypted PKCS#8 PEM.
    pub private_key: Secret,
    /// `boxAppSettings.appAuth.passphrase`.
    pub passphrase: Secret,
    /// `enterpriseID`, the default JWT subject.
    pub enterprise_id: Option<String>,
}

#[derive(Deserialize)]
struct RawConfig {
    #[serde(rename = "boxAppSettings")]
    settings: RawSettings,
    #[serde(rename = "enterpriseID", default)]
    enterprise_id: Option<serde_json::Value>,
}
#[derive(Deserialize)]
struct RawSettings {
    #[serde(rename = "clientID")]
    client_id: String,
    #[serde(rename = "clientSecret")]
    client_secret: String,
    #[serde(rename = "appAuth")]
    app_auth: RawAppAuth,
}
#[derive(Deserialize)]
struct RawAppAuth {
    #[serde(rename = "publicKeyID")]
    public_key_id: String,
    #[serde(rename = "privateKey")]
    private_key: String,
    #[serde(default)]
    passphrase: String,
}

impl JwtAppConfig {
    /// Parse the console's JSON. Errors never quote the file's content.
    pub fn from_json(text: &str) -> Result<Self, String> {
        let raw: RawConfig = serde_json::from_str(text).map_err(|e| {
            format!(
                "not a Box app config (boxAppSettings.appAuth...): line {} column {}",
                e.line(),
                e.column()
            )
        })?;
        let enterprise_id = match raw.enterprise_id {
            Some(serde_json::Value::String(s)) if !s.is_empty() && s != "0" => Some(s),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let cfg = JwtAppConfig {
            client_id: raw.settings.client_id,
            client_secret: Secret::new(raw.settings.client_secret),
            public_key_id: raw.settings.app_auth.public_key_id,
            private_key: Secret::new(raw.settings.app_auth.private_key),
            passphrase: Secret::new(raw.settings.app_auth.passphrase),
            enterprise_id,
        };
        cfg.signing_key()?; // fail early on a bad key or passphrase
        Ok(cfg)
    }

    /// Read and parse the file.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError::JwtConfig {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        Self::from_json(&text).map_err(|reason| ConfigError::JwtConfig {
            path: path.to_owned(),
            reason,
        })
    }

    /// Decrypt the private key (encrypted PKCS#8, or plain PKCS#8/PKCS#1) into a signing key.
    fn signing_key(&self) -> Result<jsonwebtoken::EncodingKey, String> {
        use pkcs8::DecodePrivateKey;
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let pem = self.private_key.expose().replace("\\n", "\n");
        let (label, der) = pkcs8::der::pem::decode_vec(pem.trim().as_bytes())
            .map_err(|_| "privateKey is not a PEM block".to_string())?;
        let key = match label {
            "ENCRYPTED PRIVATE KEY" => {
                let info = pkcs8::EncryptedPrivateKeyInfo::try_from(der.as_slice())
                    .map_err(|_| "privateKey: malformed encrypted PKCS#8".to_string())?;
                let doc = info
                    .decrypt(self.passphrase.expose().as_bytes())
                    .map_err(|_| "privateKey: cannot decrypt (wrong passphrase?)".to_string())?;
                rsa::RsaPrivateKey::from_pkcs8_der(doc.as_bytes())
                    .map_err(|_| "privateKey: not an RSA key".to_string())?
            }
            "PRIVATE KEY" => rsa::RsaPrivateKey::from_pkcs8_der(&der)
                .map_err(|_| "privateKey: not an RSA key".to_string())?,
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                rsa::RsaPrivateKey::from_pkcs1_der(&der)
                    .map_err(|_| "privateKey: not an RSA key".to_string())?
            }
            other => return Err(format!("privateKey: unexpected PEM label {other:?}")),
        };
        let pkcs1 = key
            .to_pkcs1_der()
            .map_err(|_| "privateKey: cannot re-encode".to_string())?;
        Ok(jsonwebtoken::EncodingKey::from_rsa_der(pkcs1.as_bytes()))
    }
}

#[derive(serde::Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    box_sub_type: &'a str,
    aud: &'a str,
    jti: String,
    exp: u64,
    iat: u64,
}

/// A token and when to stop using it.
#[derive(Debug, Clone)]
struct Cached {
    token: Secret,
    refresh_at: Option<Instant>,
    generation: u64,
}

/// Hands out the current access token, fetching a new one before expiry or after a 401.
#[derive(Debug)]
pub(crate) struct TokenCache {
    auth: AuthConfig,
    oauth_url: String,
    retry: RetryPolicy,
    state: Mutex<Option<Cached>>,
    generation: std::sync::atomic::AtomicU64,
}

impl TokenCache {
    pub(crate) fn new(auth: AuthConfig, oauth_url: String, retry: RetryPolicy) -> Self {
        TokenCache {
            auth,
            oauth_url,
            retry,
            state: Mutex::new(None),
            generation: Default::default(),
        }
    }

    /// The token to use and its generation (pass the generation to [`TokenCache::invalidate`]).
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<(Secret, u64), ApiError> {
        let mut g = self.state.lock().await;
        if let Some(c) = g.as_ref()
            && c.refresh_at.is_none_or(|t| Instant::now() < t)
        {
            return Ok((c.token.clone(), c.generation));
        }
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let (token, lifetime) = match &self.auth {
            AuthConfig::DeveloperToken(t) => {
                if g.is_some() {
                    return Err(ApiError::new(
                        ErrorKind::Auth,
                        "the developer token was refused (expired?); developer tokens cannot be refreshed",
                    ));
                }
                (t.clone(), None)
            }
            _ => {
                let (t, secs) = self.fetch(http).await?;
                (t, Some(Duration::from_secs(secs)))
            }
        };
        // Refresh a little early: a tenth of the lifetime, at most a minute.
        let refresh_at =
            lifetime.map(|l| Instant::now() + l - (l / 10).min(Duration::from_secs(60)));
        *g = Some(Cached {
            token: token.clone(),
            refresh_at,
            generation,
        });
        tracing::debug!(generation, "access token obtained");
        Ok((token, generation))
    }

    /// A 401 came back for a token of this generation: drop it so the next call fetches anew
    /// (unless another task already did).
    pub(crate) async fn invalidate(&self, generation: u64) {
        let mut g = self.state.lock().await;
        if let Some(c) = g.as_mut()
            && c.generation == generation
        {
            c.refresh_at = Some(Instant::now());
        }
    }

    /// POST the token request (retried on 429/5xx/connection errors; it is idempotent).
    async fn fetch(&self, http: &reqwest::Client) -> Result<(Secret, u64), ApiError> {
        let form: Vec<(&str, String)> = match &self.auth {
            AuthConfig::DeveloperToken(_) => unreachable!("developer tokens are not fetched"),
            AuthConfig::ClientCredentials {
                client_id,
                client_secret,
                subject_type,
                subject_id,
            } => vec![
                ("grant_type", "client_credentials".into()),
                ("client_id", client_id.clone()),
                ("client_secret", client_secret.expose().to_owned()),
                ("box_subject_type", subject_type.clone()),
                ("box_subject_id", subject_id.clone()),
            ],
            AuthConfig::Jwt {
                config,
                subject_type,
                subject_id,
            } => {
                let assertion = self.assertion(config, subject_type, subject_id)?;
                vec![
                    (
                        "grant_type",
                        "urn:ietf:params:oauth:grant-type:jwt-bearer".into(),
                    ),
                    ("assertion", assertion),
                    ("client_id", config.client_id.clone()),
                    ("client_secret", config.client_secret.expose().to_owned()),
                ]
            }
        };
        let mut ctx = RetryContext::new(self.retry.clone());
        loop {
            let attempt = ctx.attempt();
            let res = http.post(&self.oauth_url).form(&form).send().await;
            let (outcome, retry_after) = match &res {
                Ok(r) => (
                    Outcome::Status(r.status().as_u16()),
                    r.headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after),
                ),
                // A refused certificate is permanent: no retry (issue 11).
                Err(e) if let Some(why) = super::tls::tls_failure(e) => {
                    return Err(super::tls::tls_error("token request", why));
                }
                Err(e) if e.is_connect() => (Outcome::ConnectFailed, None),
                Err(_) => (Outcome::NoReply, None),
            };
            tracing::debug!(op = "token", attempt, ?outcome, "POST oauth2/token");
            if classify(outcome, true) == Decision::Retry && ctx.can_retry() {
                tokio::time::sleep(ctx.next_wait(retry_after)).await;
                continue;
            }
            let resp = res.map_err(|e| {
                ApiError::new(
                    ErrorKind::Transient,
                    format!("token request failed: {}", e.without_url()),
                )
            })?;
            let status = resp.status().as_u16();
            let body = resp.bytes().await.map_err(|e| {
                ApiError::new(
                    ErrorKind::Transient,
                    format!("token reply: {}", e.without_url()),
                )
            })?;
            if status == 200 {
                let t: AccessToken = serde_json::from_slice(&body).map_err(|_| {
                    ApiError::new(ErrorKind::Other, "token reply is not a Box access token")
                })?;
                return Ok((Secret::new(t.access_token), t.expires_in.max(1)));
            }
            let (error, description) = match serde_json::from_slice::<OAuthError>(&body) {
                Ok(e) => (e.error, e.error_description),
                Err(_) => ("unknown".into(), String::new()),
            };
            let kind = if status == 400 || status == 401 || status == 403 {
                ErrorKind::Auth
            } else {
                ErrorKind::Transient
            };
            let mut err = ApiError::new(
                kind,
                format!("token request refused: {error}: {description}"),
            );
            err.status = Some(status);
            err.code = Some(error);
            return Err(err);
        }
    }

    fn assertion(
        &self,
        config: &JwtAppConfig,
        subject_type: &str,
        subject_id: &str,
    ) -> Result<String, ApiError> {
        let key = config
            .signing_key()
            .map_err(|r| ApiError::new(ErrorKind::Auth, format!("JWT config: {r}")))?;
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256);
        header.kid = Some(config.public_key_id.clone());
        let now = chrono::Utc::now().timestamp().max(0) as u64;
        let jti = {
            use rand::Rng;
            let bytes: [u8; 24] = rand::thread_rng().r#gen();
            hex::encode(bytes)
        };
        let claims = Claims {
            iss: &config.client_id,
            sub: subject_id,
            box_sub_type: subject_type,
            aud: BOX_TOKEN_AUDIENCE,
            jti,
            exp: now + 45,
            iat: now,
        };
        jsonwebtoken::encode(&header, &claims, &key).map_err(|e| {
            ApiError::new(
                ErrorKind::Auth,
                format!("cannot sign the JWT assertion: {e}"),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_config_errors_do_not_quote_secrets() {
        let json = r#"{"boxAppSettings":{"clientID":"cid","clientSecret":"TOPSECRET","appAuth":{"publicKeyID":"k","privateKey":"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n","passphrase":"PASSPHRASE"}},"enterpriseID":"123"}"#;
        let err = JwtAppConfig::from_json(json).unwrap_err();
        assert!(
            !err.contains("TOPSECRET") && !err.contains("PASSPHRASE"),
            "{err}"
        );
        let err = JwtAppConfig::from_json("{\"x\":1}").unwrap_err();
        assert!(err.contains("boxAppSettings"));
    }
}
