//! `boxlift scan`: walk a tree and write its manifest (CSV), streamed, in walk order, with a
//! progress line on a terminal and silence otherwise.
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use crate::cli::GlobalArgs;
use crate::exit::ExitCode;
use crate::fsutil::{AtomicFile, partial_path};
use crate::manifest::write::Writer;
use crate::plan::units::{human_bytes, human_duration, parse_bytes};
use crate::scan::{self, Progress, ScanOptions, ScanSummary};

/// Arguments of `boxlift scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The directory tree to scan.
    pub src: PathBuf,
    /// Write the manifest to this file (default: standard output). Written to a temporary file
    /// beside it and renamed at the end, so a failed scan never leaves half a manifest.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// A previous manifest of the same tree: files with unchanged size and mtime keep their
    /// SHA-1 without being read.
    #[arg(long)]
    pub previous: Option<PathBuf>,
    /// Do not compute SHA-1s (sizes, mtimes and problems only).
    #[arg(long)]
    pub no_hash: bool,
    /// Follow symlinks (loops are detected and reported) instead of skipping them.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Leave out entries whose relative path or name matches this glob (repeatable); a
    /// matching directory is left out with everything in it.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// The Box account's maximum file size (e.g. 5GB, 15GB); bigger files are invalid:too_large.
    #[arg(long, value_parser = parse_bytes)]
    pub max_file_size: Option<u64>,
}

/// Run `boxlift scan`.
pub fn run(args: ScanArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    tracing::debug!("SHA-1 implementation: {}", crate::hash::sha1_backend());
    let progress = Arc::new(Progress::default());
    let opts = ScanOptions {
        root: args.src.clone(),
        hash: !args.no_hash,
        follow_symlinks: args.follow_symlinks,
        exclude: args.exclude.clone(),
        previous: args.previous.clone(),
        max_file_size: args.max_file_size,
        progress: Some(progress.clone()),
        shard: None,
    };
    let tty = io::stderr().is_terminal();
    let started = Instant::now();
    let ticker = tty.then(|| Ticker::start(progress.clone()));

    let summary = match &args.output {
        Some(path) => scan_to_file(&opts, path),
        None => scan_to(&opts, io::stdout().lock()),
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
    if tty {
        eprintln!("{line}");
        for (status, n) in &summary.problems {
            eprintln!("  {status}: {n}");
        }
    } else if global.log_format == crate::cli::LogFormat::Json {
        // A log collector's event (shown without -v), with the counts as fields.
        tracing::info!(
            target: super::STATUS_TARGET,
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
        tracing::info!("{line}");
    }
    Ok(ExitCode::Success)
}

fn scan_to(opts: &ScanOptions, out: impl Write) -> anyhow::Result<ScanSummary> {
    let mut w = Writer::new(out)?;
    let summary = scan::scan(opts, |row| w.write(&row).map_err(io::Error::other))
        .with_context(|| format!("scan of {} failed", opts.root.display()))?;
    w.flush()?;
    Ok(summary)
}

fn scan_to_file(opts: &ScanOptions, path: &Path) -> anyhow::Result<ScanSummary> {
    // Dropped on error: the temporary file goes, and the previous manifest stays.
    let mut file = AtomicFile::create(path)
        .with_context(|| format!("cannot create manifest {}", partial_path(path).display()))?;
    let summary = scan_to(opts, &mut file)?;
    file.commit()
        .with_context(|| format!("cannot write manifest {}", path.display()))?;
    Ok(summary)
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
