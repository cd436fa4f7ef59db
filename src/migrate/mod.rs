//! `migrate` as a library: [`run`] owns the whole job, scan → plan → upload, with the report,
//! the state journal and progress as observers of one event stream. The CLI only turns
//! arguments into a [`MigrateConfig`], calls [`run`] and prints the [`Summary`].
//!
//! ```text
//! scan thread:  scan::scan ─► manifest (CSV) ─► plan::Planner (state: skip what is done)
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
mod grants;
mod identities;
pub mod mirror;
mod owners;
mod sink;
mod space;

pub use self::config::{MigrateConfig, Observer, Paths};
pub use self::error::{LocalError, LocalWriteError, MigrateError};
pub use self::owners::OwnerIds;
use crate::box_api::{BoxClient, ClientStats, RetryHook};
use crate::exit::ExitCode;
pub use crate::model::Cancel;
use crate::model::{Event, Halt};
use crate::plan::kind::check_threshold;
use crate::plan::{Planner, Work};
use crate::progress::Progress;
use crate::progress::eta::paced_files_per_s;
use crate::report::ReportWriter;
use crate::scan::ScanOptions;
use crate::scan::quick::Known;
use crate::state::{StateWriter, open_reader, open_writer};
use crate::upload::folders::Folders;
use crate::upload::{Ctx, Dedup, TaskOptions, execute};

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
    /// Files opened and hashed whose rows the run took (not those hashed ahead of a stop).
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
            hashed: p.hashed_kept.load(Relaxed),
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
    validate(&config)?;
    let perms = grants::read(&config)?;
    let started = Instant::now();
    let (ev_tx, ev_rx) = mpsc::unbounded_channel::<Event>();
    // The ETA never assumes more files a second than the pacing lets through.
    let identities = config.client.as_users.len();
    let paced =
        (!config.dry_run).then(|| paced_files_per_s(config.client.uploads_per_minute, identities));
    let limits = crate::progress::eta::EtaLimits::for_run(
        &config.client,
        config.chunked_threshold,
        config.dry_run,
    );
    // `--map` is read and checked before any call, its owners resolved before any upload.
    let map = config
        .map
        .as_deref()
        .map(|f| owners::load(f, &config.src))
        .transpose()?;
    let (client, rt) = connect(&mut config, &ev_tx)?;
    let (owner_ids, roots) = owners::prepare_all(&rt, &client, map, config.dry_run)?;
    let perms = grants::resolve(&rt, &client, perms)?;

    let paths = config.paths.clone();
    let mut journal = open_journal(&config)?;
    let reader = open_reader(&paths.state, &config.dest).map_err(MigrateError::State)?;
    // A second reader for the walk thread: finished files it trusts without reading them.
    let known = open_reader(&paths.state, &config.dest)
        .map_err(MigrateError::State)?
        .map(Known::new);
    let scan_progress = Arc::new(crate::scan::Progress::default());
    let scan_opts = scan_options(&config, known, &scan_progress);
    let mirror_rows = mirror_phase(
        (&config.mirror, &config.dest, &config.paths),
        &scan_opts,
        &rt,
        &client,
        journal.as_mut(),
    )?;
    check_space(&rt, &client, &scan_opts)?;
    let report = ReportWriter::create(&paths.report)
        .map_err(MigrateError::Report)?
        .keep_skipped_done(config.report_all);
    let progress = Progress::start(
        config.progress,
        config.status_interval,
        config.log_format,
        paced,
    );
    progress.set_limits(limits);
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

    for row in mirror_rows {
        let _ = ev_tx.send(Event::FileDone(row));
    }
    let ctx = task_ctx(&config, &client, &ev_tx, &cancel, roots);
    let (work_tx, work_rx) = mpsc::channel::<Work>(WORK_QUEUE);
    let planner = Planner::new(&config.src, reader, config.chunked_threshold);
    let manifest = paths.manifest.clone();
    let expected = Counting::spawn(&scan_opts, config.chunked_threshold, ev_tx.clone());
    let scan_cancel = cancel.clone();
    let scanner = std::thread::spawn(move || {
        let planner = feed::Plan {
            planner,
            owners: owner_ids,
        };
        feed::scan_and_plan(&scan_opts, &manifest, planner, work_tx, ev_tx, &scan_cancel)
    });
    let window = config
        .max_duration
        .map(|d| Window::start(d, started, cancel.clone()));
    crate::progress::client::watch_client(&client);
    rt.block_on(execute(ctx.clone(), work_rx, config.limits));
    grants::apply(&config, &rt, ctx, &perms, &cancel)?;
    crate::progress::client::unwatch_client();
    let out_of_time = window.is_some_and(Window::stop);
    let scanned = scanner
        .join()
        .unwrap_or(Err(MigrateError::Panicked("scan")));
    expected.stop();
    let requests = client.stats();
    // The stream ends when its last sender is gone: the client's retry hook holds one, and the
    // runtime may still hold idle tasks with a client clone.
    drop(client);
    drop(rt);
    let (rows, written) = sink.join().map_err(|_| MigrateError::Panicked("report"))?;
    written?;
    if let Some(e) = halt_error(&cancel) {
        return Err(e);
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

/// Refuse the run before any upload when the account cannot hold what it would send.
fn check_space(
    rt: &tokio::runtime::Runtime,
    client: &BoxClient,
    scan_opts: &ScanOptions,
) -> Result<(), MigrateError> {
    let space = space::check(rt, client, scan_opts)?;
    if let Some(free) = space.free {
        tracing::info!(
            free,
            to_send = space.to_send,
            "the Box account has room for this run"
        );
    }
    Ok(())
}

/// The Box client (its retries reported on `events`) and the runtime, after one call that
/// checks the destination and one per `--as-user` identity that checks it may write there.
fn connect(
    config: &mut MigrateConfig,
    events: &mpsc::UnboundedSender<Event>,
) -> Result<(BoxClient, tokio::runtime::Runtime), MigrateError> {
    // Retries happen inside the client; its hook puts them on the stream like any other event.
    let retries = events.clone();
    config.client.on_retry = Some(RetryHook::new(move |status| {
        let _ = retries.send(Event::Retried { status });
    }));
    let client =
        BoxClient::new(config.client.clone()).map_err(|e| MigrateError::Client(Box::new(e)))?;
    // The hook holds a sender of the event stream: only the client may keep one, or the
    // stream would never end.
    config.client.on_retry = None;
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
    if !config.dry_run {
        identities::drop_refused(&rt, &client, &config.dest)?;
    }
    Ok((client, rt))
}

/// What the scan thread walks, and what it may reuse (an earlier manifest, the journal).
fn scan_options(
    config: &MigrateConfig,
    known: Option<Known>,
    progress: &Arc<crate::scan::Progress>,
) -> ScanOptions {
    let manifest = &config.paths.manifest;
    ScanOptions {
        exclude: config.exclude.clone(),
        include: config.include.clone(),
        files_from: config.files_from.clone(),
        min_age: config.min_age,
        max_file_size: config.max_file_size,
        previous: manifest.is_file().then(|| manifest.clone()),
        shard: config.shard,
        known,
        progress: Some(progress.clone()),
        ..ScanOptions::new(&config.src)
    }
}

fn validate(config: &MigrateConfig) -> Result<(), MigrateError> {
    check_threshold(config.chunked_threshold).map_err(MigrateError::Threshold)?;
    if !config.src.is_dir() {
        return Err(MigrateError::NotADirectory(config.src.clone()));
    }
    if config.map.is_some() && config.mirror.enabled() {
        return Err(MigrateError::MapWithMirror);
    }
    if !config.repair.is_empty() && config.dry_run {
        return Err(MigrateError::RepairDryRun);
    }
    Ok(())
}

/// The journal's writer (none for dry runs) with this run recorded in it (`boxlift status`
/// reads it), after `--repair` made it forget its paths.
fn open_journal(config: &MigrateConfig) -> Result<Option<StateWriter>, MigrateError> {
    if config.dry_run {
        return Ok(None);
    }
    let mut j = open_writer(&config.paths.state, &config.dest).map_err(MigrateError::State)?;
    // The run's record, for `boxlift status`: where from, where its report goes, as whom.
    j.begin_run(
        &config.src.display().to_string(),
        &config.paths.report.display().to_string(),
        &config.client.as_users,
    )
    .map_err(MigrateError::State)?;
    if !config.repair.is_empty() {
        // Before the planner's reader opens: what the journal forgets is planned as new, so a
        // file missing from Box is uploaded and a different one gets a new version.
        let gone = j.forget(&config.repair).map_err(MigrateError::State)?;
        tracing::info!(
            paths = config.repair.len(),
            records = gone,
            "repair: forgot these paths in the journal; they are sent again"
        );
    }
    Ok(Some(j))
}

/// What every upload task shares.
fn task_ctx(
    config: &MigrateConfig,
    client: &BoxClient,
    events: &mpsc::UnboundedSender<Event>,
    cancel: &Cancel,
    roots: Vec<crate::upload::folders::Root>,
) -> Arc<Ctx> {
    Arc::new(Ctx {
        cancel: cancel.clone(),
        folders: Folders::new(
            client.clone(),
            &config.dest,
            (!config.dry_run).then(|| events.clone()),
        )
        .with_roots(roots),
        client: client.clone(),
        events: events.clone(),
        opts: TaskOptions {
            on_conflict: config.on_conflict,
            part_concurrency: config.part_concurrency.max(1),
            dedup: config.dedup,
            dry_run: config.dry_run,
        },
        dedup: config.dedup.then(Dedup::default),
        heal: Default::default(),
    })
}

/// The error a run the pipeline stopped itself ends with (the sink's write errors aside).
fn halt_error(cancel: &Cancel) -> Option<MigrateError> {
    match cancel.halted()? {
        Halt::Quota { path, message } => Some(MigrateError::QuotaExceeded {
            path: path.clone(),
            message: message.clone(),
        }),
        Halt::Job {
            path,
            message,
            remedy,
        } => Some(MigrateError::Stopped {
            path: path.clone(),
            message: message.clone(),
            remedy: remedy.clone(),
        }),
        Halt::LocalWrite => None,
    }
}

/// `--track-moves` / `--delete-missing`: scan, plan, guard and (unless a dry run) apply the
/// moves and deletions before the upload planner reads the journal. Returns the rows for the
/// report. A guard's refusal stops the run before any change.
fn mirror_phase(
    (opts, dest, paths): (&mirror::MirrorOptions, &str, &Paths),
    scan_opts: &ScanOptions,
    rt: &tokio::runtime::Runtime,
    client: &BoxClient,
    journal: Option<&mut crate::state::StateWriter>,
) -> Result<Vec<crate::model::ReportRow>, MigrateError> {
    if !opts.enabled() {
        return Ok(Vec::new());
    }
    if scan_opts.files_from.is_some() || scan_opts.shard.is_some() {
        // Such a run sees part of the source: the rest would look deleted or moved.
        tracing::warn!(
            "--track-moves/--delete-missing need the whole source: ignored with --files-from or --shard"
        );
        return Ok(Vec::new());
    }
    let Some(reader) = open_reader(&paths.state, dest).map_err(MigrateError::State)? else {
        return Ok(Vec::new());
    };
    let files = reader.journal_files().map_err(MigrateError::State)?;
    let folders = reader.journal_folders().map_err(MigrateError::State)?;
    let scan_opts = ScanOptions {
        known: Some(Known::new(reader)),
        progress: None,
        ..scan_opts.clone()
    };
    let scan = mirror::prescan(&scan_opts);
    let plan = mirror::plan(opts, &files, &folders, &scan).map_err(MigrateError::MirrorRefused)?;
    let Some(journal) = journal else {
        return Ok(mirror::dry_rows(&plan));
    };
    let mut applier = mirror::Applier {
        client,
        dest,
        journal,
        rows: Vec::new(),
    };
    rt.block_on(applier.apply(&plan))
        .map_err(MigrateError::State)?;
    Ok(applier.rows)
}

/// The counting pass ([`crate::scan::count`]) on a thread of its own, sending its totals as
/// [`Event::Expected`], so progress has a total and an ETA while the scan is still hashing.
/// A count that fails only means no early total (the scan says what is wrong).
struct Counting {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<()>,
}

impl Counting {
    fn spawn(
        opts: &ScanOptions,
        chunked_threshold: u64,
        events: mpsc::UnboundedSender<Event>,
    ) -> Self {
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let (opts, halt) = (opts.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let big_from = chunked_threshold.saturating_add(1);
            // Two threads: the walk is bound by directory reads, and the hashing scan runs
            // beside it.
            if let Ok(c) = crate::scan::count::count(&opts, big_from, 2, &halt)
                && !halt.load(std::sync::atomic::Ordering::Relaxed)
            {
                let _ = events.send(Event::Expected {
                    files: c.files,
                    bytes: c.bytes,
                    big_files: c.big_files,
                    big_bytes: c.big_bytes,
                });
            }
        });
        Counting { stop, thread }
    }

    /// The run is over: stop counting (if still at it) and wait for the thread.
    fn stop(self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = self.thread.join();
    }
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
