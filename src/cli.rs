//! The command line as the user typed it (clap derive). No I/O here: `cmd::*` resolves it.
//!
//! Each verb's arguments live beside the verb in `cmd/<verb>.rs`; this file holds the verb list
//! and the options every Box-facing verb shares.
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cmd;

/// Move very large directory trees into Box, resumably, verified by SHA-1.
#[derive(Debug, Parser)]
#[command(name = "boxlift", version, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every verb takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// More log output (-v info, -vv debug, -vvv trace). Secrets are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log line format on stderr: human text, or one JSON object per line for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Config file (TOML) with defaults for any flag: a table per verb (`[migrate]`...), `[box]`
    /// for the Box connection, global keys at the top. Flags and env vars override it.
    #[arg(long, env = "BOXLIFT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk a tree and write its manifest (CSV): paths, sizes, mtimes, SHA-1s, problems.
    Scan(cmd::scan::ScanArgs),
    /// Dry-run summary of a manifest: upload kinds, problems, API calls and time under Box's limits.
    Audit(cmd::audit::AuditArgs),
    /// Upload a tree into a Box folder: resumable, incremental, with a CSV report.
    Migrate(cmd::migrate::MigrateArgs),
    /// Compare a Box folder with a manifest (sizes and SHA-1s, no download).
    Verify(cmd::verify::VerifyArgs),
    /// Run the Box-compatible emulator (for tests, benches and trying boxlift out).
    Emulator(Box<cmd::emulator::EmulatorArgs>),
    /// Work with report CSVs: merge shards' reports, or make an HTML page of one.
    Report(cmd::report::ReportArgs),
}

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
    #[arg(long, env = "BOX_API_CALLS_PER_MINUTE")]
    pub api_calls_per_minute: Option<u32>,
    /// File uploads per minute per identity (default 240, Box's documented per-user limit).
    #[arg(long, env = "BOX_UPLOADS_PER_MINUTE")]
    pub uploads_per_minute: Option<u32>,
    /// Attempts per Box request before giving up (default 10; backoff with full jitter).
    #[arg(long, env = "BOX_MAX_ATTEMPTS")]
    pub max_attempts: Option<u32>,
}
