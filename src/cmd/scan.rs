//! `boxlift scan`: arguments → `scan::output::write_manifest[_file]` (the manifest, streamed,
//! in walk order), with `progress::scan`'s spinner on a terminal → the summary line.
use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

use crate::cli::{GlobalArgs, ScanArgs};
use crate::exit::ExitCode;
use crate::plan::units::human_bytes;
use crate::progress::scan::ScanSpinner;
use crate::scan::Progress;
use crate::scan::output::{write_manifest, write_manifest_file};

/// Run `boxlift scan`.
pub fn run(args: ScanArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    tracing::debug!("SHA-1 implementation: {}", crate::hash::sha1_backend());
    let progress = Arc::new(Progress::default());
    let opts = args.to_options(Some(progress.clone()));
    let tty = io::stderr().is_terminal();
    let started = Instant::now();
    let spinner = ScanSpinner::start(
        progress.clone(),
        global.log_format,
        std::time::Duration::from_secs(args.status_interval.max(1)),
    );
    // The unlocked handle (the manifest writer buffers): no lock on stdout held for the run.
    let summary = match &args.output {
        Some(path) => write_manifest_file(&opts, path),
        None => write_manifest(&opts, io::stdout()),
    };
    spinner.finish();
    let summary = summary?;
    let problems: u64 = summary.problems.values().sum();
    let line = format!(
        "scanned {} files ({}), {} directories in {:.1}s; {} hashed, {} reused from --previous; {} problem rows",
        summary.files,
        human_bytes(summary.bytes),
        summary.dirs,
        started.elapsed().as_secs_f64(),
        progress.hashed_kept.load(Ordering::Relaxed),
        progress.reused.load(Ordering::Relaxed),
        problems,
    );
    if global.log_format == crate::log::LogFormat::Json {
        // A log collector's event (shown without -v), with the counts as fields.
        tracing::info!(
            target: crate::log::STATUS_TARGET,
            files = summary.files,
            bytes = summary.bytes,
            dirs = summary.dirs,
            hashed = progress.hashed_kept.load(Ordering::Relaxed),
            reused = progress.reused.load(Ordering::Relaxed),
            problems,
            elapsed_s = started.elapsed().as_secs(),
            "scan finished"
        );
    } else {
        // One line at the default verbosity, terminal or not (a cron log sees it too); the problem
        // breakdown follows on a terminal.
        crate::log::text_line(false, &line);
        if tty {
            for (status, n) in &summary.problems {
                eprintln!("  {status}: {n}");
            }
        }
    }
    Ok(ExitCode::Success)
}
