//! Issue 14's acceptance, measured: boxlift at Box's ceiling against a rate-limited emulator
//! (per-user buckets, as Box's limits are per user; each bucket holds one second's worth, so
//! bursts are small).
//!
//! 1. **Identities.** Box's documented limits per user (16.67 calls/s, 4 uploads/s): 4
//!    `--as-user` identities upload CEILING_FILES (2,000) small files in 8 folders; bound =
//!    files ÷ 16 files/s, goal ≤ 1.05 × bound with < 1 % 429s.
//! 2. **Shards.** The same tree as CEILING_SHARDS (16) `--shard K/16` processes, at most
//!    CEILING_AT_ONCE (4) alive at once (an Indexed Job's completions and parallelism: the next
//!    starts when one exits), `--rate-share 4`, sharing the 4 identities; goal ≤ 1.10 × bound.
//! 3. **Probe.** A server allowing 3 × Box's documented call rate (50 calls/s): every request
//!    counts against it, and each file's upload is one call (as each part of a big file is), so
//!    the figure is calls/s the server allowed. `--pace probe` goal ≥ 90 % of 50/s with < 2 %
//!    429s (measured after its ramp: the last 60 % of the run); the default (`--pace fixed`)
//!    goal ≥ 97 % of the documented 16.67/s. Then CEILING_BIG_FILES (2) big files of
//!    CEILING_BIG_MB (256) MiB with `--pace probe` against the same limit: MB/s and part
//!    calls/s, to show whether this machine can move 50 × 8 MiB parts per second.
//! 4. Peak RSS of every boxlift process (wait4's rusage per child), goal ≤ 300 MB.
//!
//! `cargo bench --bench ceiling` (about 7 minutes). Quick check:
//! `CEILING_FILES=400 CEILING_PROBE_FILES=600 CEILING_BIG_FILES=0 cargo bench --bench ceiling`.
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};

mod common;
use common::env_u64;

/// Box's documented limits, per second.
const BOX_CALLS: f64 = 1000.0 / 60.0;
const BOX_UPLOADS: f64 = 240.0 / 60.0;
const IDENTITIES: &str = "11,12,13,14";

fn emulator(calls: f64, uploads: Option<f64>) -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        rate_limit: Some(calls),
        upload_rate_limit: uploads,
        discard: true,
        ..EmulatorConfig::default()
    })
    .expect("start the emulator")
}

fn spawn(emu: &EmulatorHandle, src: &Path, work: &Path, extra: &[&str]) -> Child {
    fs::create_dir_all(work).unwrap();
    let log = fs::File::create(work.join("out.txt")).unwrap();
    let err = fs::File::create(work.join("err.txt")).unwrap();
    Command::new(env!("CARGO_BIN_EXE_boxlift"))
        .args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--progress", "none"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .args(extra)
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env_remove("BOXLIFT_SHARD")
        .env_remove("BOXLIFT_RATE_SHARE")
        .env("BOXLIFT_LOG", "warn")
        .stdout(log)
        .stderr(err)
        .spawn()
        .expect("run boxlift")
}

/// Reap any one child: (pid, its own peak RSS in bytes). Panics if it failed.
fn reap_any(works: &HashMap<u32, PathBuf>) -> (u32, u64) {
    let mut status = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: -1 waits for any of our children; status and ru point to live locals.
    let pid = unsafe { libc::wait4(-1, &mut status, 0, &mut ru) };
    assert!(pid > 0, "wait4 failed");
    let pid = pid as u32;
    if !(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0) {
        let w = &works[&pid];
        eprintln!(
            "{}\n{}",
            fs::read_to_string(w.join("err.txt")).unwrap_or_default(),
            fs::read_to_string(w.join("out.txt")).unwrap_or_default()
        );
        panic!("boxlift migrate failed: status {status}");
    }
    (pid, ru.ru_maxrss as u64 * 1024)
}

/// Run `jobs` migrations, at most `at_once` alive (the next starts as soon as one exits).
/// Returns (seconds, largest peak RSS).
fn run_jobs(
    emu: &EmulatorHandle,
    src: &Path,
    work: &Path,
    jobs: &[Vec<String>],
    at_once: usize,
) -> (f64, u64) {
    let started = Instant::now();
    let mut works = HashMap::new();
    let (mut next, mut alive, mut rss) = (0, 0, 0);
    while next < jobs.len() || alive > 0 {
        while alive < at_once && next < jobs.len() {
            let w = work.join(format!("job-{next}"));
            let args: Vec<&str> = jobs[next].iter().map(String::as_str).collect();
            let child = spawn(emu, src, &w, &args);
            works.insert(child.id(), w);
            // Reaped by wait4 in reap_any, not through `Child`.
            std::mem::forget(child);
            next += 1;
            alive += 1;
        }
        let (_, r) = reap_any(&works);
        rss = rss.max(r);
        alive -= 1;
    }
    (started.elapsed().as_secs_f64(), rss)
}

/// Sample the emulator's (seconds, requests answered, 429s) every 250 ms until `stop`.
fn sample(emu: &EmulatorHandle, stop: &AtomicBool) -> Vec<(f64, u64, u64)> {
    let t0 = Instant::now();
    let mut out = Vec::new();
    loop {
        let done = stop.load(Ordering::Relaxed);
        let c = emu.state().counters;
        out.push((
            t0.elapsed().as_secs_f64(),
            c.total_requests(),
            c.rate_limited,
        ));
        if done {
            return out;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Over the last `share` of the samples' span: (calls/s allowed — answered and not 429 —,
/// 429s, requests).
fn steady(s: &[(f64, u64, u64)], share: f64) -> (f64, u64, u64) {
    let (end, req_end, lim_end) = *s.last().unwrap();
    let from = end * (1.0 - share);
    let (t0, req0, lim0) = *s.iter().find(|x| x.0 >= from).unwrap();
    let (requests, limited) = (req_end - req0, lim_end - lim0);
    (
        (requests - limited) as f64 / (end - t0).max(1e-3),
        limited,
        requests,
    )
}

/// [`run_jobs`] of one job while sampling the emulator: (seconds, peak RSS, samples).
fn run_sampled(
    emu: &EmulatorHandle,
    src: &Path,
    work: &Path,
    job: Vec<String>,
) -> (f64, u64, Vec<(f64, u64, u64)>) {
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        let sampler = s.spawn(|| sample(emu, &stop));
        let (secs, rss) = run_jobs(emu, src, work, &[job], 1);
        stop.store(true, Ordering::Relaxed);
        (secs, rss, sampler.join().unwrap())
    })
}

fn small_tree(root: &Path, files: u64, folders: u64) {
    for i in 0..files {
        let dir = root.join(format!("d{}", i % folders));
        if i < folders {
            fs::create_dir_all(&dir).unwrap();
        }
        fs::write(
            dir.join(format!("f{i:05}.txt")),
            format!("file {i}\n").repeat(1 + (i % 50) as usize),
        )
        .unwrap();
    }
}

fn pct(a: u64, b: u64) -> f64 {
    100.0 * a as f64 / (b.max(1)) as f64
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let files = env_u64("CEILING_FILES", 2_000);
    let shards = env_u64("CEILING_SHARDS", 16);
    let at_once = env_u64("CEILING_AT_ONCE", 4) as usize;
    let probe_files = env_u64("CEILING_PROBE_FILES", 4_000);
    let big_files = env_u64("CEILING_BIG_FILES", 2);
    let big_mb = env_u64("CEILING_BIG_MB", 256);
    let tmp = tempfile::tempdir().unwrap();
    let small = tmp.path().join("small");
    small_tree(&small, files, 8);
    let bound = files as f64 / (4.0 * BOX_UPLOADS);
    let mut peak = 0u64;

    // 1. Four identities, one process, Box's default rates.
    let emu = emulator(BOX_CALLS, Some(BOX_UPLOADS));
    let job = vec!["--as-user".to_string(), IDENTITIES.to_string()];
    let (secs, rss) = run_jobs(&emu, &small, &tmp.path().join("one"), &[job], 1);
    let c = emu.state().counters;
    peak = peak.max(rss);
    println!(
        "identities: 4 x As-User, {files} files in {secs:.1} s = {:.2} files/s; bound {bound:.1} s \
         -> {:.3} x bound (goal <= 1.05); {} x 429 in {} requests ({:.2} %, goal < 1 %); peak RSS {:.0} MB",
        files as f64 / secs,
        secs / bound,
        c.rate_limited,
        c.total_requests(),
        pct(c.rate_limited, c.total_requests()),
        rss as f64 / 1e6
    );
    drop(emu);

    // 2. Shards, a few at a time, sharing the identities.
    let emu = emulator(BOX_CALLS, Some(BOX_UPLOADS));
    let jobs: Vec<Vec<String>> = (0..shards)
        .map(|k| {
            vec![
                "--as-user".into(),
                IDENTITIES.into(),
                "--shard".into(),
                format!("{k}/{shards}"),
                "--rate-share".into(),
                at_once.to_string(),
            ]
        })
        .collect();
    let (secs, rss) = run_jobs(&emu, &small, &tmp.path().join("shards"), &jobs, at_once);
    let c = emu.state().counters;
    peak = peak.max(rss);
    assert_eq!(c.files_created, files, "every file once");
    println!(
        "shards: {shards} x --shard K/{shards}, {at_once} at once, --rate-share {at_once}: {files} files in \
         {secs:.1} s = {:.2} files/s -> {:.3} x bound (goal <= 1.10); {} x 429 in {} requests ({:.2} %); \
         peak RSS {:.0} MB per process",
        files as f64 / secs,
        secs / bound,
        c.rate_limited,
        c.total_requests(),
        pct(c.rate_limited, c.total_requests()),
        rss as f64 / 1e6
    );
    drop(emu);

    // 3. Probe: the server allows 3 x Box's call rate; uploads are not the limit.
    let limit = 3.0 * BOX_CALLS;
    let flat = tmp.path().join("flat");
    small_tree(&flat, probe_files, 1);
    let unlimited_uploads = ["--uploads-per-minute".to_string(), "1000000".into()];
    for (mode, n) in [("probe", probe_files), ("fixed", probe_files / 4)] {
        let emu = emulator(limit, None);
        let src = if n == probe_files {
            flat.clone()
        } else {
            let p = tmp.path().join("flat-fixed");
            small_tree(&p, n, 1);
            p
        };
        let mut job = unlimited_uploads.to_vec();
        job.extend(["--pace".into(), mode.into()]);
        let (secs, rss, samples) = run_sampled(&emu, &src, &tmp.path().join(mode), job);
        let (steady, lim, req) = steady(&samples, 0.6);
        let c = emu.state().counters;
        peak = peak.max(rss);
        let (target, goal) = if mode == "probe" {
            (limit, "goal >= 90 % of the server's 50/s")
        } else {
            (BOX_CALLS, "goal >= 97 % of the documented 16.67/s")
        };
        println!(
            "pace {mode}: {n} uploads in {secs:.1} s; last 60 %: {steady:.2} calls/s allowed = {:.1} % \
             ({goal}), {lim} x 429 in {req} requests ({:.2} %); whole run {} x 429 in {} ({:.2} %); \
             peak RSS {:.0} MB",
            100.0 * steady / target,
            pct(lim, req),
            c.rate_limited,
            c.total_requests(),
            pct(c.rate_limited, c.total_requests()),
            rss as f64 / 1e6
        );
    }

    // Big files with --pace probe against the same limit: can this machine move the parts?
    if big_files > 0 {
        let big = tmp.path().join("big");
        common::big_files(&big, big_files, big_mb << 20);
        let emu = emulator(limit, None);
        let job = vec!["--pace".to_string(), "probe".into()];
        let (secs, rss, samples) = run_sampled(&emu, &big, &tmp.path().join("big-probe"), job);
        let (steady, lim, req) = steady(&samples, 0.6);
        let c = emu.state().counters;
        peak = peak.max(rss);
        println!(
            "pace probe, big files: {big_files} x {big_mb} MiB in {secs:.1} s = {:.0} MB/s, {} parts; \
             last 60 %: {steady:.2} calls/s allowed ({lim} x 429 in {req}); the server's limit \
             ({limit:.1}/s) x 8 MiB would be {:.0} MB/s; peak RSS {:.0} MB",
            (big_files * (big_mb << 20)) as f64 / 1e6 / secs,
            c.parts_received,
            limit * 8.0 * 1.048576,
            rss as f64 / 1e6
        );
    }
    println!(
        "boxlift peak RSS over every process: {:.0} MB (goal <= 300 MB)",
        peak as f64 / 1e6
    );
}
