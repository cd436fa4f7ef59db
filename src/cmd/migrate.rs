//! `boxlift migrate`.
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::ExitCode;

/// Arguments of `boxlift migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {}

/// Run `boxlift migrate`.
pub fn run(_args: MigrateArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`boxlift migrate` is not built yet")
}
