//! `boxlift status`'s arguments.
use std::path::PathBuf;

use clap::Args;

/// Arguments of `boxlift status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The run's state directory (`migrate --state`; default beside the report:
    /// `boxlift-report.state`).
    #[arg(long, default_value = "boxlift-report.state")]
    pub state: PathBuf,
    /// Print one JSON document on stdout instead of the text.
    #[arg(long)]
    pub json: bool,
}
