//! `boxlift audit`.
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::ExitCode;

/// Arguments of `boxlift audit`.
#[derive(Debug, Args)]
pub struct AuditArgs {}

/// Run `boxlift audit`.
pub fn run(_args: AuditArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("`boxlift audit` is not built yet")
}
