//! `migrate` as a library: [`run`] owns the whole job, scan → plan → upload, with the report,
//! the state journal and progress as observers of one event stream. The CLI only turns
//! arguments into a [`MigrateConfig`], calls [`run`] and prints the [`Summary`].
//!
//! ```text
//! scan thread:  scan::scan ─► manifest (CSV) ─► upload::Planner (state: skip what is done)
//!                                                   │ Work (bounded, blocking_send)
//! tokio runtime:                           upload::execute (file + big-file permits)
//!                      box_api retry hook ─┐        │ Event (unbounded channel)
//! sink thread:                             └─► progress · state journal · report · summary
//!                                                   · the caller's Observer
//! ```
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

mod config;
mod error;
mod feed;
mod sink;
mod space;

pub use self::config::{MigrateConfig, Observer, Paths};
pub use self::error::{LocalError, LocalWriteError, MigrateError};
use crate::box_api::{BoxClient, ClientStats, RetryHook};
use crate::exit::ExitCode;
pub use crate::model::Cancel;
use crate::model::{Event, Halt};
use crate::plan::kind::check_threshold;
use crate::progress::Progress;
use crate::progress::eta::paced_files_per_s;
use crate::report::ReportWriter;
use crate::scan::ScanOptions;
use crate::scan::quick::Known;
use crate::state::{open_reader, open_writer};
use crate::upload::folders::Folders;
use crate::upload::{Ctx, Dedup, Planner, TaskOptions, Work, execute};

/// How many planned rows may wait between the scan thread and the uploads.
const WORK_QUEUE: usize = 1024;

/// What a finished (or interrupted) run did.
#[derive(Debug, Clone)]
pub struct Summary {
    /// Rows per action, failures, bytes sent.
    pub rows: crate::report::Summary,
    /// The Box client's request counters (for the final summary line).
    pub requests: ClientStats,
    /// Wall time of the run.
    pub elapsed: Duration,
    /// The run was cancelled: what was in flight finished, the rest is left for a re-run.
    pub interrupted: bool,
    /// `max_duration` ran out: nothing new was started after it, what was in flight finished,
    /// and the rest is left for the next run.
    pub out_of_time: bool,
    /// The report CSV.
    pub report: PathBuf,
    /// How the scan came by each file's SHA-1.
    pub scan: ScanCounts,
}

/// How the scan came by each file's SHA-1: read and hashed, reused from an earlier manifest
/// (complete, or an interrupted run's partial one), or trusted from the state journal (same
/// size and mtime as when it was finished: stat'ed, never opened).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ScanCounts {
    /// Files opened and hashed.
    pub hashed: u64,
    /// Files whose SHA-1 came from an earlier manifest.
    pub reused: u64,
    /// Files whose SHA-1 came from the state journal.
    pub known: u64,
}

impl ScanCounts {
    fn of(p: &crate::scan::Progress) -> Self {
        use std::sync::atomic::Ordering::Relaxed;
        ScanCounts {
            hashed: p.hashed.load(Relaxed),
            reused: p.reused.load(Relaxed),
            known: p.known.load(Relaxed),
        }
    }
}

impl Summary {
    /// The process exit code this run stands for.
    pub fn exit_code(&self) -> ExitCode {
        if self.out_of_time {
            ExitCode::MoreToDo
        } else if self.interrupted {
            ExitCode::Interrupted
        } else {
            self.rows.exit_code()
        }
    }
}

/// Run one migration until every row is reported, or until `cancel` is triggered and what was
/// in flight has finished.
pub fn run(mut config: MigrateConfig, cancel: Cancel) -> Result<Summary, MigrateError> {
    check_threshold(config.chunked_threshold).map_err(MigrateError::Threshold)?;
    if !config.src.is_dir() {
        return Err(MigrateError::NotADirectory(config.src));
    }
    if !config.repair.is_empty() && config.dry_run {
        return Err(MigrateError::RepairDryRun);
    }
    let started = Instant::now();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel::<Event>();
    // Retries happen inside the client; its hook puts them on the stream like any other event.
    let retries = ev_tx.clone();
    config.client.on_retry = Some(RetryHook::new(move |status| {
        let _ = retries.send(Event::Retried { status });
    }));
    // The ETA never assumes more files a second than the pacing lets through.
    let identities = config.client.as_users.len();
    let paced =
        (!config.dry_run).then(|| paced_files_per_s(config.client.uploads_per_minute, identities));
    let client = BoxClient::new(config.client).map_err(|e| MigrateError::Client(Box::new(e)))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(MigrateError::Runtime)?;
    // One call up front: a wrong --dest or bad credentials stop the job before any row.
    rt.block_on(client.get_folder(&config.dest))
        .map_err(|source| MigrateError::Destination {
            id: config.dest.clone(),
            source: Box::new(source),
        })?;

    let paths = config.paths.clone();
    let mut journal = if config.dry_run {
        None
    } else {
        Some(open_writer(&paths.state, &config.dest).map_err(MigrateError::State)?)
    };
    if let Some(j) = journal.as_mut().filter(|_| !config.repair.is_empty()) {
        // Before the planner's reader opens: what the journal forgets is planned as new, so a
        // file missing from Box is uploaded and a different one gets a new version.
        let gone = j.forget(&config.repair).map_err(MigrateError::State)?;
        tracing::info!(
            paths = config.repair.len(),
            records = gone,
            "repair: forgot these paths in the journal; they are sent again"
        );
    }
    let reader = open_reader(&paths.state, &config.dest).map_err(MigrateError::State)?;
    // A second reader for the walk thread: finished files it trusts without reading them.
    let known = open_reader(&paths.state, &config.dest)
        .map_err(MigrateError::State)?
        .map(Known::new);
    let scan_progress = Arc::new(crate::scan::Progress::default());
    let scan_opts = ScanOptions {
        exclude: config.exclude.clone(),
        include: config.include.clone(),
        files_from: config.files_from.clone(),
        min_age: config.min_age,
        max_file_size: config.max_file_size,
        previous: paths.manifest.is_file().then(|| paths.manifest.clone()),
        shard: config.shard,
        known,
        progress: Some(scan_progress.clone()),
        ..ScanOptions::new(&config.src)
    };
    let space = space::check(&rt, &client, &scan_opts)?;
    if let Some(free) = space.free {
        tracing::info!(
            free,
            to_send = space.to_send,
            "the Box account has room for this run"
        );
    }
    let report = ReportWriter::create(&paths.report).map_err(MigrateError::Report)?;
    let progress = Progress::start(
        config.progress,
        config.status_interval,
        config.log_format,
        paced,
    );
    let sink = sink::spawn(
        ev_rx,
        sink::Observers {
            report,
            state: journal,
            progress,
            extra: config.observer.take(),
        },
        cancel.clone(),
    );

    let ctx = Arc::new(Ctx {
        cancel: cancel.clone(),
        folders: Folders::new(
            client.clone(),
            &config.dest,
            (!config.dry_run).then(|| ev_tx.clone()),
        ),
        client: client.clone(),
        events: ev_tx.clone(),
        opts: TaskOptions {
            on_conflict: config.on_conflict,
            part_concurrency: config.part_concurrency.max(1),
            dedup: config.dedup,
            dry_run: config.dry_run,
        },
        dedup: config.dedup.then(Dedup::default),
    });
    let (work_tx, work_rx) = mpsc::channel::<Work>(WORK_QUEUE);
    let planner = Planner::new(&config.src, reader, config.chunked_threshold);
    let manifest = paths.manifest.clone();
    let expected = spawn_expected(&paths.manifest, ev_tx.clone());
    let scan_events = ev_tx;
    let scan_cancel = cancel.clone();
    let scanner = std::thread::spawn(move || {
        feed::scan_and_plan(
            &scan_opts,
            &manifest,
            planner,
            work_tx,
            scan_events,
            &scan_cancel,
        )
    });
    let window = config
        .max_duration
        .map(|d| Window::start(d, started, cancel.clone()));
    rt.block_on(execute(ctx, work_rx, config.limits));
    let out_of_time = window.is_some_and(Window::stop);
    let scanned = scanner
        .join()
        .unwrap_or(Err(MigrateError::Panicked("scan")));
    if let Some(t) = expected {
        let _ = t.join();
    }
    let requests = client.stats();
    // The stream ends when its last sender is gone: the client's retry hook holds one, and the
    // runtime may still hold idle tasks with a client clone.
    drop(client);
    drop(rt);
    let (rows, written) = sink.join().map_err(|_| MigrateError::Panicked("report"))?;
    written?;
    if let Some(Halt::Quota { path, message }) = cancel.halted() {
        return Err(MigrateError::QuotaExceeded {
            path: path.clone(),
            message: message.clone(),
        });
    }
    let interrupted = cancel.is_cancelled();
    if !interrupted {
        scanned?;
    }
    Ok(Summary {
        rows,
        requests,
        elapsed: started.elapsed(),
        interrupted,
        out_of_time,
        report: paths.report,
        scan: ScanCounts::of(&scan_progress),
    })
}

/// With a previous manifest, count its files and bytes on a thread of their own and send them
/// as [`Event::Expected`], so progress has a total and an ETA while the scan is still running.
/// An unreadable manifest only means no early total (the scan says what is wrong with it).
fn spawn_expected(
    manifest: &std::path::Path,
    events: mpsc::UnboundedSender<Event>,
) -> Option<std::thread::JoinHandle<()>> {
    if !manifest.is_file() {
        return None;
    }
    let path = manifest.to_path_buf();
    Some(std::thread::spawn(move || {
        let Ok(rows) = crate::manifest::read::Reader::open(&path) else {
            return;
        };
        let (mut files, mut bytes) = (0u64, 0u64);
        for row in rows {
            let Ok(row) = row else { return };
            if row.kind != crate::manifest::Kind::Dir {
                files += 1;
                bytes += row.size;
            }
        }
        let _ = events.send(Event::Expected { files, bytes });
    }))
}

/// `max_duration`: a thread that cancels the run when the window closes (so nothing new starts
/// and what is in flight finishes), unless the run ends first.
struct Window {
    stop: std::sync::mpsc::Sender<()>,
    fired: std::thread::JoinHandle<bool>,
}

impl Window {
    fn start(length: Duration, started: Instant, cancel: Cancel) -> Window {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let fired = std::thread::spawn(move || {
            let left = length.saturating_sub(started.elapsed());
            match stopped.recv_timeout(left) {
                Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                    tracing::warn!(
                        "--max-duration {}s reached: starting nothing new, finishing the files in flight",
                        length.as_secs()
                    );
                    cancel.cancel();
                    true
                }
                _ => false,
            }
        });
        Window { stop, fired }
    }

    /// The run's uploads are over: did the window close first?
    fn stop(self) -> bool {
        let _ = self.stop.send(());
        self.fired.join().unwrap_or(false)
    }
}
