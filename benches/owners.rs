//! Issue 22, acceptance 4: `migrate --map` with OWNERS_COUNT (20) home folders of unequal size
//! (400, 200, 150, ... about 2,000 small files) against an emulator at Box's per-user limits
//! (4 uploads/s and 16.67 calls/s per user, As-User spending the user's own budget), the client
//! pacing each identity at Box's defaults. No owner may wait for another: the run must end
//! within 1.05 × bound, bound = max(largest owner's files ÷ 4/s, total ÷ (owners × 4/s)).
//! Prints wall time, files/s, requests, 429s and boxlift's peak RSS.
//!
//! `cargo bench --bench owners` (about 2 minutes: the largest owner's 400 files at 4/s take 100 s).
//! Quick check: `OWNERS_SCALE=4 cargo bench --bench owners` (each owner a quarter the size).
use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use boxlift::emulator::{Emulator, EmulatorConfig, EnterpriseSpec, UserSpec};

mod common;
use common::{env_u64, reap};

/// Box's documented limits, per user per second.
const BOX_CALLS: f64 = 1000.0 / 60.0;
const BOX_UPLOADS: f64 = 240.0 / 60.0;

/// Files per owner, largest first in the map's order reversed (the walk meets small owners
/// first, so the scheduler, not the walk, must start the big one).
const SIZES: [u64; 20] = [
    400, 200, 150, 120, 100, 90, 80, 80, 70, 70, 70, 60, 60, 60, 60, 60, 60, 50, 50, 30,
];

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let scale = env_u64("OWNERS_SCALE", 1).max(1);
    let sizes: Vec<u64> = SIZES.iter().map(|n| (n / scale).max(1)).collect();
    let owners = sizes.len();
    let total: u64 = sizes.iter().sum();
    let tmp = tempfile::tempdir().unwrap();
    let src = tmp.path().join("src");
    let mut map = String::from("source,owner,dest\n");
    for (i, n) in sizes.iter().enumerate() {
        // Small owners sort first in the walk (`a00` is the smallest).
        let dir = format!("home/a{:02}", owners - 1 - i);
        for f in 0..*n {
            let p = src.join(&dir).join(format!("f{f:04}.txt"));
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, format!("{dir} {f}")).unwrap();
        }
        map.push_str(&format!("{dir},owner{i}@example.com,\n"));
    }
    let map_file = tmp.path().join("map.csv");
    fs::write(&map_file, map).unwrap();
    let users = (0..owners)
        .map(|i| UserSpec {
            id: Some(format!("{}", 9100 + i)),
            login: format!("owner{i}@example.com"),
            name: None,
        })
        .collect();
    let emu = Emulator::start(EmulatorConfig {
        rate_limit: Some(BOX_CALLS),
        upload_rate_limit: Some(BOX_UPLOADS),
        discard: true,
        enterprise: EnterpriseSpec {
            users,
            groups: Vec::new(),
        },
        ..EmulatorConfig::default()
    })
    .expect("start the emulator");
    let largest = *sizes.iter().max().unwrap();
    let bound = (largest as f64 / BOX_UPLOADS).max(total as f64 / (owners as f64 * BOX_UPLOADS));
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let concurrency = (owners * boxlift::upload::lanes::OWNER_IN_FLIGHT).to_string();
    let started = Instant::now();
    let child = run(
        &emu.api_url(),
        &emu.upload_url(),
        &emu.oauth_url(),
        &src,
        &work,
    )
    .args(["--map", map_file.to_str().unwrap()])
    .args(["--concurrency", &concurrency])
    .spawn()
    .expect("run boxlift");
    let r = reap(child);
    let secs = started.elapsed().as_secs_f64();
    assert!(
        r.success(),
        "boxlift failed: {}",
        fs::read_to_string(work.join("err.txt")).unwrap_or_default()
    );
    let c = emu.state().counters;
    assert_eq!(c.uploads, total, "every file uploaded once");
    let ratio = secs / bound;
    println!(
        "owners: {owners} x --map home folders, {total} files (largest {largest}) in {secs:.1} s = \
         {:.2} files/s; bound max({largest} / 4/s, {total} / ({owners} x 4/s)) = {bound:.1} s -> \
         {ratio:.3} x bound (goal <= 1.05); {} x 429 in {} requests; peak RSS {:.0} MB",
        total as f64 / secs,
        c.rate_limited,
        c.total_requests(),
        r.rss as f64 / 1e6
    );
    if ratio > 1.05 {
        eprintln!("FAILED: {ratio:.3} x bound is over the goal of 1.05");
        std::process::exit(1);
    }
}

/// `boxlift migrate SRC --dest 0` against the emulator, output in `work`.
fn run(api: &str, upload: &str, oauth: &str, src: &Path, work: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_boxlift"));
    c.args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--progress", "none"])
        .args([
            "--api-url",
            api,
            "--upload-url",
            upload,
            "--oauth-url",
            oauth,
        ])
        .args(["--developer-token", "dev-token"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env_remove("BOXLIFT_SHARD")
        .env_remove("BOXLIFT_RATE_SHARE")
        .env("BOXLIFT_LOG", "warn")
        .stdout(fs::File::create(work.join("out.txt")).unwrap())
        .stderr(fs::File::create(work.join("err.txt")).unwrap());
    c
}
