//! The ETA of a real run, the built binary against the emulator: 600 small files and 3 big
//! ones of 20–80 MB (sent in parts), from a cold start. Status events (`--log-format json`,
//! one a second) are timed as they arrive; the run's end is the process's exit. Within the
//! first 10 % of the run there is an ETA, and at 25/50/75 % it is within ±20 % of the time
//! that was actually left.
use std::time::Instant;

use serde_json::Value;

use super::*;

const SMALL: usize = 600;
const BIG: [u64; 3] = [21_000_000, 48_000_000, 75_000_000];

/// (seconds since spawn, ETA in seconds) of each status event, and the run's length.
fn timed_run(uploads_per_minute: u32) -> (Vec<(f64, Option<f64>)>, f64) {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..SMALL {
        let body = format!("small file {i}\n").repeat(1 + i % 40);
        t.file(format!("d{}/f{i}.txt", i % 12), body.as_bytes());
    }
    for (k, size) in BIG.iter().enumerate() {
        t.file_sized(format!("media/big-{k}.bin"), *size);
    }
    let work = tempfile::tempdir().unwrap();
    let pace = uploads_per_minute.to_string();
    let mut c = boxlift(
        &emu,
        &[
            "--log-format",
            "json",
            "migrate",
            t.root().to_str().unwrap(),
            "--dest",
            "0",
            "--report",
            work.path().join("report.csv").to_str().unwrap(),
            "--progress",
            "lines",
            "--status-interval",
            "1",
            "--uploads-per-minute",
            &pace,
            "--chunked-threshold",
            "20MB",
        ],
    );
    c.env("BOXLIFT_LOG", "warn,boxlift::status=info");
    let started = Instant::now();
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let mut readings = Vec::new();
    for line in BufReader::new(err).lines().map_while(Result::ok) {
        let at = started.elapsed().as_secs_f64();
        let Ok(v) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if v["fields"]["message"] == "status" {
            readings.push((at, v["fields"]["eta_s"].as_f64()));
        }
    }
    let status = child.wait().unwrap();
    let end = started.elapsed().as_secs_f64();
    assert_eq!(status.code(), Some(0));
    assert_eq!(report(work.path()).len(), SMALL + BIG.len() + 13);
    (readings, end)
}

/// Check the run against the acceptance; the figures, for the record.
fn check(uploads_per_minute: u32) -> Vec<String> {
    let (readings, end) = timed_run(uploads_per_minute);
    let first = readings.iter().find(|r| r.1.is_some()).map(|r| r.0);
    let mut figures = vec![format!(
        "{uploads_per_minute}/min: run {end:.1} s, first ETA at {first:?} s"
    )];
    assert!(
        first.is_some_and(|t| t <= 0.1 * end),
        "{figures:?} {readings:?}"
    );
    for share in [0.25, 0.5, 0.75] {
        let r = readings
            .iter()
            .find(|r| r.0 >= share * end)
            .unwrap_or_else(|| panic!("no status at {share}: {readings:?}"));
        let left = end - r.0;
        let eta = r.1.expect("an ETA");
        figures.push(format!(
            "at {:.0}% ({:.1} s): ETA {eta:.0} s, {left:.1} s left ({:+.0}%)",
            share * 100.0,
            r.0,
            (eta - left) / left * 100.0
        ));
        assert!(
            (eta - left).abs() <= 0.2 * left,
            "{figures:?}\n{readings:?}"
        );
    }
    eprintln!("{figures:#?}");
    figures
}

/// At 5× Box's pacing (20 uploads a second): a 30 s run.
#[test]
fn eta_is_honest_on_a_mixed_tree_from_a_cold_start() {
    check(1200);
}

/// At Box's own pacing (4 uploads a second): a 150 s run, so not in the default suite
/// (`cargo test --test tests eta_at_box_pacing -- --ignored`).
#[test]
#[ignore = "150 s at Box's pacing"]
fn eta_at_box_pacing_on_a_mixed_tree_from_a_cold_start() {
    check(240);
}
