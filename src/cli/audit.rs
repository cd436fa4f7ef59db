//! `boxlift audit`'s arguments.
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use clap::Args;

use super::BoxArgs;
use crate::plan::kind::DIRECT_MAX;
use crate::plan::units::{parse_bandwidth, parse_bytes, parse_deadline, parse_duration};
use crate::progress::ShowProgress;

/// Arguments of `boxlift audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {
    /// The manifest to audit (from `boxlift scan`).
    pub manifest: PathBuf,
    /// Write the per-row audit CSV here (default: MANIFEST with `.audit.csv`).
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Box folder id to compare with (read-only listing). Needs the Box client; see
    /// `--dest-listing` for an offline listing.
    #[arg(long)]
    pub dest: Option<String>,
    /// Compare with a destination listing saved as a manifest (path, kind, size, sha1 of what
    /// is already in the destination folder), e.g. from an earlier run.
    #[arg(long, conflicts_with = "dest")]
    pub dest_listing: Option<PathBuf>,
    /// Print a JSON summary on stdout (field names in README, "JSON summary"); the human
    /// summary goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Progress on stderr while --dest is listed.
    #[arg(long, value_enum, default_value_t = ShowProgress::Auto)]
    pub progress: ShowProgress,
    /// Seconds between status lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    pub status_interval: u64,
    /// Files above this size go up in chunked upload sessions (Box: direct up to 50 MB,
    /// sessions need at least 20,000,000 bytes).
    #[arg(long, value_parser = parse_bytes, default_value_t = DIRECT_MAX)]
    pub chunked_threshold: u64,
    /// The enterprise's monthly API-call allocation, to show the migration's share of it.
    #[arg(long)]
    pub monthly_api_calls: Option<u64>,
    /// Upload bandwidth, e.g. 1Gbit, 100Mbps, 100MB/s.
    #[arg(long, value_parser = parse_bandwidth)]
    pub bandwidth: Option<f64>,
    /// Answer how many `--as-user` identities finish by this time: a date (midnight UTC at its
    /// start), `YYYY-MM-DD HH:MM` (UTC) or RFC 3339.
    #[arg(long, value_parser = parse_deadline, value_name = "DATE", conflicts_with = "within")]
    pub deadline: Option<DateTime<Utc>>,
    /// Answer how many `--as-user` identities finish within this long from now: `36h`, `14d`.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub within: Option<Duration>,
    /// Box connection (used with `--dest`); the rates (`--api-calls-per-minute`,
    /// `--uploads-per-minute`, their `BOX_*` variables and `[box]` keys) are the ones migrate
    /// paces with, and `--as-user` ids multiply them.
    /// (Boxed: `BoxArgs` is large and `Command` is an enum of verb arguments.)
    #[command(flatten)]
    pub box_args: Box<BoxArgs>,
}
