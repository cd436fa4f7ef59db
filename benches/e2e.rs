//! End-to-end throughput of `boxlift migrate` (the release binary, as a child process) into the
//! in-process emulator in discard mode with no rate limit: small files per second, big-file
//! MB/s, requests, and the boxlift process's peak memory (getrusage maxrss of the child).
//!
//! `cargo bench --bench e2e`. Sizes (env): BOXLIFT_BENCH_SMALL_FILES (10000),
//! BOXLIFT_BENCH_SMALL_SIZE (16384), BOXLIFT_BENCH_BIG_FILES (4), BOXLIFT_BENCH_BIG_SIZE
//! (536870912). Goals on a 2-core machine: ≥ 1,500 small files/s, ≥ 400 MB/s on big files,
//! peak memory ≤ 300 MB.
use std::fs;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn total_requests(emu: &EmulatorHandle) -> u64 {
    emu.state()
        .counters
        .requests
        .values()
        .flat_map(|m| m.values())
        .sum()
}

/// Peak RSS in bytes of all waited-for children so far (Linux reports KiB).
fn children_maxrss() -> u64 {
    // SAFETY: getrusage writes into the zeroed struct we pass; no other invariant.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: valid pointer to a rusage; RUSAGE_CHILDREN is a valid `who`.
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut ru) };
    ru.ru_maxrss as u64 * 1024
}

/// Run one migration of `src`; returns (seconds, requests, peak RSS of the child so far).
fn migrate(emu: &EmulatorHandle, src: &Path, work: &Path) -> (f64, u64, u64) {
    let requests = total_requests(emu);
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_boxlift"))
        .args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--progress", "none"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .args(["--api-calls-per-minute", "100000000"])
        .args(["--uploads-per-minute", "100000000"])
        .args(["--concurrency", "32"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .output()
        .expect("run boxlift");
    let secs = started.elapsed().as_secs_f64();
    if !out.status.success() {
        eprintln!("{}", String::from_utf8_lossy(&out.stdout));
        panic!("boxlift migrate failed: {:?}", out.status);
    }
    (secs, total_requests(emu) - requests, children_maxrss())
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing: run only when
    // asked to bench, since the data set is gigabytes.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let small_files = env_u64("BOXLIFT_BENCH_SMALL_FILES", 10_000);
    let small_size = env_u64("BOXLIFT_BENCH_SMALL_SIZE", 16 * 1024);
    let big_files = env_u64("BOXLIFT_BENCH_BIG_FILES", 4);
    let big_size = env_u64("BOXLIFT_BENCH_BIG_SIZE", 512 * 1024 * 1024);

    let emu = Emulator::start(EmulatorConfig {
        discard: true,
        ..EmulatorConfig::default()
    })
    .expect("start the emulator");
    let tmp = tempfile::tempdir().expect("temp dir");

    // Small files: 100 per directory, distinct content.
    let small = tmp.path().join("small");
    let mut body = vec![0u8; small_size as usize];
    for i in 0..small_files {
        let dir = small.join(format!("d{:03}", i / 100));
        if i % 100 == 0 {
            fs::create_dir_all(&dir).unwrap();
        }
        body[..8.min(body.len())].copy_from_slice(&i.to_le_bytes()[..8.min(body.len())]);
        fs::File::create(dir.join(format!("f{i}.bin")))
            .and_then(|mut f| f.write_all(&body))
            .unwrap();
    }
    // Big files: generated pseudo-random content (not sparse zeros, so hashing and the
    // emulator's digest checks do real work).
    let big = tmp.path().join("big");
    fs::create_dir_all(&big).unwrap();
    let mut chunk = vec![0u8; 1 << 20];
    for i in 0..big_files {
        let mut f = std::io::BufWriter::new(fs::File::create(big.join(format!("big{i}.bin"))).unwrap());
        let mut s = 0x9e37_79b9_7f4a_7c15u64 ^ i;
        let mut left = big_size;
        while left > 0 {
            for c in chunk.chunks_mut(8) {
                s ^= s << 13;
                s ^= s >> 7;
                s ^= s << 17;
                c.copy_from_slice(&s.to_le_bytes()[..c.len()]);
            }
            let n = left.min(chunk.len() as u64) as usize;
            f.write_all(&chunk[..n]).unwrap();
            left -= n as u64;
        }
        f.flush().unwrap();
    }

    let w1 = tmp.path().join("w1");
    let (secs, reqs, rss1) = migrate(&emu, &small, &w1);
    println!(
        "small: {small_files} files x {small_size} B in {secs:.2}s = {:.0} files/s, {reqs} requests, peak RSS {:.0} MB",
        small_files as f64 / secs,
        rss1 as f64 / 1e6
    );
    let w2 = tmp.path().join("w2");
    let (secs, reqs, rss2) = migrate(&emu, &big, &w2);
    let mb = (big_files * big_size) as f64 / 1e6;
    println!(
        "big:   {big_files} files x {big_size} B in {secs:.2}s = {:.0} MB/s, {reqs} requests, peak RSS {:.0} MB",
        mb / secs,
        rss2 as f64 / 1e6
    );
    println!(
        "boxlift peak memory over both runs: {:.0} MB (goal ≤ 300 MB)",
        rss1.max(rss2) as f64 / 1e6
    );
}
