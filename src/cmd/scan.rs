//! `boxlift scan`.
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::ExitCode;

/// Arguments of `boxlift scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {}

/// Run `boxlift scan`.
pub fn run(_args: ScanArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`boxlift scan` is not built yet")
}
