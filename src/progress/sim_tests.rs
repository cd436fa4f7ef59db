//! The ETA against a run at Box's pacing, on a clock of the test's own: 600 small files paced
//! at 4 uploads a second and 3 big files (20–80 MB) sent in 8 MiB parts at a fixed
//! bandwidth, from a cold start (the counting pass gives the totals while the scan is
//! still hashing). The schedule is the executor's: small files one pacer permit each, big
//! files one at a time in parts, both at once.
use std::time::Duration;

use super::eta::EtaLimits;
use super::*;
use crate::model::ReportRow;

const SMALL: u64 = 600;
const SMALL_SIZE: u64 = 40_000;
const BIG: [u64; 3] = [21_000_000, 48_000_000, 75_000_000];
const PART: u64 = 8 * 1024 * 1024;
const THRESHOLD: u64 = 20_000_000;

/// Events of one run, timed: `bandwidth` bytes a second for big files.
fn schedule(bandwidth: f64) -> Vec<(f64, Event)> {
    let mut ev = Vec::new();
    let big_bytes: u64 = BIG.iter().sum();
    ev.push((
        0.05,
        Event::Expected {
            files: SMALL + BIG.len() as u64,
            bytes: SMALL * SMALL_SIZE + big_bytes,
            big_files: BIG.len() as u64,
            big_bytes,
        },
    ));
    // The scan hashes small files quickly and each big one for a while.
    let mut t = 0.1;
    let mut big_ready = Vec::new();
    for i in 0..SMALL {
        t += 0.002;
        ev.push((t, planned(SMALL_SIZE)));
        if i % 200 == 199 {
            let size = BIG[(i / 200) as usize];
            t += size as f64 / 400e6;
            ev.push((t, planned(size)));
            big_ready.push((t, size));
        }
    }
    ev.push((t, Event::ScanFinished));
    // Small files: one upload permit each at 4 a second, 0.15 s on the wire.
    for i in 0..SMALL {
        let start = 0.12 + i as f64 / 4.0;
        let path = format!("small/{i}");
        ev.push((start, started(&path, SMALL_SIZE)));
        ev.push((start + 0.15, Event::BytesSent { bytes: SMALL_SIZE }));
        ev.push((start + 0.15, done(&path, SMALL_SIZE)));
    }
    // Big files: one at a time, parts at the bandwidth.
    let mut free = 0.0f64;
    for (k, (ready, size)) in big_ready.into_iter().enumerate() {
        let path = format!("big/{k}");
        let mut t = free.max(ready);
        ev.push((t, started(&path, size)));
        let mut left = size;
        while left > 0 {
            let part = left.min(PART);
            t += part as f64 / bandwidth;
            ev.push((t, Event::BytesSent { bytes: part }));
            left -= part;
        }
        t += 0.5; // commit
        ev.push((t, Event::BytesSent { bytes: 0 }));
        ev.push((t, done(&path, size)));
        free = t;
    }
    ev.sort_by(|a, b| a.0.total_cmp(&b.0));
    ev
}

fn planned(bytes: u64) -> Event {
    Event::Planned {
        bytes,
        kind: Kind::File,
    }
}

fn started(path: &str, size: u64) -> Event {
    Event::FileStarted {
        path: path.to_string(),
        size,
    }
}

fn done(path: &str, size: u64) -> Event {
    Event::FileDone(ReportRow::new(path, Kind::File, size, "x").with(Action::Uploaded))
}

/// Feed the run; read the status every 0.5 s: (time, ETA, share done), and the run's end.
fn run(events: &[(f64, Event)]) -> (Vec<(f64, Option<u64>, f64)>, f64) {
    let p = Progress::start(
        ShowProgress::None,
        Duration::from_secs(10),
        LogFormat::Text,
        Some(4.0),
    );
    p.set_limits(EtaLimits {
        files_per_s: Some(4.0),
        calls_per_s: Some(1000.0 / 60.0),
        bytes_per_s: None,
        part_size: PART,
        big_from: THRESHOLD + 1,
    });
    let end = events.last().map_or(0.0, |e| e.0);
    let mut readings = Vec::new();
    let mut next = 0.0;
    for (t, e) in events {
        while next < *t {
            let s = Status::read(p.counters(), Duration::from_secs_f64(next));
            readings.push((next, s.eta_s, s.fraction));
            next += 0.5;
        }
        p.on_event_at(e, *t);
    }
    (readings, end)
}

/// The acceptance: an ETA within the first 10 % of the run, and at 25/50/75 % one within
/// ±20 % of the time actually left; the share done never goes back.
fn check(bandwidth: f64) -> Vec<String> {
    let (readings, end) = run(&schedule(bandwidth));
    let first = readings.iter().find(|r| r.1.is_some()).map(|r| r.0);
    assert!(
        first.is_some_and(|t| t <= 0.1 * end),
        "first ETA at {first:?} of a {end:.0} s run"
    );
    let mut figures = vec![format!(
        "run {end:.1} s, first ETA at {:.1} s",
        first.unwrap_or(0.0)
    )];
    for share in [0.25, 0.5, 0.75] {
        let at = share * end;
        let r = readings
            .iter()
            .find(|r| r.0 >= at)
            .expect("a reading at that time");
        let left = end - r.0;
        let eta = r.1.expect("an ETA") as f64;
        figures.push(format!(
            "at {:.0}%: ETA {eta:.0} s, {left:.1} s left",
            share * 100.0
        ));
        assert!(
            (eta - left).abs() <= 0.2 * left,
            "at {:.0} s: ETA {eta} s with {left:.1} s left ({figures:?})",
            r.0
        );
    }
    for w in readings.windows(2) {
        assert!(w[1].2 >= w[0].2, "the share done went back: {w:?}");
    }
    figures
}

#[test]
fn eta_holds_at_box_pacing_when_small_files_bind() {
    // 50 MB/s: the big files take 3 s, the 600 small ones 150 s.
    let figures = check(50e6);
    eprintln!("small files bind: {figures:?}");
}

#[test]
fn eta_holds_at_box_pacing_when_big_files_bind() {
    // 0.5 MB/s: the big files take ~290 s, longer than the small ones' 150 s.
    let figures = check(0.5e6);
    eprintln!("big files bind: {figures:?}");
}
