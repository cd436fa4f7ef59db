//! `boxlift audit`: arguments → [`AuditConfig`] → [`crate::audit::run`] → the printed summary.
//! A dry run: it never writes to Box.
use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::audit::{AuditConfig, Destination, default_output, render};
use crate::box_api::ClientConfig;
use crate::cli::{BoxArgs, GlobalArgs};
use crate::exit::ExitCode;
use crate::plan::estimate::Limits;
use crate::plan::kind::{DIRECT_MAX, check_threshold};
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

/// Run `boxlift audit`.
pub fn run(args: AuditArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let threshold = check_threshold(args.chunked_threshold)?;
    let dest = match (&args.dest, &args.dest_listing) {
        (Some(id), _) => Some(Destination::Box {
            folder_id: id.clone(),
            client: Box::new(
                ClientConfig::from_args(&args.box_args).context("Box connection for --dest")?,
            ),
        }),
        (None, Some(p)) => Some(Destination::Listing(p.clone())),
        (None, None) => None,
    };
    let config = AuditConfig {
        output: args
            .output
            .clone()
            .unwrap_or_else(|| default_output(&args.manifest)),
        manifest: args.manifest.clone(),
        dest,
        threshold,
        limits: Limits {
            api_calls_per_min: args.api_calls_per_min,
            uploads_per_min: args.uploads_per_min,
            identities: args.box_args.as_user.len().max(1) as u32,
            bandwidth: args.bandwidth,
            monthly_api_calls: args.monthly_api_calls,
        },
    };
    let summary = crate::audit::run(&config)?;
    print!(
        "{}",
        render(
            &config.manifest,
            &config.output,
            &summary.estimate,
            &config.limits,
            summary.compared
        )
    );
    Ok(ExitCode::Success)
}
