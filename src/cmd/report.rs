//! `boxlift report merge` and `boxlift report html`: wiring for `report::merge` and
//! `report::html`.
use anyhow::Context;

use crate::cli::{ExportArgs, GlobalArgs, ReportArgs, ReportCommand};
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
                migration: migration_of(&a.input, a.state.as_deref())?,
                title: a.title,
                slowest: a.slowest,
            };
            let agg = write_html(&a.input, &a.output, &opts)?;
            let s = agg.summary();
            println!(
                "wrote {}: {} rows, {} sent, {} failed, {} invalid",
                a.output.display(),
                agg.rows(),
                human_bytes(s.bytes_sent),
                s.failed(),
                s.invalid()
            );
            // Making the page succeeded, whatever the report says: failed rows are on the page.
            Ok(ExitCode::Success)
        }
        ReportCommand::Export(a) => export(&a),
    }
}

/// `report export`: the journal's finished files as CSV, written to a temporary file and renamed
/// into place, so a reader never sees half an inventory.
fn export(a: &ExportArgs) -> anyhow::Result<ExitCode> {
    use crate::fsutil::AtomicFile;
    use crate::state::StateError;
    let mut file = AtomicFile::create(&a.output)
        .with_context(|| format!("cannot create {}", a.output.display()))?;
    let mut w = ::csv::Writer::from_writer(&mut file);
    let n = crate::state::export(&a.state, |row| {
        w.serialize(&row).map_err(|e| StateError::Io {
            path: a.output.clone(),
            source: std::io::Error::other(e),
        })
    })?;
    let Some(n) = n else {
        anyhow::bail!(
            "no state journal in {} (give the --state directory of the run)",
            a.state.display()
        );
    };
    w.flush()
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    drop(w);
    file.commit()
        .with_context(|| format!("cannot write {}", a.output.display()))?;
    println!("wrote {}: {n} files", a.output.display());
    Ok(ExitCode::Success)
}

/// The (source, Box folder) of the run a report is of, from its journal: `--state`, or the
/// directory migrate puts beside the report (`<stem>.state`). Without one the page shows none;
/// a journal that cannot be read is an error only when `--state` named it.
fn migration_of(
    report: &std::path::Path,
    state: Option<&std::path::Path>,
) -> anyhow::Result<Option<(String, String)>> {
    let given = state.is_some();
    let dir = match state {
        Some(d) => d.to_path_buf(),
        None => {
            let stem = report.file_stem().unwrap_or_default().to_string_lossy();
            report.with_file_name(format!("{stem}.state"))
        }
    };
    let status = match crate::state::status(&dir) {
        Ok(s) => s,
        Err(e) if given => return Err(e.into()),
        Err(e) => {
            tracing::warn!("the journal beside the report cannot be read: {e}");
            None
        }
    };
    if given && status.is_none() {
        anyhow::bail!("no state journal in {}", dir.display());
    }
    Ok(status.and_then(|s| {
        let src = s.last_run.map(|r| r.src).unwrap_or_default();
        let dest = s.dest?;
        Some((if src.is_empty() { "?".into() } else { src }, dest))
    }))
}
