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

use super::error::{ApiError, ConfigError, ErrorKind, FailureClass};
use super::model::{AccessToken, OAuthError};
use super::retry::{
    Endpoint, Outcome, RetryContext, RetryPolicy, failure_class, parse_retry_after,
};
use super::secret::Secret;
use super::transport::FailureWatch;

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

/// The cache's state: the current token, or the refusal every later caller gets at once.
#[derive(Debug, Default)]
struct State {
    cached: Option<Cached>,
    /// Box refused the credentials for good (a refused grant, a developer token answered 401,
    /// a 401 right after a refresh) or the token endpoint stayed unreachable for the whole
    /// retry budget: a job-class error, handed to every caller without another request.
    refused: Option<ApiError>,
}

/// Hands out the current access token, fetching a new one before expiry or after a 401.
///
/// Single-flight: the lock is held across the token request, so N callers needing a new token
/// make one request, and the ones behind it get its token or its refusal.
#[derive(Debug)]
pub(crate) struct TokenCache {
    auth: AuthConfig,
    oauth_url: String,
    retry: RetryPolicy,
    state: Mutex<State>,
    generation: std::sync::atomic::AtomicU64,
    /// Token requests failing in a row: when to warn the operator.
    watch: FailureWatch,
}

impl TokenCache {
    pub(crate) fn new(auth: AuthConfig, oauth_url: String, retry: RetryPolicy) -> Self {
        TokenCache {
            auth,
            oauth_url,
            retry,
            state: Mutex::new(State::default()),
            generation: Default::default(),
            watch: FailureWatch::default(),
        }
    }

    /// The token to use and its generation (pass the generation to [`TokenCache::invalidate`]).
    pub(crate) async fn token(&self, http: &reqwest::Client) -> Result<(Secret, u64), ApiError> {
        let mut g = self.state.lock().await;
        if let Some(refused) = &g.refused {
            return Err(refused.clone());
        }
        if let Some(c) = g.cached.as_ref()
            && c.refresh_at.is_none_or(|t| Instant::now() < t)
        {
            return Ok((c.token.clone(), c.generation));
        }
        let generation = self
            .generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            + 1;
        let fetched = match &self.auth {
            // Asked again only after a 401: it was refused, and cannot be refreshed.
            AuthConfig::DeveloperToken(_) if g.cached.is_some() => Err(ApiError::new(
                ErrorKind::Auth,
                "Box refused the developer token (expired or revoked); developer tokens cannot \
                 be refreshed",
            )
            .with_class(FailureClass::Job)),
            AuthConfig::DeveloperToken(t) => Ok((t.clone(), None)),
            _ => self
                .fetch(http)
                .await
                .map(|(t, secs)| (t, Some(Duration::from_secs(secs)))),
        };
        let (token, lifetime) = match fetched {
            Ok(got) => got,
            Err(e) => {
                if e.class() == FailureClass::Job {
                    tracing::debug!(error = %e, "no token: every later request fails at once");
                    g.refused = Some(e.clone());
                }
                return Err(e);
            }
        };
        // Refresh a little early: a tenth of the lifetime, at most a minute.
        let refresh_at =
            lifetime.map(|l| Instant::now() + l - (l / 10).min(Duration::from_secs(60)));
        g.cached = Some(Cached {
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
        if let Some(c) = g.cached.as_mut()
            && c.generation == generation
        {
            c.refresh_at = Some(Instant::now());
        }
    }

    /// A 401 came back for a token of this generation right after a refresh: Box refuses
    /// whatever token these credentials get, so every later caller fails at once.
    pub(crate) async fn refused_after_refresh(&self, generation: u64) {
        let mut g = self.state.lock().await;
        if g.refused.is_none()
            && g.cached
                .as_ref()
                .is_some_and(|c| c.generation == generation)
        {
            g.refused = Some(
                ApiError::new(
                    ErrorKind::Auth,
                    "Box refused a freshly issued access token (the app's access was revoked or \
                     disabled?)",
                )
                .answered(401, None)
                .with_class(FailureClass::Job),
            );
        }
    }

    /// The token request's form fields for the configured grant.
    fn form(&self) -> Result<Vec<(&'static str, String)>, ApiError> {
        Ok(match &self.auth {
            AuthConfig::DeveloperToken(_) => {
                return Err(ApiError::new(
                    ErrorKind::Auth,
                    "developer tokens are not fetched",
                ));
            }
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
        })
    }

    /// POST the token request (retried on 429/5xx/connection errors; it is idempotent). Every
    /// failure is job-class (see [`failure_class`] with [`Endpoint::Token`]): nothing can be
    /// sent without a token. Failures name the host and the cause, as API calls do, and a WARN
    /// says so after 5 s of failing.
    async fn fetch(&self, http: &reqwest::Client) -> Result<(Secret, u64), ApiError> {
        let form = self.form().map_err(|e| e.with_class(FailureClass::Job))?;
        let host = reqwest::Url::parse(&self.oauth_url)
            .map(|u| super::http::host_port(&u))
            .unwrap_or_else(|_| "the token endpoint".into());
        let mut ctx = RetryContext::new(self.retry.clone());
        loop {
            let attempt = ctx.attempt();
            let res = http.post(&self.oauth_url).form(&form).send().await;
            let answer = match res {
                Ok(resp) => TokenAnswer::read(resp).await,
                Err(e) => TokenAnswer::Failed(e),
            };
            tracing::debug!(op = "token", attempt, outcome = ?answer.outcome(), "POST oauth2/token");
            if let TokenAnswer::Failed(e) = &answer
                && let Some(why) = super::tls::tls_failure(e)
            {
                return Err(super::tls::tls_error("token request", why));
            }
            let class = failure_class(
                Endpoint::Token,
                answer.outcome(),
                answer.code().as_deref(),
                ctx.can_retry(),
            );
            if class == FailureClass::Retry {
                if let Some(for_) = self.watch.failed() {
                    tracing::warn!(
                        "token requests to {host} failing for {} s: {}; retrying",
                        for_.as_secs(),
                        answer.why()
                    );
                }
                tokio::time::sleep(ctx.next_wait(answer.retry_after())).await;
                continue;
            }
            self.watch.ok();
            return answer.into_result(&host, attempt, class);
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
            ApiError::new(ErrorKind::Auth, "cannot sign the JWT assertion").caused_by(e)
        })
    }
}

/// One token request's answer.
enum TokenAnswer {
    /// Box answered (the body read whole).
    Answered {
        status: u16,
        retry_after: Option<Duration>,
        body: bytes::Bytes,
    },
    /// No (complete) answer.
    Failed(reqwest::Error),
}

impl TokenAnswer {
    async fn read(resp: reqwest::Response) -> Self {
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        match resp.bytes().await {
            Ok(body) => TokenAnswer::Answered {
                status,
                retry_after,
                body,
            },
            Err(e) => TokenAnswer::Failed(e),
        }
    }

    fn outcome(&self) -> Outcome {
        match self {
            TokenAnswer::Answered { status, .. } => Outcome::Status(*status),
            TokenAnswer::Failed(e) if e.is_connect() => Outcome::ConnectFailed,
            TokenAnswer::Failed(_) => Outcome::NoReply,
        }
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            TokenAnswer::Answered { retry_after, .. } => *retry_after,
            TokenAnswer::Failed(_) => None,
        }
    }

    /// Box's OAuth error: (`error`, `error_description`).
    fn oauth_error(&self) -> Option<(String, String)> {
        match self {
            TokenAnswer::Answered { body, .. } => serde_json::from_slice::<OAuthError>(body)
                .ok()
                .map(|e| (e.error, e.error_description)),
            TokenAnswer::Failed(_) => None,
        }
    }

    fn code(&self) -> Option<String> {
        self.oauth_error().map(|(error, _)| error)
    }

    /// The cause in words: `HTTP 503`, `connection refused`, `DNS lookup failed (...)`.
    fn why(&self) -> String {
        match self {
            TokenAnswer::Answered { status, .. } => format!("HTTP {status}"),
            TokenAnswer::Failed(e) => super::transport::cause_of(e, None),
        }
    }

    /// The token, or the final error: refused (Box's OAuth error), or no answer after the
    /// retry budget (host and cause named, the transport error kept as the source).
    fn into_result(
        self,
        host: &str,
        attempt: u32,
        class: FailureClass,
    ) -> Result<(Secret, u64), ApiError> {
        let why = self.why();
        let oauth = self.oauth_error();
        let gave_up = if class == FailureClass::Job && oauth.is_none() {
            format!(" (gave up after {attempt} attempts)")
        } else {
            String::new()
        };
        let status = match self {
            TokenAnswer::Failed(e) => {
                return Err(ApiError::new(
                    ErrorKind::Transient,
                    format!("token request: no reply from {host}: {why}{gave_up}"),
                )
                .with_source(e.without_url())
                .with_class(class));
            }
            TokenAnswer::Answered {
                status: 200, body, ..
            } => {
                let t: AccessToken = serde_json::from_slice(&body).map_err(|e| {
                    ApiError::new(ErrorKind::Other, "token reply is not a Box access token")
                        .caused_by(e)
                        .with_class(FailureClass::Job)
                })?;
                return Ok((Secret::new(t.access_token), t.expires_in.max(1)));
            }
            TokenAnswer::Answered { status, .. } => status,
        };
        let kind = match status {
            400 | 401 | 403 => ErrorKind::Auth,
            429 => ErrorKind::RateLimited,
            _ => ErrorKind::Transient,
        };
        // Display puts the status and the OAuth `error` (the code) first: said once.
        let message = match &oauth {
            Some((_, description)) => format!("token request refused by {host}: {description}"),
            None => format!("token request: HTTP {status} from {host}{gave_up}"),
        };
        let mut err = ApiError::new(kind, message)
            .answered(status, None)
            .with_class(class);
        if let Some((error, _)) = oauth {
            err = err.with_code(error);
        }
        Err(err)
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
