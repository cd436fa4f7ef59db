//! The command line as the user typed it (clap derive), merged with the config file
//! ([`config`]), and its conversion into the library's resolved configs (`BoxArgs` →
//! `ClientConfig`, `MigrateArgs` → `MigrateConfig`, `AuditArgs` → `AuditConfig`, `VerifyArgs` →
//! `VerifyConfig`). clap stays here (and in `cmd`): library modules take resolved structs only.
//!
//! This file holds the verb list, the global options and the `ValueEnum` impls of the library's
//! enums (`LogFormat`, `ShowProgress`, `OnConflict`), which stay clap-free; each verb's
//! arguments are in `cli/<verb>.rs`.
use std::path::PathBuf;

use clap::builder::PossibleValue;
use clap::{Args, Parser, Subcommand, ValueEnum};

mod audit;
mod box_args;
pub mod config;
mod emulator;
mod migrate;
mod permissions;
mod report;
mod scan;
mod shell;
mod status;
mod verify;

pub use self::audit::AuditArgs;
pub use self::box_args::BoxArgs;
pub use self::emulator::EmulatorArgs;
pub use self::migrate::MigrateArgs;
pub use self::permissions::PermissionsArgs;
pub use self::report::{ExportArgs, HtmlArgs, MergeArgs, ReportArgs, ReportCommand};
pub use self::scan::ScanArgs;
pub use self::shell::{CompletionsArgs, ManArgs};
pub use self::status::StatusArgs;
pub use self::verify::VerifyArgs;
pub use crate::log::LogFormat;
use crate::progress::ShowProgress;
use crate::upload::OnConflict;

/// `boxlift --version`: the package version and the git commit it was built from (build.rs;
/// "unknown" when built outside a git checkout).
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (",
    env!("BOXLIFT_GIT_COMMIT"),
    ")"
);

/// Move very large directory trees into Box, resumably, verified by SHA-1.
#[derive(Debug, Parser)]
#[command(name = "boxlift", version = VERSION, about, propagate_version = true)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every verb takes.
#[derive(Debug, Args, Clone)]
pub struct GlobalArgs {
    /// More log output (-v info, -vv debug, -vvv trace). Secrets are never logged.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Log line format on stderr: human text, or one JSON object per line for log collectors.
    #[arg(long, value_enum, default_value_t = LogFormat::Text, global = true)]
    pub log_format: LogFormat,
    /// Config file (TOML) with defaults for any flag: a table per verb (`[migrate]`...), `[box]`
    /// for the Box connection, global keys at the top. Flags and env vars override it.
    #[arg(long, env = "BOXLIFT_CONFIG", global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Also write the logs to FILE (appended; its directory is created if missing).
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
}

/// The verbs.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Walk a tree and write its manifest (CSV): paths, sizes, mtimes, SHA-1s, problems.
    Scan(ScanArgs),
    /// Dry-run summary of a manifest: upload kinds, problems, API calls and time under Box's limits.
    Audit(AuditArgs),
    /// Upload a tree into a Box folder: resumable, incremental, with a CSV report.
    // Boxed: its flags make it several times the size of the other verbs' arguments.
    Migrate(Box<MigrateArgs>),
    /// Propose Box collaborations from a tree's owners, groups, modes and ACLs (CSV for
    /// `migrate --permissions`), with the waterfall conflicts and unmapped users listed.
    Permissions(PermissionsArgs),
    /// Compare a Box folder with a manifest (sizes and SHA-1s, no download).
    Verify(VerifyArgs),
    /// Run the Box-compatible emulator (for tests, benches and trying boxlift out).
    Emulator(Box<EmulatorArgs>),
    /// Work with report CSVs: merge shards' reports, or make an HTML page of one.
    Report(ReportArgs),
    /// How far a job is, from its state journal: files done, failed, invalid and pending,
    /// bytes, open upload sessions, identities, the last run's start, end, exit code and report.
    /// Read-only: safe while a run holds the journal.
    Status(StatusArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell) on stdout.
    Completions(CompletionsArgs),
    /// Print the manual page (roff) on stdout, or write one per verb into a directory.
    Man(ManArgs),
}

/// One `ValueEnum` impl per library enum: the value words and their `--help` lines, kept here so
/// that the enums themselves carry no clap derive.
macro_rules! value_enum {
    ($ty:ty { $($variant:ident => $word:literal : $help:literal),+ $(,)? }) => {
        impl ValueEnum for $ty {
            fn value_variants<'a>() -> &'a [Self] {
                &[$(<$ty>::$variant),+]
            }
            fn to_possible_value(&self) -> Option<PossibleValue> {
                Some(match self {
                    $(<$ty>::$variant => PossibleValue::new($word).help($help)),+
                })
            }
        }
    };
}

value_enum!(LogFormat {
    Text => "text": "Human-readable lines",
    Json => "json": "One JSON object per line",
});

value_enum!(ShowProgress {
    Auto => "auto": "A bar when stderr is a terminal, status lines otherwise",
    Bar => "bar": "Always the bar",
    Lines => "lines": "Always periodic status lines",
    None => "none": "Nothing",
});

value_enum!(OnConflict {
    Skip => "skip": "Keep Box's file; the row says `skipped_conflict`",
    Version => "version": "Upload ours as a new version of Box's file (Box keeps the history)",
    Rename => "rename": "Upload ours beside it as `name (1).ext`",
    Fail => "fail": "Leave Box's file and fail the row with `item_name_in_use`",
});

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_words_round_trip() {
        for f in LogFormat::value_variants() {
            let word = f.to_possible_value().unwrap();
            assert_eq!(LogFormat::from_str(word.get_name(), false).unwrap(), *f);
        }
        assert_eq!(
            ShowProgress::from_str("lines", false).unwrap(),
            ShowProgress::Lines
        );
        assert_eq!(
            OnConflict::from_str("rename", false).unwrap(),
            OnConflict::Rename
        );
        assert!(OnConflict::from_str("merge", false).is_err());
    }
}
