//! `boxlift emulator`.
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::ExitCode;

/// Arguments of `boxlift emulator`.
#[derive(Debug, Args)]
pub struct EmulatorArgs {}

/// Run `boxlift emulator`.
pub fn run(_args: EmulatorArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`boxlift emulator` is not built yet")
}
