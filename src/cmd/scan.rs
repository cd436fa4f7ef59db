//! `boxlift scan`: arguments → `scan::output::write_manifest[_file]` (the manifest, streamed,
//! in walk order) → a progress line on a terminal and the summary line.
use std::io::{self, IsTerminal};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::cli::{GlobalArgs, ScanArgs};
use crate::exit::ExitCode;
use crate::plan::units::{human_bytes, human_duration};
use crate::scan::Progress;
use crate::scan::output::{write_manifest, write_manifest_file};

/// Run `boxlift scan`.
pub fn run(args: ScanArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    tracing::debug!("SHA-1 implementation: {}", crate::hash::sha1_backend());
    let progress = Arc::new(Progress::default());
    let opts = args.to_options(Some(progress.clone()));
    let tty = io::stderr().is_terminal();
    let started = Instant::now();
    let ticker = tty.then(|| Ticker::start(progress.clone()));

    let summary = match &args.output {
        Some(path) => write_manifest_file(&opts, path),
        None => write_manifest(&opts, io::stdout().lock()),
    };
    if let Some(t) = ticker {
        t.stop();
    }
    let summary = summary?;
    let problems: u64 = summary.problems.values().sum();
    let line = format!(
        "scanned {} files ({}), {} directories in {:.1}s; {} hashed, {} reused from --previous; {} problem rows",
        summary.files,
        human_bytes(summary.bytes),
        summary.dirs,
        started.elapsed().as_secs_f64(),
        progress.hashed.load(Ordering::Relaxed),
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
            hashed = progress.hashed.load(Ordering::Relaxed),
            reused = progress.reused.load(Ordering::Relaxed),
            problems,
            elapsed_s = started.elapsed().as_secs(),
            "scan finished"
        );
    } else {
        // One line at the default verbosity, terminal or not (issue 12 item 6); the problem
        // breakdown follows on a terminal.
        eprintln!("boxlift: {line}");
        if tty {
            for (status, n) in &summary.problems {
                eprintln!("  {status}: {n}");
            }
        }
    }
    Ok(ExitCode::Success)
}

/// The progress line: an indicatif spinner fed from the scan's counters.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Ticker {
    fn start(p: Arc<Progress>) -> Ticker {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let bar = indicatif::ProgressBar::new_spinner();
            let start = Instant::now();
            while !flag.load(Ordering::Relaxed) {
                let walked = p.walked.load(Ordering::Relaxed);
                let hashed = p.hashed_bytes.load(Ordering::Relaxed);
                let queued = p.queued_bytes.load(Ordering::Relaxed);
                let rate = hashed as f64 / start.elapsed().as_secs_f64().max(0.001);
                let eta = if rate > 0.0 {
                    human_duration(queued.saturating_sub(hashed) as f64 / rate)
                } else {
                    "?".into()
                };
                bar.set_message(format!(
                    "walked {walked} entries ({}) · hashed {} files ({}) · {}/s · hashing ETA {eta}",
                    human_bytes(p.walked_bytes.load(Ordering::Relaxed)),
                    p.hashed.load(Ordering::Relaxed),
                    human_bytes(hashed),
                    human_bytes(rate as u64),
                ));
                bar.tick();
                std::thread::sleep(Duration::from_millis(200));
            }
            bar.finish_and_clear();
        });
        Ticker { stop, thread }
    }

    fn stop(self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.thread.join();
    }
}
