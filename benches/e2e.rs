//! End-to-end throughput of `boxlift migrate` (the release binary, as a child process) into the
//! in-process emulator in discard mode with no rate limit: small files per second, big-file
//! MB/s, requests, and the boxlift process's peak memory (getrusage maxrss of the child).
//!
//! `cargo bench --bench e2e`. Sizes (env): BOXLIFT_BENCH_SMALL_FILES (10000),
//! BOXLIFT_BENCH_SMALL_SIZE (16384), BOXLIFT_BENCH_BIG_FILES (4), BOXLIFT_BENCH_BIG_SIZE
//! (536870912). Goals on a 2-core machine: ≥ 1,500 small files/s, ≥ 400 MB/s on big files,
//! peak memory ≤ 300 MB.
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};

mod common;
use common::env_u64;

fn total_requests(emu: &EmulatorHandle) -> u64 {
    emu.state().counters.total_requests()
}

/// Start `boxlift migrate src` as a child with its report in `work`.
fn spawn_migrate(
    emu: &EmulatorHandle,
    src: &Path,
    work: &Path,
    extra: &[&str],
) -> std::process::Child {
    fs::create_dir_all(work).unwrap();
    let log = fs::File::create(work.join("stdout.txt")).unwrap();
    let mut c = Command::new(env!("CARGO_BIN_EXE_boxlift"));
    c.args(["migrate", src.to_str().unwrap()]);
    if !extra.contains(&"--dest") {
        c.args(["--dest", "0"]);
    }
    c.args(extra)
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--progress", "none"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .args(["--api-calls-per-minute", "100000000"])
        .args(["--uploads-per-minute", "100000000"])
        .args(["--concurrency", "32"])
        .stdout(log)
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run boxlift")
}

/// Wait for a child started by [`spawn_migrate`]; returns its own peak RSS in bytes.
fn reap(child: std::process::Child, work: &Path) -> u64 {
    let r = common::reap(child);
    if !r.success() {
        eprintln!(
            "{}",
            fs::read_to_string(work.join("stdout.txt")).unwrap_or_default()
        );
        panic!("boxlift migrate failed: exit {:?}", r.code);
    }
    r.rss
}

/// Run one migration of `src`; returns (seconds, requests, peak RSS of the child).
fn migrate(emu: &EmulatorHandle, src: &Path, work: &Path, extra: &[&str]) -> (f64, u64, u64) {
    let requests = total_requests(emu);
    let started = Instant::now();
    let rss = reap(spawn_migrate(emu, src, work, extra), work);
    let secs = started.elapsed().as_secs_f64();
    (secs, total_requests(emu) - requests, rss)
}

/// `shards` processes of `--shard K/N` at once; returns (seconds until the last exits,
/// requests, the largest child peak RSS).
fn migrate_sharded(
    emu: &EmulatorHandle,
    src: &Path,
    work: &Path,
    dest: &str,
    shards: u32,
) -> (f64, u64, u64) {
    let requests = total_requests(emu);
    let started = Instant::now();
    let children: Vec<_> = (0..shards)
        .map(|k| {
            let spec = format!("{k}/{shards}");
            let w = work.join(format!("shard-{k}"));
            (
                spawn_migrate(emu, src, &w, &["--dest", dest, "--shard", &spec]),
                w,
            )
        })
        .collect();
    let rss = children
        .into_iter()
        .map(|(c, w)| reap(c, &w))
        .max()
        .unwrap_or(0);
    let secs = started.elapsed().as_secs_f64();
    (secs, total_requests(emu) - requests, rss)
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

    // Small files: 100 per directory, distinct content; big files: pseudo-random content.
    let small = tmp.path().join("small");
    common::small_tree(&small, small_files, small_size);
    let big = tmp.path().join("big");
    common::big_files(&big, big_files, big_size);

    let w1 = tmp.path().join("w1");
    let (secs, reqs, rss1) = migrate(&emu, &small, &w1, &[]);
    let small_rate = small_files as f64 / secs;
    println!(
        "small: {small_files} files x {small_size} B in {secs:.2}s = {small_rate:.0} files/s, {reqs} requests, peak RSS {:.0} MB",
        rss1 as f64 / 1e6
    );
    let w2 = tmp.path().join("w2");
    let (secs, reqs, rss2) = migrate(&emu, &big, &w2, &[]);
    let mb = (big_files * big_size) as f64 / 1e6;
    println!(
        "big:   {big_files} files x {big_size} B in {secs:.2}s = {:.0} MB/s, {reqs} requests, peak RSS {:.0} MB",
        mb / secs,
        rss2 as f64 / 1e6
    );
    // The same big files into another folder, SHA-1s reused from the manifest by the quick
    // check (size + mtime): the upload path alone, without the scan's hashing.
    let report = boxlift::report::read_report(&w1.join("report.csv")).unwrap();
    let folder = report
        .iter()
        .find(|r| r.kind.as_str() == "dir")
        .map(|r| r.box_folder_id.clone())
        .expect("a folder from the small run");
    let manifest = w2.join("report.state/manifest.csv");
    let w3 = tmp.path().join("w3");
    let state = w3.join("state");
    let (secs, reqs, rss3) = migrate(
        &emu,
        &big,
        &w3,
        &[
            "--dest",
            &folder,
            "--manifest",
            manifest.to_str().unwrap(),
            "--state",
            state.to_str().unwrap(),
        ],
    );
    println!(
        "big, SHA-1s reused (upload only): {secs:.2}s = {:.0} MB/s, {reqs} requests, peak RSS {:.0} MB",
        mb / secs,
        rss3 as f64 / 1e6
    );
    // The small tree again, into a fresh folder, as 4 concurrent `--shard K/4` processes (one
    // host, one identity; rate share 4 of an unlimited budget): what sharding costs or gains
    // beside the single process above, in the same run.
    let folder = report
        .iter()
        .filter(|r| r.kind.as_str() == "dir")
        .nth(1)
        .map(|r| r.box_folder_id.clone())
        .expect("a second folder from the small run");
    let shards = 4;
    let (secs, reqs, rss4) = migrate_sharded(&emu, &small, &tmp.path().join("w4"), &folder, shards);
    println!(
        "small, {shards} shards at once: {secs:.2}s = {:.0} files/s ({:.2}x one process), {reqs} requests, peak RSS {:.0} MB per shard",
        small_files as f64 / secs,
        (small_files as f64 / secs) / small_rate,
        rss4 as f64 / 1e6
    );
    println!(
        "boxlift peak memory over the runs: {:.0} MB (goal ≤ 300 MB)",
        rss1.max(rss2).max(rss3).max(rss4) as f64 / 1e6
    );
}
