//! Arguments of the verbs about boxlift itself rather than a migration: `completions` (a shell
//! completion script) and `man` (the manual page).
use std::path::PathBuf;

use clap::Args;

/// Arguments of `boxlift completions`.
#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to write a completion script for (on stdout). E.g. bash:
    /// `boxlift completions bash > ~/.local/share/bash-completion/completions/boxlift`.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `boxlift man`.
#[derive(Debug, Args)]
pub struct ManArgs {
    /// Write `boxlift.1` and one page per verb (`boxlift-migrate.1`...) into this directory
    /// instead of printing `boxlift.1` on stdout. E.g. `boxlift man --dir ~/.local/share/man/man1`.
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}
