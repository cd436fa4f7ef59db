//! `boxlift report merge` and `boxlift report html`: wiring for `report::merge` and
//! `report::html`.
use crate::cli::{GlobalArgs, ReportArgs, ReportCommand};
use crate::exit::ExitCode;
use crate::report::html::{HtmlOptions, write_html};
use crate::report::merge::merge;
use crate::report::summary::human_bytes;

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
