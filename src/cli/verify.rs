//! `boxlift verify`'s arguments.
use std::path::PathBuf;

use clap::Args;

use super::BoxArgs;

/// Arguments of `boxlift verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The manifest of the tree (as `scan` or `migrate` wrote it).
    #[arg(long)]
    pub manifest: PathBuf,
    /// The Box folder the tree was migrated into.
    #[arg(long)]
    pub dest: String,
    /// Write the differences as CSV here (path, problem, expected_size, box_size,
    /// expected_sha1, box_sha1, box_id). Default: listed on standard output.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Verify against the built-in emulator (data in `.boxlift/emulator/`).
    #[arg(long)]
    pub emulator: bool,
    /// Print a JSON summary on stdout (field names in README, "JSON summary"); the human
    /// summary goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Box connection and credentials.
    #[command(flatten)]
    pub box_args: BoxArgs,
}
