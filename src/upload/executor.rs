//! The async side of the pipeline: takes planned `Work` from the bounded channel the scan thread
//! fills, and runs many files at once. Small files and chunked (big) files have separate permit
//! pools fed by separate queues, so a run of big files never holds up small ones, nor the
//! reverse; every request still goes through the client's shared pacing.
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use super::lanes::{Item, Lanes};
use super::task::{Ctx, JOB_STOPPED, run_dir, run_file};
use crate::manifest::Kind;
use crate::model::Event;
use crate::model::{Action, ReportRow};
use crate::plan::{FileTask, Work};

/// How much runs at once.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Small (direct-upload) files and folders in flight.
    pub files: usize,
    /// Chunked files in flight (each with its own parts in flight).
    pub big_files: usize,
}

/// How many chunked files may wait for a permit. Each waiting task is a few hundred bytes, and
/// keeping them apart from the small-file queue is what stops head-of-line blocking.
const BIG_QUEUE: usize = 10_000;

/// Run everything `rx` yields; returns when the channel is closed and every task has finished.
///
/// Small files and folders wait in per-identity lanes ([`super::lanes`]): with `--map` each
/// owner's files are bound to that owner's identity and paced at its budget, so the executor
/// starts, whenever a slot is free, the lane with the fewest files in flight (at most
/// [`super::lanes::OWNER_IN_FLIGHT`] each), then the most waiting: every owner stays busy and
/// the big owners start first, whatever order the walk yields them in. Lanes spill to disk, so
/// the walk is read as fast as it comes and no owner waits behind another's backlog.
pub async fn execute(ctx: Arc<Ctx>, mut rx: mpsc::Receiver<Work>, limits: Limits) {
    let big = Arc::new(Semaphore::new(limits.big_files.max(1)));
    let (big_tx, mut big_rx) = mpsc::channel::<Box<FileTask>>(BIG_QUEUE);
    let big_ctx = ctx.clone();
    let big_loop = tokio::spawn(async move {
        let mut set = JoinSet::new();
        while let Some(t) = big_rx.recv().await {
            let Ok(permit) = big.clone().acquire_owned().await else {
                break;
            };
            if big_ctx.cancelled() {
                // Interrupted: queued files are left for the re-run (not reported).
                continue;
            }
            let ctx = big_ctx.clone();
            set.spawn(async move {
                file(&ctx, &t).await;
                drop(permit);
            });
            while set.try_join_next().is_some() {}
        }
        while set.join_next().await.is_some() {}
    });
    let mut lanes = Lanes::new(limits.files, ctx.folders.has_roots());
    let mut set = JoinSet::new();
    let mut open = true;
    loop {
        if ctx.cancelled() {
            // Interrupted: waiting files are left for the re-run (not reported).
            lanes.clear();
        }
        while let Some((item, slot)) = lanes.start_next() {
            let ctx = ctx.clone();
            set.spawn(async move {
                match item {
                    Item::File(t) => file(&ctx, &t).await,
                    Item::Dir(path) => {
                        let row = run_dir(&ctx, &path).await;
                        let _ = ctx.events.send(Event::FileDone(row));
                    }
                }
                drop(slot);
            });
        }
        if !open && set.is_empty() && lanes.pending() == 0 {
            break;
        }
        let read = open && lanes.has_room();
        tokio::select! {
            biased;
            Some(_) = set.join_next(), if !set.is_empty() => {}
            work = rx.recv(), if read => match work {
                None => open = false,
                Some(w) => {
                    if !route(&ctx, w, &mut lanes, &big_tx).await {
                        open = false;
                    }
                }
            },
            else => break,
        }
    }
    drop(big_tx);
    while set.join_next().await.is_some() {}
    let _ = big_loop.await;
}

/// Put one planned row where it runs: reported at once, to the chunked queue, or into its
/// identity's lane. False when the chunked loop is gone.
async fn route(
    ctx: &Ctx,
    work: Work,
    lanes: &mut Lanes,
    big_tx: &mpsc::Sender<Box<FileTask>>,
) -> bool {
    if ctx.cancelled() {
        return true;
    }
    match work {
        Work::Done(row) => {
            let _ = ctx.events.send(Event::FileDone(row));
        }
        Work::File(t) if t.upload.is_chunked() => return big_tx.send(t).await.is_ok(),
        Work::File(t) => {
            let owner = ctx.folders.owner_of(&t.path).map(str::to_owned);
            lanes.push(owner, Item::File(t));
        }
        Work::Dir { path, known } => {
            if let Some(id) = known {
                ctx.folders.seed(&path, &id);
                let mut row = ReportRow::new(&path, Kind::Dir, 0, "").with(Action::SkippedDone);
                row.box_folder_id = id;
                row.as_user = ctx.folders.owner_of(&path).unwrap_or_default().to_string();
                let _ = ctx.events.send(Event::FileDone(row));
                return true;
            }
            let owner = ctx.folders.owner_of(&path).map(str::to_owned);
            lanes.push(owner, Item::Dir(path));
        }
    }
    true
}

async fn file(ctx: &Ctx, t: &FileTask) {
    let _ = ctx.events.send(Event::FileStarted {
        path: t.path.clone(),
        size: t.size,
    });
    let row = run_file(ctx, t).await;
    if row.error_code == JOB_STOPPED {
        // The job stopped before this file was sent: like a queued file of an interrupted
        // run, it is left for the re-run, not reported as a failure it is not.
        return;
    }
    // Retries are not counted here: the client's retry hook emits one `Retried` per retry.
    // Progress counts a file's bytes once it is finished, whether sent, found or given up,
    // so the bar ends at 100 % and the ETA follows finished work.
    let counted = t.parts_done.load(std::sync::atomic::Ordering::Relaxed);
    let _ = ctx.events.send(Event::BytesSent {
        bytes: row.size.saturating_sub(counted),
    });
    let _ = ctx.events.send(Event::FileDone(row));
}
