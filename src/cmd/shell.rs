//! `boxlift completions SHELL` and `boxlift man`: generated from the same clap definition as
//! the parser (clap_complete, clap_mangen), so they never drift from the real flags.
use std::io::Write;

use anyhow::Context;
use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs, ManArgs};
use crate::exit::ExitCode;

/// Print the completion script for `args.shell` on stdout.
pub fn completions(args: CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut cmd = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut cmd, "boxlift", &mut out);
    out.flush().context("cannot write the completion script")?;
    Ok(ExitCode::Success)
}

/// Print `boxlift.1` on stdout, or write it and a page per verb into `args.dir`.
pub fn man(args: ManArgs) -> anyhow::Result<ExitCode> {
    let cmd = Cli::command();
    match args.dir {
        None => {
            let mut out = std::io::stdout().lock();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .context("cannot write the man page")?;
            out.flush().context("cannot write the man page")?;
        }
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            clap_mangen::generate_to(cmd, &dir)
                .with_context(|| format!("cannot write man pages into {}", dir.display()))?;
            println!("wrote man pages into {}", dir.display());
        }
    }
    Ok(ExitCode::Success)
}
