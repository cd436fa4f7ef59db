//! `boxlift audit`'s arguments, and their resolution into an [`AuditConfig`].
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};
use clap::Args;

use super::BoxArgs;
use crate::audit::{AuditConfig, Deadline, Destination, PastDeadline, default_output};
use crate::log::LogFormat;
use crate::plan::estimate::Limits;
use crate::plan::kind::{DIRECT_MAX, check_threshold};
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
    /// Print a JSON summary on stdout (field names in docs/report.md, "JSON summary"); the human
    /// summary goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// A migration's state directory (its journal): also forecast the next `migrate
    /// --track-moves --delete-missing` of this manifest — moves, deletions, uploads, and the
    /// upload budget move tracking saves.
    #[arg(long, value_name = "DIR")]
    pub state: Option<PathBuf>,
    /// The `migrate --map` file (`source,owner,dest`): the plan per owner — files, bytes and
    /// upload time at each owner's own budget, largest first — and the whole run's time (the
    /// largest part: the tail). With a live --dest, owners Box does not know are listed.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
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

impl AuditArgs {
    /// The resolved audit: threshold checked, the destination (a live Box folder with its
    /// connection, or a saved listing), the limits the migration would run under.
    pub fn to_config(&self, log_format: LogFormat) -> anyhow::Result<AuditConfig> {
        let threshold = check_threshold(self.chunked_threshold)?;
        let dest = match (&self.dest, &self.dest_listing) {
            (Some(id), _) => Some(Destination::Box {
                folder_id: id.clone(),
                client: Box::new(
                    self.box_args
                        .to_client_config()
                        .context("Box connection for --dest")?,
                ),
            }),
            (None, Some(p)) => Some(Destination::Listing(p.clone())),
            (None, None) => None,
        };
        let rates = self.box_args.rates()?;
        Ok(AuditConfig {
            output: self
                .output
                .clone()
                .unwrap_or_else(|| default_output(&self.manifest)),
            manifest: self.manifest.clone(),
            dest,
            threshold,
            progress: self.progress,
            status_interval: Duration::from_secs(self.status_interval.max(1)),
            log_format,
            state: self.state.clone(),
            map: self.map.clone(),
            limits: Limits {
                api_calls_per_min: f64::from(rates.api_calls_per_minute),
                uploads_per_min: f64::from(rates.uploads_per_minute),
                identities: self.box_args.as_user.len().max(1) as u32,
                bandwidth: self.bandwidth,
                monthly_api_calls: self.monthly_api_calls,
            },
        })
    }

    /// The planner's question (`--deadline`, or `--within` from `now`), which must lie ahead.
    pub fn deadline(&self, now: DateTime<Utc>) -> Result<Option<Deadline>, PastDeadline> {
        match (self.deadline, self.within) {
            (Some(at), _) => Deadline::at(at, now).map(Some),
            (None, Some(d)) => Deadline::at(now + d, now).map(Some),
            (None, None) => Ok(None),
        }
    }
}
