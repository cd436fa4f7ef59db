//! The reorder window between the walk, the hashing threads and the sink: a fixed number of
//! permits (sequence numbers) bounds the rows in flight, finished rows wait in their slots until
//! every earlier row has left, and waiting hash jobs are ordered big files first.
//!
//! Split out of `scan/mod.rs`, which keeps the pipeline that drives it (`scan()`).
use std::collections::{BinaryHeap, VecDeque};
use std::path::PathBuf;
use std::sync::{Condvar, Mutex, MutexGuard};

use super::{Progress, hash_row};
use crate::hash::Stamp;
use crate::manifest::ManifestRow;

/// Files at least this big are hashed before smaller ones waiting in the window (in walk
/// order among themselves); smaller ones keep walk order, so rows keep flowing to the sink.
///
/// One file's SHA-1 is sequential, so a big file that starts last finishes last: with the
/// pool's FIFO queue, a 2 GiB file walked after 20,000 files of 64 KiB started only once all
/// of those had been taken, and on 2 cores the scan took small/2 + big instead of
/// max(big, all/2).
pub(super) const BIG_FIRST: u64 = 16 * 1024 * 1024;

/// A file waiting for a hashing thread.
pub(super) struct HashJob {
    pub(super) seq: u64,
    pub(super) row: ManifestRow,
    pub(super) path: PathBuf,
    pub(super) stamp: Stamp,
}

impl HashJob {
    /// Greater is hashed sooner: big files first, then walk order.
    pub(super) fn priority(&self) -> (bool, std::cmp::Reverse<u64>) {
        (self.stamp.size >= BIG_FIRST, std::cmp::Reverse(self.seq))
    }
}

impl PartialEq for HashJob {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
    }
}
impl Eq for HashJob {}
impl PartialOrd for HashJob {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for HashJob {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.priority().cmp(&other.priority())
    }
}

/// What the walk, the hashing threads and the sink share: the row window with its reorder
/// slots, and the hash jobs not yet started.
///
/// The walk takes a sequence number (a permit) per row; a finished row goes into its slot; the
/// sink takes the rows ready at the head, in order, and gives their permits back once it has
/// handed them on. A hashing thread finishing a row that is not at the head wakes nobody; only
/// the row the sink waits for does (a channel message per hashed row, each waking the sink,
/// cost about 5% of a scan's CPU in futex calls).
pub(super) struct Shared {
    order: Mutex<Order>,
    /// The walk waits here for permits.
    space: Condvar,
    /// The sink waits here for the head row.
    ready: Condvar,
    jobs: Mutex<BinaryHeap<HashJob>>,
    window: u64,
}

struct Order {
    /// Rows `next .. issued`, `None` until finished; `true` beside a row a hashing thread read.
    slots: VecDeque<Option<(ManifestRow, bool)>>,
    /// Sequence number of `slots[0]`: the next row the sink takes.
    next: u64,
    /// Sequence number of the next row the walk issues.
    issued: u64,
    /// Rows the sink has handed on (their permits are free again).
    released: u64,
    /// The sink failed: the walk stops and waiting hash jobs are dropped.
    closed: bool,
    /// The walk has ended: `Some(true)` normally, `Some(false)` if it panicked (then rows it
    /// held never come).
    walk_done: Option<bool>,
    walk_waiting: bool,
    sink_waiting: bool,
}

impl Shared {
    pub(super) fn new(window: usize) -> Self {
        Shared {
            order: Mutex::new(Order {
                slots: VecDeque::new(),
                next: 0,
                issued: 0,
                released: 0,
                closed: false,
                walk_done: None,
                walk_waiting: false,
                sink_waiting: false,
            }),
            space: Condvar::new(),
            ready: Condvar::new(),
            jobs: Mutex::new(BinaryHeap::new()),
            window: window as u64,
        }
    }

    fn order(&self) -> MutexGuard<'_, Order> {
        self.order.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn issue(o: &mut Order) -> u64 {
        o.slots.push_back(None);
        o.issued += 1;
        o.issued - 1
    }

    /// A sequence number for the next row, if a permit is free now.
    pub(super) fn try_acquire(&self) -> Option<u64> {
        let mut o = self.order();
        (o.issued - o.released < self.window && !o.closed).then(|| Self::issue(&mut o))
    }

    /// Wait for a permit; `None` when the sink failed.
    pub(super) fn acquire(&self) -> Option<u64> {
        let mut o = self.order();
        while o.issued - o.released >= self.window && !o.closed {
            o.walk_waiting = true;
            o = self.space.wait(o).unwrap_or_else(|e| e.into_inner());
        }
        o.walk_waiting = false;
        (!o.closed).then(|| Self::issue(&mut o))
    }

    /// Put finished rows into their slots (draining `rows`).
    pub(super) fn put_many(&self, rows: &mut Vec<(u64, ManifestRow)>) {
        if rows.is_empty() {
            return;
        }
        let mut o = self.order();
        let mut head = false;
        for (seq, row) in rows.drain(..) {
            head |= seq == o.next;
            let i = (seq - o.next) as usize;
            o.slots[i] = Some((row, false));
        }
        if head && o.sink_waiting {
            self.ready.notify_one();
        }
    }

    fn put_hashed(&self, seq: u64, row: ManifestRow) {
        let mut o = self.order();
        let i = (seq - o.next) as usize;
        o.slots[i] = Some((row, true));
        if i == 0 && o.sink_waiting {
            self.ready.notify_one();
        }
    }

    /// Move the rows ready at the head into `out` (each with `true` if a hashing thread read
    /// its file), waiting for at least one; false when none will ever come (the walk ended and
    /// every row it issued was taken, or it panicked).
    pub(super) fn take_ready(&self, out: &mut Vec<(ManifestRow, bool)>) -> bool {
        let mut o = self.order();
        loop {
            while let Some(Some(_)) = o.slots.front() {
                if let Some(Some(row)) = o.slots.pop_front() {
                    out.push(row);
                }
                o.next += 1;
            }
            if !out.is_empty() {
                o.sink_waiting = false;
                return true;
            }
            match o.walk_done {
                Some(false) => return false,
                Some(true) if o.next == o.issued => return false,
                _ => {}
            }
            o.sink_waiting = true;
            o = self.ready.wait(o).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// The sink handed on `n` rows: their permits are free.
    pub(super) fn release(&self, n: usize) {
        let mut o = self.order();
        o.released += n as u64;
        if o.walk_waiting {
            self.space.notify_one();
        }
    }

    /// The sink failed: stop the walk and drop the hash jobs not yet started.
    pub(super) fn close(&self) {
        self.order().closed = true;
        self.space.notify_all();
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    pub(super) fn push_job(&self, job: HashJob) {
        self.jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(job);
    }

    /// Hash the most urgent waiting file. One pool task is spawned per job pushed, so every
    /// job is run by some task, though not necessarily by the one spawned with it.
    pub(super) fn run_one(&self, progress: Option<&Progress>) {
        let job = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(job) = job {
            let row = hash_row(job.row, &job.path, job.stamp, progress);
            self.put_hashed(job.seq, row);
        }
    }
}

/// Tells the sink that the walk has ended, when the walk thread's closure returns or unwinds.
pub(super) struct WalkEnd<'a>(pub(super) &'a Shared);

impl Drop for WalkEnd<'_> {
    fn drop(&mut self) {
        self.0.order().walk_done = Some(!std::thread::panicking());
        self.0.ready.notify_all();
    }
}
