//! `boxlift audit`'s arguments.
use std::path::PathBuf;

use clap::Args;

use super::BoxArgs;
use crate::plan::kind::DIRECT_MAX;
use crate::plan::units::{parse_bandwidth, parse_bytes};

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
    /// Box API calls per minute per identity.
    #[arg(long, default_value_t = crate::plan::estimate::API_CALLS_PER_MIN)]
    pub api_calls_per_min: f64,
    /// Box upload requests per minute per identity.
    #[arg(long, default_value_t = crate::plan::estimate::UPLOADS_PER_MIN)]
    pub uploads_per_min: f64,
    /// Box connection (used with `--dest`); `--as-user` ids multiply the rate budget.
    /// (Boxed: `BoxArgs` is large and `Command` is an enum of verb arguments.)
    #[command(flatten)]
    pub box_args: Box<BoxArgs>,
}
