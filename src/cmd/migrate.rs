//! `boxlift migrate`: scan the tree and upload it while the scan still runs, with a report row
//! per manifest row, a resumable state journal, and progress.
//!
//! ```text
//! scan thread: scan::scan ─► manifest (CSV) ─► Planner (state: skip what is done)
//!                                                  │ Work (bounded, blocking_send)
//! tokio runtime:                          upload::execute (file + big-file permits)
//!                                                  │ Event (channel)
//! sink thread:                       report CSV · state journal · progress · summary
//! ```
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use tokio::sync::mpsc;

use crate::box_api::{BoxClient, ClientConfig};
use crate::cli::{BoxArgs, GlobalArgs, LogFormat};
use crate::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use crate::exit::ExitCode;
use crate::fsutil::{AtomicFile, partial_path};
use crate::manifest::write::Writer;
use crate::manifest::{Kind, ManifestRow, Status};
use crate::plan::kind::check_threshold;
use crate::plan::shard::Shard;
use crate::plan::units::parse_bytes;
use crate::progress::{Progress, ShowProgress};
use crate::report::summary::render_rows;
use crate::report::{ReportWriter, Summary};
use crate::scan::ScanOptions;
use crate::state::{StateWriter, open_reader, open_writer};
use crate::upload::folders::Folders;
use crate::upload::{
    Ctx, Dedup, Event, Limits, OnConflict, PlanRow, Planner, TaskOptions, Work, execute,
};

/// Arguments of `boxlift migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The local directory tree to upload.
    pub src: PathBuf,
    /// Box folder id to mirror the tree into ("0" is All Files).
    #[arg(long)]
    pub dest: String,
    /// Write the scan's manifest here; the previous one there lets unchanged files (same size
    /// and mtime) keep their SHA-1 without being read again. Default: `manifest.csv` in the
    /// state directory.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// The report CSV (one row per manifest row). Default: `boxlift-report.csv`, or
    /// `.boxlift/report.csv` with `--emulator`.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// State journal directory (resume, incremental re-runs). Default: beside the report,
    /// named after it (`boxlift-report.state/`).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Plan against the destination without writing anything to Box: every row says what
    /// would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// When Box holds a file of the same name with other content.
    #[arg(long, value_enum, default_value_t = OnConflict::Version)]
    pub on_conflict: OnConflict,
    /// Files (and folders) in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Chunked (big) files in flight at once, on their own permits so they never starve small
    /// files nor the reverse.
    #[arg(long, default_value_t = 3)]
    pub big_concurrency: usize,
    /// Parts in flight per chunked file (Box recommends 3–5).
    #[arg(long, default_value_t = 4)]
    pub part_concurrency: usize,
    /// Files above this size use a chunked upload session (20000000 to 50000000 bytes; units
    /// like 20MB are accepted).
    #[arg(long, value_parser = parse_bytes, default_value = "50000000")]
    pub chunked_threshold: u64,
    /// Upload identical content once; other copies are Box server-side copies.
    #[arg(long)]
    pub dedup: bool,
    /// Start the built-in Box emulator (data in `.boxlift/emulator/`, persistent) and migrate
    /// into it; prints the report at the end.
    #[arg(long)]
    pub emulator: bool,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value_t = ShowProgress::Auto)]
    pub progress: ShowProgress,
    /// Seconds between status lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    pub status_interval: u64,
    /// Leave out entries whose relative path or name matches this glob (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Migrate only shard K of N (0 <= K < N): N processes, on one host or many, each with its
    /// own report and state, split the tree by a stable hash of each file's folder and need no
    /// coordination but Box. In a Kubernetes Indexed Job: `$(JOB_COMPLETION_INDEX)/N`.
    #[arg(long, env = "BOXLIFT_SHARD", value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Use 1/M of each per-identity rate limit (API calls, uploads), so that M processes
    /// sharing one identity stay within Box's limits together. Default: N with `--shard K/N`,
    /// else 1. To set a shard's rates directly: `--rate-share 1 --api-calls-per-minute R`.
    #[arg(long, env = "BOXLIFT_RATE_SHARE", value_name = "M")]
    pub rate_share: Option<u32>,
    /// Box connection and credentials.
    #[command(flatten)]
    pub box_args: BoxArgs,
}

/// Where the run's files go.
#[derive(Debug)]
struct Paths {
    report: PathBuf,
    state: PathBuf,
    manifest: PathBuf,
}

fn paths(args: &MigrateArgs) -> Paths {
    let report = args.report.clone().unwrap_or_else(|| {
        // Shards started in one directory must not share a report, state or manifest.
        let name = match &args.shard {
            Some(s) => format!("report-shard-{}-of-{}.csv", s.index, s.count),
            None => "report.csv".to_string(),
        };
        if args.emulator {
            Path::new(".boxlift").join(name)
        } else {
            PathBuf::from(format!("boxlift-{name}"))
        }
    });
    let state = args.state.clone().unwrap_or_else(|| {
        let stem = report
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "boxlift-report".into());
        report.with_file_name(format!("{stem}.state"))
    });
    let manifest = args
        .manifest
        .clone()
        .unwrap_or_else(|| state.join("manifest.csv"));
    Paths {
        report,
        state,
        manifest,
    }
}

/// Run `boxlift migrate`.
pub fn run(mut args: MigrateArgs, global: &GlobalArgs) -> anyhow::Result<ExitCode> {
    let format = global.log_format;
    check_threshold(args.chunked_threshold)?;
    if !args.src.is_dir() {
        bail!("{} is not a directory", args.src.display());
    }
    let paths = paths(&args);
    let _emulator = if args.emulator {
        Some(emulator_for_run(&mut args.box_args, format)?)
    } else {
        None
    };
    let mut config = ClientConfig::from_args(&args.box_args).context("Box credentials")?;
    let share = rate_share(&args)?;
    config.share_rates(share);
    if let Some(shard) = &args.shard {
        config.settle_folder_twins = shard.count > 1;
        super::notice(
            format,
            false,
            &format!(
                "shard {shard}: {} API calls and {} uploads per minute per identity (1/{share} of the limits)",
                config.api_calls_per_minute, config.uploads_per_minute
            ),
        );
    }
    let users = config.as_users.clone();
    let client = BoxClient::new(config)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let started = Instant::now();
    // One call up front: a wrong --dest or bad credentials stop the job (exit 2) before any row.
    rt.block_on(client.get_folder(&args.dest))
        .with_context(|| format!("destination folder {}", args.dest))?;

    let writer = if args.dry_run {
        None
    } else {
        Some(open_writer(&paths.state, &args.dest)?)
    };
    let reader = open_reader(&paths.state, &args.dest)?;
    let report = ReportWriter::create(&paths.report)?;

    let (ev_tx, ev_rx) = mpsc::unbounded_channel::<Event>();
    let stats_client = client.clone();
    let progress = Progress::start(
        args.progress,
        Duration::from_secs(args.status_interval.max(1)),
        Some(Box::new(move || {
            let s = stats_client.stats();
            (s.retries, s.rate_limited)
        })),
        format,
    );
    let sink = std::thread::spawn(move || sink(ev_rx, report, writer, progress));

    let cancel = Arc::new(AtomicBool::new(false));
    rt.spawn(on_interrupt(cancel.clone(), format));
    let ctx = Arc::new(Ctx {
        cancel: cancel.clone(),
        folders: Folders::new(
            client.clone(),
            &args.dest,
            (!args.dry_run).then(|| ev_tx.clone()),
        ),
        client: client.clone(),
        events: ev_tx.clone(),
        opts: TaskOptions {
            on_conflict: args.on_conflict,
            part_concurrency: args.part_concurrency.max(1),
            dedup: args.dedup,
            dry_run: args.dry_run,
        },
        dedup: args.dedup.then(Dedup::default),
    });
    let (work_tx, work_rx) = mpsc::channel::<Work>(1024);
    let scan_opts = ScanOptions {
        exclude: args.exclude.clone(),
        previous: paths.manifest.is_file().then(|| paths.manifest.clone()),
        shard: args.shard,
        ..ScanOptions::new(&args.src)
    };
    let planner = Planner::new(&args.src, reader, args.chunked_threshold, users);
    let manifest_path = paths.manifest.clone();
    let scan_events = ev_tx.clone();
    drop(ev_tx);
    let scan_cancel = cancel.clone();
    let scanner = std::thread::spawn(move || {
        scan_and_plan(
            &scan_opts,
            &manifest_path,
            planner,
            work_tx,
            scan_events,
            &scan_cancel,
        )
    });
    rt.block_on(execute(
        ctx,
        work_rx,
        Limits {
            files: args.concurrency.max(1),
            big_files: args.big_concurrency.max(1),
        },
    ));
    let scanned = scanner
        .join()
        .unwrap_or_else(|_| Err(anyhow::anyhow!("the scan thread panicked")));
    let stats = client.stats();
    drop(client);
    let (summary, sink_result) = sink
        .join()
        .map_err(|_| anyhow::anyhow!("the report thread panicked"))?;
    drop(rt);

    if args.emulator {
        print_report(&paths.report, format);
    }
    if format == LogFormat::Json {
        summary_event(&summary, &stats, started.elapsed());
    }
    print!("{}", summary.render(started.elapsed()));
    println!(
        "Box requests: {} ({} retries, {} answered 429, {} 5xx, {} without reply)",
        stats.requests,
        stats.retries,
        stats.rate_limited,
        stats.server_errors,
        stats.transport_errors
    );
    println!("report: {}", paths.report.display());
    sink_result?;
    if cancel.load(Ordering::Relaxed) {
        super::notice(
            format,
            true,
            "interrupted; the state is saved, run the same command to resume",
        );
        return Ok(ExitCode::Interrupted);
    }
    scanned?;
    Ok(summary.exit_code())
}

/// The `--rate-share` divisor: given, or N with `--shard K/N`, or 1.
fn rate_share(args: &MigrateArgs) -> anyhow::Result<u32> {
    match (args.rate_share, &args.shard) {
        (Some(0), _) => bail!("--rate-share must be at least 1"),
        (Some(m), _) => Ok(m),
        (None, Some(shard)) => Ok(shard.default_rate_share()),
        (None, None) => Ok(1),
    }
}

/// SIGINT or SIGTERM (Kubernetes) once: start nothing new and let the files in flight finish
/// (their rows and journal entries are written). A second signal exits at once; the journal is
/// crash-safe, so a re-run resumes either way.
async fn on_interrupt(cancel: Arc<AtomicBool>, format: LogFormat) {
    async fn signal() {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut term) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = term.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
    signal().await;
    cancel.store(true, Ordering::Relaxed);
    super::notice(
        format,
        true,
        "interrupted: finishing the files in flight (signal again to stop now)",
    );
    signal().await;
    std::process::exit(ExitCode::Interrupted.code());
}

/// With `--emulator`: start the built-in emulator (data under `.boxlift/emulator/`, kept between
/// runs) and point the Box arguments at it with its developer token.
pub(crate) fn emulator_for_run(
    box_args: &mut BoxArgs,
    format: LogFormat,
) -> anyhow::Result<EmulatorHandle> {
    let dir = PathBuf::from(".boxlift/emulator");
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let config = EmulatorConfig {
        data_dir: Some(dir.clone()),
        ..EmulatorConfig::default()
    };
    let token = config
        .developer_tokens
        .first()
        .cloned()
        .unwrap_or_else(|| "dev-token".into());
    let handle = Emulator::start(config)
        .with_context(|| format!("cannot start the emulator with data in {}", dir.display()))?;
    box_args.api_url = handle.api_url();
    box_args.upload_url = handle.upload_url();
    box_args.oauth_url = handle.oauth_url();
    box_args.developer_token = Some(token);
    super::notice(
        format,
        false,
        &format!(
            "emulator at {} (data in {})",
            handle.base_url(),
            dir.display()
        ),
    );
    Ok(handle)
}

/// The scan thread: every row goes to the manifest (temp file, renamed at the end so a crash
/// keeps the previous manifest for the next quick check) and, planned, to the executor.
fn scan_and_plan(
    opts: &ScanOptions,
    manifest: &Path,
    mut planner: Planner,
    work: mpsc::Sender<Work>,
    events: mpsc::UnboundedSender<Event>,
    cancel: &AtomicBool,
) -> anyhow::Result<()> {
    if let Some(dir) = manifest.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let mut file = AtomicFile::create(manifest)
        .with_context(|| format!("cannot create {}", partial_path(manifest).display()))?;
    let mut out = Writer::new(&mut file)?;
    let result = crate::scan::scan(opts, |row| {
        if cancel.load(Ordering::Relaxed) {
            return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted"));
        }
        out.write(&row).map_err(io::Error::other)?;
        let w = planner.plan(plan_row(row)).map_err(io::Error::other)?;
        let bytes = match &w {
            Work::File(t) => t.size,
            _ => 0,
        };
        let _ = events.send(Event::Planned { bytes });
        work.blocking_send(w)
            .map_err(|_| io::Error::other("the upload stage stopped"))
    });
    let _ = events.send(Event::ScanFinished);
    drop(work);
    let summary = result.with_context(|| format!("scan of {} failed", opts.root.display()))?;
    out.flush()?;
    drop(out);
    file.commit()
        .with_context(|| format!("cannot write {}", manifest.display()))?;
    tracing::info!(files = summary.files, dirs = summary.dirs, "scan finished");
    Ok(())
}

/// A manifest row as the planner takes it.
pub fn plan_row(row: ManifestRow) -> PlanRow {
    PlanRow {
        is_dir: row.kind == Kind::Dir,
        size: row.size,
        mtime: chrono::DateTime::parse_from_rfc3339(&row.mtime)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc)),
        status: match &row.status {
            Status::Ok => "ok".to_string(),
            other => other.to_string(),
        },
        sha1: row.sha1,
        detail: row.detail,
        path: row.path,
    }
}

/// The sink thread: the one consumer of events. Report rows are written and flushed as they
/// come; the journal batches; progress counts. Returns the summary and the first write error.
fn sink(
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut report: ReportWriter,
    mut state: Option<StateWriter>,
    progress: Progress,
) -> (Summary, anyhow::Result<()>) {
    let mut summary = Summary::default();
    let mut first_err: Option<anyhow::Error> = None;
    while let Some(ev) = rx.blocking_recv() {
        progress.on_event(&ev);
        if let Some(s) = &mut state
            && let Err(e) = s.apply(&ev)
        {
            tracing::error!("{e}");
            first_err.get_or_insert(e.into());
            state = None;
        }
        if let Event::FileDone(row) = &ev {
            summary.add(row);
            if let Err(e) = report.write(row) {
                tracing::error!("{e}");
                first_err.get_or_insert(e.into());
            }
        }
    }
    if let Some(mut s) = state
        && let Err(e) = s.commit()
    {
        first_err.get_or_insert(e.into());
    }
    progress.finish();
    (summary, first_err.map_or(Ok(()), Err))
}

/// The end of the run as one event for log collectors (`--log-format json`): rows per action,
/// failures, bytes and Box requests. The text summary still goes to stdout.
fn summary_event(summary: &Summary, stats: &crate::box_api::ClientStats, elapsed: Duration) {
    use crate::report::Action;
    tracing::info!(
        target: super::STATUS_TARGET,
        rows = summary.total(),
        uploaded = summary.count(Action::Uploaded),
        new_version = summary.count(Action::NewVersion),
        skipped_done = summary.count(Action::SkippedDone),
        skipped_exists = summary.count(Action::SkippedExists),
        failed = summary.failures(),
        bytes_sent = summary.bytes_sent,
        requests = stats.requests,
        retries = stats.retries,
        throttled_429 = stats.rate_limited,
        elapsed_s = elapsed.as_secs(),
        exit_code = summary.exit_code().code(),
        "migrate finished"
    );
}

/// Print the report: a compact table for small runs, else where it is.
fn print_report(path: &Path, format: LogFormat) {
    match crate::report::csv::read_report(path) {
        Ok(mut rows) if rows.len() <= 200 => {
            // The CSV is in completion order; the table reads better in path order.
            rows.sort_by(|a, b| a.path.cmp(&b.path));
            print!("{}", render_rows(&rows));
        }
        Ok(rows) => println!("{} rows: see {}", rows.len(), path.display()),
        Err(e) => super::notice(format, true, &e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> MigrateArgs {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: MigrateArgs,
        }
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn default_paths_sit_beside_the_report() {
        let a = parse(&["src", "--dest", "0"]);
        let p = paths(&a);
        assert_eq!(p.report, Path::new("boxlift-report.csv"));
        assert_eq!(p.state, Path::new("boxlift-report.state"));
        assert_eq!(p.manifest, Path::new("boxlift-report.state/manifest.csv"));
        let a = parse(&["src", "--dest", "0", "--emulator"]);
        assert_eq!(paths(&a).report, Path::new(".boxlift/report.csv"));
        assert_eq!(paths(&a).state, Path::new(".boxlift/report.state"));
        let a = parse(&[
            "src",
            "--dest",
            "0",
            "--report",
            "/r/x.csv",
            "--chunked-threshold",
            "20MB",
        ]);
        assert_eq!(paths(&a).state, Path::new("/r/x.state"));
        assert_eq!(a.chunked_threshold, 20_000_000);
        assert_eq!(a.on_conflict, OnConflict::Version);
        let sharded = parse(&["src", "--dest", "0", "--shard", "2/4"]);
        let p = paths(&sharded);
        assert_eq!(p.report, Path::new("boxlift-report-shard-2-of-4.csv"));
        assert_eq!(p.state, Path::new("boxlift-report-shard-2-of-4.state"));
    }

    #[test]
    fn rate_share_defaults_to_the_shard_count() {
        let share = |a: &[&str]| rate_share(&parse(a));
        assert_eq!(share(&["s", "--dest", "0"]).unwrap(), 1);
        assert_eq!(share(&["s", "--dest", "0", "--shard", "1/4"]).unwrap(), 4);
        let a = ["s", "--dest", "0", "--shard", "1/4", "--rate-share", "2"];
        assert_eq!(share(&a).unwrap(), 2);
        let e = share(&["s", "--dest", "0", "--rate-share", "0"]).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
        let bad = MigrateArgs::augment_args(clap::Command::new("t"))
            .try_get_matches_from(["t", "s", "--dest", "0", "--shard", "4/4"])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("K must be less than N"), "{bad}");
    }

    #[test]
    fn plan_row_keeps_status_and_mtime() {
        let r = ManifestRow {
            path: "a/b".into(),
            kind: Kind::File,
            size: 3,
            mtime: "2026-01-02T03:04:05.000000006Z".into(),
            sha1: "ab".into(),
            status: Status::invalid("name_invalid"),
            detail: "d".into(),
        };
        let p = plan_row(r);
        assert_eq!(p.status, "invalid:name_invalid");
        assert_eq!(p.mtime.unwrap().timestamp(), 1767323045);
    }
}
