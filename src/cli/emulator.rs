//! `boxlift emulator`'s arguments and the emulator config they describe.
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use crate::emulator::{EmulatorConfig, EnterpriseSpec, GroupSpec, UserSpec};

/// Arguments of `boxlift emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {
    /// Address to listen on (loopback unless told otherwise; port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8790")]
    pub listen: String,
    /// Write the port actually bound to this file (for `--listen 127.0.0.1:0`).
    #[arg(long)]
    pub port_file: Option<PathBuf>,
    /// Keep the tree in SQLite and blobs on disk in this directory (survives restarts).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Verify digests but keep no bytes (benchmarks).
    #[arg(long)]
    pub discard: bool,
    /// Developer token to accept (repeatable; default `dev-token`).
    #[arg(
        long = "developer-token",
        env = "BOX_EMULATOR_DEVELOPER_TOKEN",
        hide_env_values = true
    )]
    pub developer_tokens: Vec<String>,
    /// OAuth client id accepted by /oauth2/token (default `emu-client`).
    #[arg(
        long,
        env = "BOX_EMULATOR_CLIENT_ID",
        hide_env_values = true,
        requires = "client_secret"
    )]
    pub client_id: Option<String>,
    /// OAuth client secret (default `emu-secret`).
    #[arg(
        long,
        env = "BOX_EMULATOR_CLIENT_SECRET",
        hide_env_values = true,
        requires = "client_id"
    )]
    pub client_secret: Option<String>,
    /// JWT public key as KID=PEMFILE (repeatable); assertions pick one by `kid`.
    #[arg(long = "jwt-public-key", value_name = "KID=PEMFILE")]
    pub jwt_public_keys: Vec<String>,
    /// Lifetime of issued access tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    pub token_ttl: u64,
    /// Seed for injected faults and generated ids (same seed, same faults).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// API calls per second per user (the token's subject, or the As-User) (429 + Retry-After beyond).
    #[arg(long)]
    pub rate_limit: Option<f64>,
    /// Uploads per second per user (the token's subject, or the As-User) (429 + Retry-After beyond).
    #[arg(long)]
    pub upload_rate_limit: Option<f64>,
    /// Probability of a random 500/502/503 before handling.
    #[arg(long, default_value_t = 0.0)]
    pub fail_rate: f64,
    /// Probability of closing the connection without a reply.
    #[arg(long, default_value_t = 0.0)]
    pub drop_rate: f64,
    /// Added latency per request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// 202 + Retry-After replies each session gets before its commit succeeds.
    #[arg(long = "commit-202", default_value_t = 0)]
    pub commit_202: u32,
    /// Upload session lifetime in seconds (Box: 7 days).
    #[arg(long, default_value_t = 604_800.0)]
    pub session_ttl: f64,
    /// Storage quota in bytes (403 storage_limit_exceeded beyond).
    #[arg(long)]
    pub quota_bytes: Option<u64>,
    /// Largest file in bytes (403 file_size_limit_exceeded beyond; Box Business: 5 GB).
    #[arg(long, default_value_t = 5 * 1024 * 1024 * 1024)]
    pub max_file_size: u64,
    /// Probability that a stored upload/part/commit loses its reply (5xx or dropped).
    #[arg(long, default_value_t = 0.0)]
    pub lost_reply_rate: f64,
    /// Transient 400 parts_mismatch replies each session gets on a correct commit.
    #[arg(long, default_value_t = 0)]
    pub parts_mismatch: u32,
    /// Concurrent creations of the same folder may both succeed (Box's race).
    #[arg(long)]
    pub folder_race: bool,
    /// Serve HTTPS with this PEM certificate chain (leaf first), e.g. one valid for
    /// api.box.com and upload.box.com, for clients whose Box URLs are fixed.
    #[arg(long, requires = "tls_key", value_name = "CERT.pem")]
    pub tls_cert: Option<PathBuf>,
    /// The PEM private key of `--tls-cert`.
    #[arg(long, requires = "tls_cert", value_name = "KEY.pem")]
    pub tls_key: Option<PathBuf>,
    /// The emulated enterprise's users and groups, as JSON:
    /// {"users":[{"id":"..","login":"..","name":".."}],"groups":[{"id":"..","name":"..","members":["login or id"]}]}
    /// (ids are generated when omitted). Each user has a root folder of their own ("0" as that
    /// `As-User`).
    #[arg(long, value_name = "FILE.json")]
    pub enterprise: Option<PathBuf>,
    /// A managed user LOGIN or LOGIN=ID (repeatable), added to `--enterprise`'s.
    #[arg(long = "user", value_name = "LOGIN[=ID]")]
    pub users: Vec<String>,
    /// A group NAME=LOGIN,LOGIN,... of declared users (repeatable), added to `--enterprise`'s.
    #[arg(long = "group", value_name = "NAME=MEMBERS")]
    pub groups: Vec<String>,
}

impl EmulatorArgs {
    /// The in-process config these flags describe.
    pub fn to_config(&self) -> anyhow::Result<EmulatorConfig> {
        let mut config = EmulatorConfig::default();
        if !self.developer_tokens.is_empty() {
            config.developer_tokens = self.developer_tokens.clone();
        }
        if let (Some(id), Some(secret)) = (&self.client_id, &self.client_secret) {
            config.clients = vec![(id.clone(), secret.clone())];
        }
        for spec in &self.jwt_public_keys {
            let (kid, file) = spec
                .split_once('=')
                .with_context(|| format!("--jwt-public-key {spec:?}: expected KID=PEMFILE"))?;
            let pem = std::fs::read_to_string(file)
                .with_context(|| format!("cannot read JWT public key file {file}"))?;
            config.jwt_public_keys.push((kid.to_string(), pem));
        }
        for (name, p) in [
            ("--fail-rate", self.fail_rate),
            ("--drop-rate", self.drop_rate),
            ("--lost-reply-rate", self.lost_reply_rate),
        ] {
            anyhow::ensure!(
                (0.0..=1.0).contains(&p),
                "{name} must be between 0 and 1, got {p}"
            );
        }
        anyhow::ensure!(
            self.session_ttl >= 0.0,
            "--session-ttl must not be negative"
        );
        config.token_ttl = Duration::from_secs(self.token_ttl);
        config.data_dir = self.data.clone();
        config.discard = self.discard;
        config.seed = self.seed;
        config.rate_limit = self.rate_limit;
        config.upload_rate_limit = self.upload_rate_limit;
        config.fail_rate = self.fail_rate;
        config.drop_rate = self.drop_rate;
        config.latency_ms = self.latency_ms;
        config.commit_202 = self.commit_202;
        config.session_ttl = Duration::from_secs_f64(self.session_ttl);
        config.quota_bytes = self.quota_bytes;
        config.max_file_size = self.max_file_size;
        config.lost_reply_rate = self.lost_reply_rate;
        config.parts_mismatch = self.parts_mismatch;
        config.folder_race = self.folder_race;
        if let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key) {
            config.tls = Some(crate::emulator::tls::server_config_from_pem(cert, key)?);
        }
        config.enterprise = self.enterprise_spec()?;
        config.enterprise.check().map_err(|e| {
            anyhow::anyhow!(
                "the enterprise of --enterprise/--user/--group is wrong: {e} (see docs/emulator.md, \
                 \"Users, groups, ownership and collaborations\")"
            )
        })?;
        Ok(config)
    }

    /// `--enterprise`'s file plus `--user` and `--group`.
    fn enterprise_spec(&self) -> anyhow::Result<EnterpriseSpec> {
        let mut spec = match &self.enterprise {
            Some(file) => {
                let text = std::fs::read_to_string(file).with_context(|| {
                    format!("cannot read the --enterprise file {}", file.display())
                })?;
                EnterpriseSpec::from_json(&text).map_err(|e| {
                    anyhow::anyhow!(
                        "--enterprise {}: {e} (expected {{\"users\":[{{\"login\":..}}],\"groups\":[..]}})",
                        file.display()
                    )
                })?
            }
            None => EnterpriseSpec::default(),
        };
        for user in &self.users {
            let (login, id) = match user.split_once('=') {
                Some((login, id)) => (login, Some(id.trim().to_string())),
                None => (user.as_str(), None),
            };
            anyhow::ensure!(
                !login.trim().is_empty(),
                "--user {user:?}: expected LOGIN or LOGIN=ID"
            );
            spec.users.push(UserSpec {
                id,
                login: login.trim().into(),
                name: None,
            });
        }
        for group in &self.groups {
            let (name, members) = group
                .split_once('=')
                .with_context(|| format!("--group {group:?}: expected NAME=LOGIN,LOGIN"))?;
            spec.groups.push(GroupSpec {
                id: None,
                name: name.trim().into(),
                members: members
                    .split(',')
                    .map(str::trim)
                    .filter(|m| !m.is_empty())
                    .map(String::from)
                    .collect(),
            });
        }
        Ok(spec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: EmulatorArgs,
    }

    fn config(argv: &[&str]) -> anyhow::Result<EmulatorConfig> {
        let wrap = Wrap::try_parse_from(std::iter::once("emulator").chain(argv.iter().copied()))?;
        wrap.args.to_config()
    }

    #[test]
    fn flags_map_onto_the_config() {
        let c = config(&[
            "--developer-token",
            "a",
            "--developer-token",
            "b",
            "--client-id",
            "id",
            "--client-secret",
            "s",
            "--rate-limit",
            "16.5",
            "--commit-202",
            "2",
            "--session-ttl",
            "0.5",
            "--folder-race",
            "--discard",
            "--seed",
            "9",
        ])
        .unwrap();
        assert_eq!(c.developer_tokens, vec!["a", "b"]);
        assert_eq!(c.clients, vec![("id".to_string(), "s".to_string())]);
        assert_eq!((c.rate_limit, c.commit_202, c.seed), (Some(16.5), 2, 9));
        assert_eq!(c.session_ttl, Duration::from_millis(500));
        assert!(c.folder_race && c.discard);
        let d = config(&[]).unwrap();
        assert_eq!(d.enterprise, EnterpriseSpec::default());
        assert_eq!(d.developer_tokens, vec!["dev-token"]);
        assert_eq!(d.max_file_size, 5 * 1024 * 1024 * 1024);
    }

    #[test]
    fn the_enterprise_comes_from_a_file_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("ent.json");
        std::fs::write(
            &file,
            r#"{"users":[{"id":"7","login":"a@x.com","name":"A"}],"groups":[]}"#,
        )
        .unwrap();
        let path = file.to_str().unwrap();
        let c = config(&[
            "--enterprise",
            path,
            "--user",
            "b@x.com=8",
            "--user",
            "c@x.com",
            "--group",
            "Team=a@x.com, 8",
        ])
        .unwrap();
        let logins: Vec<_> = c
            .enterprise
            .users
            .iter()
            .map(|u| u.login.as_str())
            .collect();
        assert_eq!(logins, ["a@x.com", "b@x.com", "c@x.com"]);
        assert_eq!(c.enterprise.users[1].id.as_deref(), Some("8"));
        assert_eq!(c.enterprise.groups[0].members, ["a@x.com", "8"]);
        std::fs::write(&file, r#"{"users":[{"mail":"a@x.com"}]}"#).unwrap();
        let err = config(&["--enterprise", path]).unwrap_err().to_string();
        assert!(err.contains("ent.json") && err.contains("mail"), "{err}");
        let err = config(&["--group", "T=nobody@x.com"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("nobody@x.com"), "{err}");
        let err = config(&["--group", "no-members"]).unwrap_err().to_string();
        assert!(err.contains("NAME=LOGIN"), "{err}");
    }

    #[test]
    fn bad_flags_are_refused_with_the_reason() {
        let err = config(&["--fail-rate", "1.5"]).unwrap_err().to_string();
        assert!(err.contains("--fail-rate"), "{err}");
        let err = config(&["--jwt-public-key", "no-equals"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("KID=PEMFILE"), "{err}");
        let err = config(&["--jwt-public-key", "k=/nonexistent/key.pem"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/key.pem"), "{err}");
        assert!(config(&["--client-id", "only-id"]).is_err());
        assert!(
            config(&["--tls-cert", "c.pem"]).is_err(),
            "--tls-key is required"
        );
        let err = config(&["--tls-cert", "/nonexistent/c.pem", "--tls-key", "k.pem"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("/nonexistent/c.pem"), "{err}");
    }
}
