//! `boxlift report`'s subcommands and their arguments.
use std::path::PathBuf;

use clap::{Args, Subcommand};

/// Arguments of `boxlift report`.
#[derive(Debug, Args)]
pub struct ReportArgs {
    /// What to do with the reports.
    #[command(subcommand)]
    pub command: ReportCommand,
}

/// The `report` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Merge reports (e.g. one per `--shard`) into one CSV with one row per path, and print a
    /// summary across them. A path in more than one row keeps its last row (later input, or
    /// later line): give the reports oldest first. Exit 0: all merged rows succeeded and no path
    /// was in two rows; 1: some merged rows failed or were invalid, or paths were in two rows;
    /// 2: an input could not be read.
    Merge(MergeArgs),
    /// Write one self-contained HTML page about a report: totals, throughput over time, file
    /// sizes, failures by error code, the slowest files. It loads nothing from the network.
    /// Exit 0 when the page was written (even if the report has failed rows), 2 otherwise.
    Html(HtmlArgs),
    /// Write the full inventory from a state journal, at any time (even while a run holds it):
    /// every finished file with its size, SHA-1, Box file id, version id, folder id, Box's SHA-1
    /// and the identity that uploaded it, in path order. Exit 0 when written, 2 otherwise.
    Export(ExportArgs),
}

/// Arguments of `boxlift report export`.
#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run's state directory (`migrate --state`).
    #[arg(long)]
    pub state: PathBuf,
    /// The CSV to write (replaced atomically).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Arguments of `boxlift report merge`.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// The reports to merge, oldest first (a later report's row for a path wins).
    #[arg(required = true, num_args = 1..)]
    pub inputs: Vec<PathBuf>,
    /// The merged report to write (a new file: never one of the inputs).
    #[arg(short, long)]
    pub output: PathBuf,
}

/// Arguments of `boxlift report html`.
#[derive(Debug, Args)]
pub struct HtmlArgs {
    /// The report CSV (as `migrate` or `report merge` wrote it).
    pub input: PathBuf,
    /// The HTML page to write.
    #[arg(short, long)]
    pub output: PathBuf,
    /// How many of the slowest files to list.
    #[arg(long, default_value_t = 20)]
    pub slowest: usize,
    /// The page's title (default: `boxlift report: <file name>`).
    #[arg(long)]
    pub title: Option<String>,
    /// The run's state directory, whose journal names the source tree and the Box folder shown
    /// under the title (default: beside the report as migrate names it, `<report>.state`, if
    /// there is one).
    #[arg(long)]
    pub state: Option<PathBuf>,
}
