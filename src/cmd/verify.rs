//! `boxlift verify`.
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::ExitCode;

/// Arguments of `boxlift verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {}

/// Run `boxlift verify`.
pub fn run(_args: VerifyArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`boxlift verify` is not built yet")
}
