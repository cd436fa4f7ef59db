//! Issue 14: working at Box's ceiling. Against a rate-limited emulator (per-user API and upload
//! buckets, as Box's limits are per user): many `--as-user` identities share the files and each
//! budget is used; many shards, a few at a time (like an Indexed Job with completions >>
//! parallelism), land every file once within the budget; `--pace probe` goes above the
//! configured rate when the server allows it. Timing figures are in `benches/ceiling.rs`.
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle, EmulatorState, UserAccess};
use boxlift::report::{ReportRow, read_report};

use crate::common::boxlift_bin;
use crate::common::tree::Tree;

const IDENTITIES: [&str; 4] = ["11", "12", "13", "14"];

/// `files` small files spread over 8 top folders (the "8 folders" of the issue).
fn eight_folders(files: usize) -> Tree {
    let t = Tree::new();
    for i in 0..files {
        let body = format!("file {i}\n").repeat(1 + i % 7);
        t.file(format!("d{}/f{i:05}.txt", i % 8), body.as_bytes());
    }
    t
}

/// An emulator limiting each user to `api` calls and `uploads` uploads per second.
fn limited(api: f64, uploads: Option<f64>) -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        rate_limit: Some(api),
        upload_rate_limit: uploads,
        discard: true,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn migrate(emu: &EmulatorHandle, src: &Path, report: &Path) -> Command {
    let mut c = Command::new(boxlift_bin());
    c.args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", report.to_str().unwrap()])
        .args(["--progress", "none"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env_remove("BOXLIFT_SHARD")
        .env_remove("BOXLIFT_RATE_SHARE")
        .env("BOXLIFT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn ok(what: &str, out: Output) {
    assert_eq!(
        out.status.code(),
        Some(0),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

fn total_requests(state: &EmulatorState) -> u64 {
    state
        .counters
        .requests
        .values()
        .flat_map(|by_status| by_status.values())
        .sum()
}

/// Every file of `t` once in Box with its content, every folder once, nothing uploaded twice.
fn landed_once(state: &EmulatorState, files: usize) {
    let mut seen = HashMap::new();
    for e in &state.tree {
        assert!(
            seen.insert(e.path.as_str(), e).is_none(),
            "twice: {}",
            e.path
        );
    }
    let folders = state.tree.iter().filter(|e| e.kind == "folder").count();
    assert_eq!(folders, 8, "each folder once");
    assert_eq!(state.counters.folders_created, 8);
    assert_eq!(state.tree.len() - folders, files, "each file once");
    assert_eq!(state.counters.files_created, files as u64);
    assert_eq!(
        state.counters.uploads, files as u64,
        "no file uploaded twice"
    );
}

/// Within the budget: under 1 % of the requests got a 429.
fn few_429s(state: &EmulatorState, share: f64) {
    let requests = total_requests(state);
    assert!(
        (state.counters.rate_limited as f64) < share * requests as f64,
        "{} × 429 in {requests} requests",
        state.counters.rate_limited
    );
}

/// Four identities, one process: each uploads about a quarter of the files (a file takes the
/// least busy identity when it starts), all within their budgets.
#[test]
fn four_identities_share_the_files_within_their_budgets() {
    const FILES: usize = 480;
    // Per user: 20 uploads/s, 80 calls/s; boxlift paces each identity at exactly that.
    let emu = limited(80.0, Some(20.0));
    let t = eight_folders(FILES);
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("r.csv");
    let out = migrate(&emu, t.root(), &report)
        .args([
            "--api-calls-per-minute",
            "4800",
            "--uploads-per-minute",
            "1200",
        ])
        .args(["--as-user", &IDENTITIES.join(",")])
        .output()
        .unwrap();
    ok("migrate", out);
    let state = emu.state();
    landed_once(&state, FILES);
    few_429s(&state, 0.01);
    let mut per_user: BTreeMap<String, usize> = BTreeMap::new();
    for r in read_report(&report).unwrap() {
        if r.kind.as_str() == "file" {
            *per_user.entry(r.as_user.clone()).or_default() += 1;
        }
    }
    assert_eq!(
        per_user.keys().map(String::as_str).collect::<Vec<_>>(),
        IDENTITIES,
        "{per_user:?}"
    );
    // A fair share is 120 each; no identity idles while another has a queue.
    for (u, n) in &per_user {
        assert!(
            (90..=150).contains(n),
            "identity {u}: {n} files {per_user:?}"
        );
    }
}

/// 16 shards of a tree of 8 folders, at most 4 processes alive at once (an Indexed Job with
/// completions 16, parallelism 4), sharing 4 identities with `--rate-share 4`: every file lands
/// once, no shard is empty, and the budgets hold (429s under 1 %).
#[test]
fn sixteen_shards_four_at_a_time_land_every_file_once_within_the_budget() {
    const FILES: usize = 800;
    const SHARDS: u32 = 16;
    const AT_ONCE: usize = 4;
    let emu = limited(80.0, Some(20.0));
    let t = eight_folders(FILES);
    let work = tempfile::tempdir().unwrap();
    let spawn = |k: u32| -> Child {
        migrate(&emu, t.root(), &work.path().join(format!("shard-{k}.csv")))
            .args([
                "--api-calls-per-minute",
                "4800",
                "--uploads-per-minute",
                "1200",
            ])
            .args(["--as-user", &IDENTITIES.join(",")])
            .env("BOXLIFT_SHARD", format!("{k}/{SHARDS}"))
            .env("BOXLIFT_RATE_SHARE", AT_ONCE.to_string())
            .spawn()
            .unwrap()
    };
    // The Job controller's role: keep AT_ONCE pods running, start the next index when one ends.
    let mut next = 0;
    let mut running: Vec<(u32, Child)> = Vec::new();
    while next < SHARDS || !running.is_empty() {
        while running.len() < AT_ONCE && next < SHARDS {
            running.push((next, spawn(next)));
            next += 1;
        }
        // Wait for the oldest to exit (the processes of one wave take about as long).
        let (k, child) = running.remove(0);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        // The shard's budget is 1/4 (the number at once), not 1/16 (the shard count).
        assert!(
            stderr.contains(&format!(
                "shard {k}/{SHARDS}: 1200 API calls and 300 uploads per minute"
            )),
            "{stderr}"
        );
        ok(&format!("shard {k}"), out);
    }
    let state = emu.state();
    landed_once(&state, FILES);
    few_429s(&state, 0.01);
    let mut seen = BTreeMap::new();
    for k in 0..SHARDS {
        let rows: Vec<ReportRow> =
            read_report(&work.path().join(format!("shard-{k}.csv"))).unwrap();
        let files = rows.iter().filter(|r| r.kind.as_str() == "file").count();
        // By file, not by folder: 8 folders do not leave 8 of 16 shards empty (50 expected).
        assert!((20..=85).contains(&files), "shard {k}: {files} files");
        for r in rows {
            assert!(!r.action().is_failure(), "{r:?}");
            assert!(seen.insert(r.path.clone(), k).is_none(), "{} twice", r.path);
        }
    }
    assert_eq!(seen.len(), FILES + 8);
}

/// Most files finished within any `window_ms` of the report's `finished_at`.
fn peak_in_window(rows: &[ReportRow], window_ms: i64) -> usize {
    let mut t: Vec<i64> = rows
        .iter()
        .filter(|r| r.kind.as_str() == "file")
        .filter_map(|r| r.finished_at.map(|t| t.timestamp_millis()))
        .collect();
    t.sort_unstable();
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..t.len() {
        while t[hi] - t[lo] >= window_ms {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

/// `--pace probe` against a server whose limit is 3× the configured rate: boxlift goes above the
/// configured rate (which `--pace fixed` never exceeds by more than its small burst) and draws
/// few 429s.
#[test]
fn pace_probe_exceeds_the_configured_rate_when_the_server_allows_it() {
    const FILES: usize = 600;
    // Configured: 20 calls/s and 20 uploads/s (each small file is one call). Server: 60/s.
    let emu = limited(60.0, None);
    let t = Tree::new();
    for i in 0..FILES {
        t.file(format!("d/f{i:04}.txt"), format!("probe {i}\n").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("r.csv");
    let out = migrate(&emu, t.root(), &report)
        .args([
            "--api-calls-per-minute",
            "1200",
            "--uploads-per-minute",
            "1200",
        ])
        .args(["--pace", "probe", "--pace-cap", "4x"])
        .output()
        .unwrap();
    ok("migrate --pace probe", out);
    let state = emu.state();
    assert_eq!(state.counters.uploads, FILES as u64);
    few_429s(&state, 0.05);
    let rows = read_report(&report).unwrap();
    // At the configured 20/s, a 3-second window holds at most 60 files (plus a burst of 4).
    let peak = peak_in_window(&rows, 3_000);
    assert!(peak > 80, "at most {peak} files in 3 s: probing never rose");
}

/// `audit --dest` checks that every identity can upload into the destination: the emulator
/// models one As-User as a viewer (reads, 403 on writes) and one as no collaborator (404), as
/// Box answers them.
#[test]
fn audit_dest_names_each_identity_that_cannot_upload() {
    let emu = Emulator::start(EmulatorConfig {
        access: vec![
            ("12".into(), UserAccess::Viewer),
            ("13".into(), UserAccess::None),
        ],
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    t.file("d/a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let manifest = work.path().join("m.csv");
    let scan = Command::new(boxlift_bin())
        .args(["scan", t.root().to_str().unwrap(), "-o"])
        .arg(&manifest)
        .output()
        .unwrap();
    ok("scan", scan);
    let audit = |users: &str| {
        Command::new(boxlift_bin())
            .arg("audit")
            .arg(&manifest)
            .arg("-o")
            .arg(work.path().join("a.csv"))
            .args(["--dest", "0", "--as-user", users])
            .args(["--api-url", &emu.api_url()])
            .args(["--upload-url", &emu.upload_url()])
            .args(["--oauth-url", &emu.oauth_url()])
            .args(["--developer-token", "dev-token"])
            .env_remove("BOX_DEVELOPER_TOKEN")
            .output()
            .unwrap()
    };
    let out = audit("11,12,13");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("the service account (creates the folders): can upload"),
        "{stdout}"
    );
    assert!(stdout.contains("As-User 11: can upload"), "{stdout}");
    assert!(stdout.contains("As-User 12: CANNOT upload"), "{stdout}");
    assert!(
        stdout.contains("As-User 13: CANNOT see the destination (404"),
        "{stdout}"
    );
    // Every identity can write: exit 0.
    let out = audit("11");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );

    // What the check reads is what a migration meets: `migrate` makes the same check before
    // its first upload and drops the identities that cannot write; with none left (the
    // viewer alone) it cannot run (exit 2), names it once, and sends nothing.
    let migrate = |user: &str| {
        let report = work.path().join(format!("m-{user}.csv"));
        let out = migrate(&emu, t.root(), &report)
            .args(["--as-user", user])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = migrate("12");
    assert_eq!(code, Some(2), "{stderr}");
    assert_eq!(
        stderr.matches("As-User 12: CANNOT upload").count(),
        1,
        "{stderr}"
    );
    assert_eq!(emu.state().counters.uploads, 0);
    // Beside one that can, it is dropped and the file lands.
    let (code, stderr) = migrate("11,12");
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(emu.state().counters.uploads, 1);
}
