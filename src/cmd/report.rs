//! `boxlift report merge` and `boxlift report html`: wiring for `report::merge` and
//! `report::html`.
use std::path::PathBuf;

use clap::{Args, Subcommand};

use crate::cli::GlobalArgs;
use crate::exit::ExitCode;
use crate::report::html::{HtmlOptions, write_html};
use crate::report::merge::merge;
use crate::report::summary::human_bytes;

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
}

/// Run `boxlift report ...`.
pub fn run(args: ReportArgs, _global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ReportCommand::Merge(a) => {
            let outcome = merge(&a.inputs, &a.output)?;
            print!("{}", outcome.render());
            println!("wrote {}", a.output.display());
            eprint!("{}", outcome.render_conflicts());
            Ok(outcome.exit_code())
        }
        ReportCommand::Html(a) => {
            let opts = HtmlOptions {
                title: a.title,
                slowest: a.slowest,
            };
            let agg = write_html(&a.input, &a.output, &opts)?;
            let s = agg.summary();
            println!(
                "wrote {}: {} rows, {} sent, {} failed",
                a.output.display(),
                agg.rows(),
                human_bytes(s.bytes_sent),
                s.failures()
            );
            // Making the page succeeded, whatever the report says: failed rows are on the page.
            Ok(ExitCode::Success)
        }
    }
}
