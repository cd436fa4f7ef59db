//! Per-owner queues for the executor (`--map`): one lane per Box identity a file is bound to
//! (each `--map` owner; `None` is the unmapped part, leased across `--as-user` identities as
//! before). A lane holds its waiting work in memory up to [`MEM`] items and spills the rest,
//! in order, to a file of its own (JSON lines in the temp directory, deleted when the lane is
//! drained or dropped), so the executor can read the whole walk without waiting for any owner:
//! memory stays at about `lanes × MEM` tasks for 10M files, and no owner waits behind another's
//! backlog. Without `--map` the single lane never spills: when it is full the executor stops
//! reading, and the scan waits for the uploads as it always has.
use std::collections::{HashMap, VecDeque};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::plan::FileTask;
use crate::plan::kind::UploadKind;
use crate::state::DoneFile;

/// Waiting items a lane keeps in memory before it spills to disk.
pub const MEM: usize = 256;

/// Files of one `--map` owner in flight at once: its pacing (one budget per owner) lets a file
/// through every 1/rate s, and a few in flight hide each request's latency.
pub const OWNER_IN_FLIGHT: usize = 4;

/// One piece of waiting work.
#[derive(Debug)]
pub enum Item {
    /// A file (direct upload).
    File(Box<FileTask>),
    /// A directory to make.
    Dir(String),
}

/// An [`Item`] on disk.
#[derive(Serialize, Deserialize)]
struct Spilled {
    dir: bool,
    path: String,
    abs: PathBuf,
    size: u64,
    sha1: String,
    modified: Option<i64>,
    upload: UploadKind,
    prior: Option<DoneFile>,
    resume_session: Option<String>,
    stale_session: Option<String>,
    folder_hint: Option<String>,
    as_user: Option<String>,
}

impl Spilled {
    fn of(item: &Item) -> Spilled {
        let dir = |p: &str| Spilled {
            dir: true,
            path: p.to_string(),
            abs: PathBuf::new(),
            size: 0,
            sha1: String::new(),
            modified: None,
            upload: UploadKind::Direct,
            prior: None,
            resume_session: None,
            stale_session: None,
            folder_hint: None,
            as_user: None,
        };
        match item {
            Item::Dir(p) => dir(p),
            Item::File(t) => Spilled {
                dir: false,
                path: t.path.clone(),
                abs: t.abs.clone(),
                size: t.size,
                sha1: t.sha1.clone(),
                modified: t.modified.and_then(|m| m.timestamp_nanos_opt()),
                upload: t.upload,
                prior: t.prior.clone(),
                resume_session: t.resume_session.clone(),
                stale_session: t.stale_session.clone(),
                folder_hint: t.folder_hint.clone(),
                as_user: t.as_user.clone(),
            },
        }
    }

    fn item(self) -> Item {
        if self.dir {
            return Item::Dir(self.path);
        }
        Item::File(Box::new(FileTask {
            path: self.path,
            abs: self.abs,
            size: self.size,
            sha1: self.sha1,
            modified: self.modified.map(DateTime::<Utc>::from_timestamp_nanos),
            upload: self.upload,
            prior: self.prior,
            resume_session: self.resume_session,
            stale_session: self.stale_session,
            folder_hint: self.folder_hint,
            as_user: self.as_user,
            parts_done: Default::default(),
        }))
    }
}

/// A lane's spill file: written at the end, read from the front.
#[derive(Debug)]
struct Spill {
    path: PathBuf,
    writer: BufWriter<File>,
    reader: BufReader<File>,
    unread: usize,
}

impl Spill {
    fn create(path: PathBuf) -> std::io::Result<Spill> {
        let writer = BufWriter::new(File::create(&path)?);
        let reader = BufReader::new(File::open(&path)?);
        Ok(Spill {
            path,
            writer,
            reader,
            unread: 0,
        })
    }

    fn push(&mut self, item: &Item) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.writer, &Spilled::of(item))?;
        self.writer.write_all(b"\n")?;
        self.unread += 1;
        Ok(())
    }

    /// Up to `n` items from the front.
    fn take(&mut self, n: usize, out: &mut VecDeque<Item>) -> std::io::Result<()> {
        self.writer.flush()?;
        let mut line = String::new();
        while out.len() < n && self.unread > 0 {
            line.clear();
            if self.reader.read_line(&mut line)? == 0 {
                return Err(std::io::Error::other("spill file ended early"));
            }
            self.unread -= 1;
            let s: Spilled = serde_json::from_str(&line).map_err(std::io::Error::other)?;
            out.push_back(s.item());
        }
        Ok(())
    }
}

impl Drop for Spill {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// One identity's waiting work and its files in flight.
#[derive(Debug)]
struct Lane {
    mem: VecDeque<Item>,
    spill: Option<Spill>,
    in_flight: Arc<AtomicUsize>,
    cap: usize,
}

impl Lane {
    fn pending(&self) -> usize {
        self.mem.len() + self.spill.as_ref().map_or(0, |s| s.unread)
    }
}

/// A slot a running item holds: dropping it (the item finished, or its task panicked) frees it.
#[derive(Debug)]
pub struct Slot(Arc<AtomicUsize>, Arc<AtomicUsize>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
        self.1.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Every lane, and the executor's overall cap (`--concurrency`).
#[derive(Debug)]
pub struct Lanes {
    lanes: HashMap<Option<String>, Lane>,
    /// Lanes in the order first seen (ties go to the earlier).
    order: Vec<Option<String>>,
    in_flight: Arc<AtomicUsize>,
    cap: usize,
    spill: bool,
    spilled: usize,
}

impl Lanes {
    /// Lanes sharing `cap` slots; `spill`: lanes go to disk past [`MEM`] items (a `--map` run).
    pub fn new(cap: usize, spill: bool) -> Lanes {
        Lanes {
            lanes: HashMap::new(),
            order: Vec::new(),
            in_flight: Arc::default(),
            cap: cap.max(1),
            spill,
            spilled: 0,
        }
    }

    /// May the executor read more work? Always in a spilling run (`--map`: no owner may wait
    /// behind another's backlog); else only when nothing waits, as a plain run reads the next
    /// file once a slot is free: the walk, the chunked queue and the ETA's view of started work
    /// keep the pace they have without owners.
    pub fn has_room(&self) -> bool {
        self.spill || self.pending() == 0
    }

    /// Items waiting (not started) in every lane.
    pub fn pending(&self) -> usize {
        self.lanes.values().map(Lane::pending).sum()
    }

    /// Queue `item` in `owner`'s lane (`None`: the unmapped part).
    pub fn push(&mut self, owner: Option<String>, item: Item) {
        let spill = self.spill;
        let n = self.spilled;
        let lane = self.lanes.entry(owner.clone()).or_insert_with(|| {
            self.order.push(owner.clone());
            Lane {
                mem: VecDeque::new(),
                spill: None,
                in_flight: Arc::default(),
                cap: if owner.is_some() {
                    OWNER_IN_FLIGHT
                } else {
                    usize::MAX
                },
            }
        });
        if !spill || (lane.spill.is_none() && lane.mem.len() < MEM) {
            lane.mem.push_back(item);
            return;
        }
        if lane.spill.is_none() {
            let path = std::env::temp_dir().join(format!(
                "boxlift-lane-{}-{n}-{}.jsonl",
                std::process::id(),
                rand::random::<u32>()
            ));
            match Spill::create(path) {
                Ok(s) => {
                    lane.spill = Some(s);
                    self.spilled += 1;
                }
                Err(e) => {
                    tracing::warn!("cannot spill waiting files to disk ({e}): kept in memory")
                }
            }
        }
        let res = match &mut lane.spill {
            Some(s) => s.push(&item),
            None => Err(std::io::Error::other("no spill file")),
        };
        if res.is_err() {
            // Kept in memory after the spilled ones' turn would reorder them; order is not
            // needed for correctness, only for the walk's locality.
            lane.mem.push_back(item);
        }
    }

    /// The next item to start and the slot it holds, if a slot is free: among lanes with work
    /// and room under their own cap, the one with the fewest in flight, then the most waiting
    /// (the big owners start first), then the first seen.
    pub fn start_next(&mut self) -> Option<(Item, Slot)> {
        if self.in_flight.load(Ordering::Relaxed) >= self.cap {
            return None;
        }
        let mut best: Option<(usize, usize, &Option<String>)> = None;
        for key in &self.order {
            let lane = &self.lanes[key];
            let (busy, waiting) = (lane.in_flight.load(Ordering::Relaxed), lane.pending());
            if waiting == 0 || busy >= lane.cap {
                continue;
            }
            if best.is_none_or(|(b, w, _)| busy < b || (busy == b && waiting > w)) {
                best = Some((busy, waiting, key));
            }
        }
        let key = best?.2.clone();
        let lane = self.lanes.get_mut(&key)?;
        if lane.mem.is_empty()
            && let Some(s) = &mut lane.spill
            && let Err(e) = s.take(MEM, &mut lane.mem)
        {
            tracing::warn!("cannot read back waiting files ({e}): a re-run sends them");
            lane.spill = None;
        }
        if lane.spill.as_ref().is_some_and(|s| s.unread == 0) {
            lane.spill = None;
        }
        let item = lane.mem.pop_front()?;
        lane.in_flight.fetch_add(1, Ordering::Relaxed);
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        Some((item, Slot(lane.in_flight.clone(), self.in_flight.clone())))
    }

    /// Drop every waiting item (the run was cancelled: a re-run sends them).
    pub fn clear(&mut self) {
        for lane in self.lanes.values_mut() {
            lane.mem.clear();
            lane.spill = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(path: &str, owner: &str) -> Item {
        Item::File(Box::new(FileTask {
            path: path.into(),
            abs: PathBuf::from("/x").join(path),
            size: 3,
            sha1: "abc".into(),
            modified: Some(DateTime::<Utc>::from_timestamp_nanos(
                1_700_000_000_123_456_789,
            )),
            upload: UploadKind::Direct,
            prior: None,
            resume_session: None,
            stale_session: None,
            folder_hint: Some("9".into()),
            as_user: Some(owner.into()),
            parts_done: Default::default(),
        }))
    }

    fn path(i: &Item) -> &str {
        match i {
            Item::File(t) => &t.path,
            Item::Dir(p) => p,
        }
    }

    #[test]
    fn a_big_owner_first_and_every_owner_busy_before_any_gets_two() {
        let mut l = Lanes::new(8, true);
        for i in 0..3 {
            l.push(Some("a".into()), task(&format!("a/{i}"), "a"));
        }
        for i in 0..10 {
            l.push(Some("b".into()), task(&format!("b/{i}"), "b"));
        }
        l.push(Some("c".into()), task("c/0", "c"));
        let mut started = Vec::new();
        let mut slots = Vec::new();
        while let Some((item, slot)) = l.start_next() {
            started.push(path(&item).to_string());
            slots.push(slot);
        }
        // b (10 waiting) first, then a, then c; then second rounds; b stops at its cap.
        assert_eq!(
            started,
            ["b/0", "a/0", "c/0", "b/1", "a/1", "b/2", "a/2", "b/3"]
        );
        assert_eq!(l.start_next().map(|_| ()), None, "8 slots in use");
        drop(slots.remove(6)); // a/2 finishes: a slot is free, but only b has work
        assert!(
            l.start_next().is_none(),
            "b is at its own cap of {OWNER_IN_FLIGHT}"
        );
        drop(slots.remove(0)); // b/0 finishes
        assert_eq!(path(&l.start_next().unwrap().0), "b/4");
    }

    #[test]
    fn lanes_spill_past_memory_and_come_back_in_order() {
        let mut l = Lanes::new(1, true);
        let n = MEM * 2 + 7;
        for i in 0..n {
            l.push(Some("a".into()), task(&format!("a/{i}"), "a"));
        }
        l.push(Some("a".into()), Item::Dir("a/d".into()));
        assert_eq!(l.pending(), n + 1);
        assert!(l.lanes[&Some("a".to_string())].mem.len() <= MEM);
        for i in 0..n {
            let (item, slot) = l.start_next().unwrap();
            let Item::File(t) = item else {
                panic!("a file")
            };
            assert_eq!(t.path, format!("a/{i}"));
            assert_eq!(t.modified.unwrap().timestamp_subsec_nanos(), 123_456_789);
            assert_eq!(t.folder_hint.as_deref(), Some("9"));
            drop(slot);
        }
        assert!(matches!(l.start_next().unwrap().0, Item::Dir(d) if d == "a/d"));
        assert_eq!(l.pending(), 0);
        assert!(
            l.lanes[&Some("a".to_string())].spill.is_none(),
            "drained: deleted"
        );
    }

    #[test]
    fn without_spill_one_waiting_item_stops_reading_until_it_starts() {
        let mut l = Lanes::new(1, false);
        assert!(l.has_room());
        l.push(None, task("x/0", "a"));
        let (_, slot) = l.start_next().unwrap();
        assert!(l.has_room(), "nothing waits: read the next");
        l.push(None, task("x/1", "a"));
        assert!(!l.has_room(), "one waits for a slot: stop reading");
        assert!(l.start_next().is_none(), "the one slot is taken");
        drop(slot);
        let _ = l.start_next().unwrap();
        assert!(l.has_room());
    }
}
