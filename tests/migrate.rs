//! `boxlift migrate` and `boxlift verify` end to end: the built binary against an in-process
//! emulator over HTTP. Assertions read the emulator's state (its tree and counters), not our logs.
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use boxlift::box_api::{AuthConfig, ClientConfig, Secret};
use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::exit::ExitCode;
use boxlift::log::LogFormat;
use boxlift::manifest::read::Reader;
use boxlift::manifest::{Kind, ManifestRow};
use boxlift::migrate::{Cancel, MigrateConfig, Observer, Paths};
use boxlift::model::{Action, Event};
use boxlift::progress::ShowProgress;
use boxlift::report::{ReportRow, read_report};
use boxlift::upload::{Limits, OnConflict};

mod resume;

use crate::common::boxlift_bin;
use crate::common::tree::Tree;
use crate::common::{assert_exit, assert_exit_with};

mod eta;
mod flags;
mod mirror;
mod operator;
mod output;
mod owners;
mod predictions;
mod repair;
mod status_lines;
mod stop_tokens;
mod stopheal;

/// The three big files (chunked: over the 50,000,000-byte cut-off).
const BIG: [(&str, u64); 3] = [
    ("media/big-a.bin", 51_000_000),
    ("media/deep/big-b.bin", 55_500_000),
    ("big-c.bin", 60_000_000),
];

/// A 2,000-file tree: nested folders, empty folders, three big files, and bad entries.
/// Returns the number of valid files.
fn build_tree(t: &Tree) -> usize {
    let mut files = 0;
    for d in 0..10 {
        for s in 0..10 {
            for f in
                0..((2000 - BIG.len()) / 100 + usize::from(d * 10 + s < (2000 - BIG.len()) % 100))
            {
                let body = format!("file {d}/{s}/{f}\n").repeat(1 + (f * 37 + s) % 50);
                t.file(format!("d{d}/s{s}/f{f}.txt"), body.as_bytes());
                files += 1;
            }
        }
    }
    // Big files: generated content, distinct per file.
    for (p, size) in BIG {
        t.file_sized(p, size);
        files += 1;
    }
    t.dir("empty");
    t.dir("d3/nested/empty/deeper");
    // Bad entries: names Box refuses, a symlink (skipped by default).
    t.file("bad/trailing-space ", b"x");
    t.file("bad/back\\slash.txt", b"y");
    t.symlink("bad/link", "../d0/s0/f0.txt");
    files
}

/// Run the binary with the emulator's URLs and no client-side pacing limit.
pub(crate) fn boxlift(emu: &EmulatorHandle, args: &[&str]) -> Command {
    let mut c = Command::new(boxlift_bin());
    c.args(args)
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_LOG", "warn");
    c
}

pub(crate) fn migrate_cmd(
    emu: &EmulatorHandle,
    src: &Path,
    work: &Path,
    extra: &[&str],
) -> Command {
    let report = work.join("report.csv");
    let mut c = boxlift(
        emu,
        &[
            "migrate",
            src.to_str().unwrap(),
            "--dest",
            "0",
            "--report",
            report.to_str().unwrap(),
            "--progress",
            "none",
            "--api-calls-per-minute",
            "10000000",
            "--uploads-per-minute",
            "10000000",
            // These stories count every manifest row in the report, `skipped_done` included
            // (the lean default has its own test).
            "--report-all",
        ],
    );
    c.args(extra);
    c
}

fn run(mut c: Command) -> Output {
    let out = c.output().expect("run boxlift");
    if !matches!(out.status.code(), Some(0 | 1)) {
        panic!(
            "boxlift failed: {:?}\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    out
}

fn manifest(work: &Path) -> Vec<ManifestRow> {
    Reader::open(&work.join("report.state/manifest.csv"))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn report(work: &Path) -> Vec<ReportRow> {
    read_report(&work.join("report.csv")).unwrap()
}

/// Rows per action, the report's action column parsed into [`Action`].
fn actions(rows: &[ReportRow]) -> BTreeMap<Action, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.action()).or_default() += 1;
    }
    m
}

/// Every valid manifest file is in the emulator at its path with the manifest's SHA-1 (which
/// the emulator computed from the bytes it received), once, and every directory is a folder.
fn assert_tree_landed(emu: &EmulatorHandle, rows: &[ManifestRow]) {
    let state = emu.state();
    let mut tree: HashMap<&str, _> = HashMap::new();
    for e in &state.tree {
        assert!(
            tree.insert(e.path.as_str(), e).is_none(),
            "duplicate {}",
            e.path
        );
    }
    let mut n = 0;
    for r in rows.iter().filter(|r| r.status.is_ok()) {
        let e = tree
            .get(r.path.as_str())
            .unwrap_or_else(|| panic!("{} is not in Box", r.path));
        match r.kind {
            Kind::Dir => assert_eq!(e.kind, "folder", "{}", r.path),
            Kind::File => {
                assert_eq!(e.kind, "file", "{}", r.path);
                assert_eq!(e.size, r.size, "{}", r.path);
                assert_eq!(e.sha1.as_deref(), Some(r.sha1.as_str()), "{}", r.path);
                n += 1;
            }
        }
    }
    // Nothing else landed (no renamed twins, no stray copies).
    let expected = rows.iter().filter(|r| r.status.is_ok()).count();
    assert_eq!(state.tree.len(), expected, "Box holds extra items");
    assert!(n > 0);
}

/// Give a rewritten file an mtime clearly after its last scan, whatever the filesystem's mtime
/// granularity: the quick check (size + mtime) must see the change without waiting for a tick.
fn touched_later(path: &Path) {
    let later = std::time::SystemTime::now() + Duration::from_secs(60);
    std::fs::File::options()
        .write(true)
        .open(path)
        .unwrap()
        .set_modified(later)
        .unwrap();
}

/// Rows in the report file so far (it is flushed row by row).
fn report_rows_so_far(work: &Path) -> usize {
    std::fs::read(work.join("report.csv"))
        .map(|b| b.iter().filter(|&&c| c == b'\n').count().saturating_sub(1))
        .unwrap_or(0)
}

fn total_requests(emu: &EmulatorHandle) -> u64 {
    emu.state().counters.total_requests()
}

fn verify(emu: &EmulatorHandle, work: &Path) -> Output {
    verify_with(emu, work, &[])
}

/// `boxlift verify` of the run's manifest against the root, with `extra` arguments.
fn verify_with(emu: &EmulatorHandle, work: &Path, extra: &[&str]) -> Output {
    let m = work.join("report.state/manifest.csv");
    boxlift(
        emu,
        &["verify", "--manifest", m.to_str().unwrap(), "--dest", "0"],
    )
    .args(extra)
    .output()
    .unwrap()
}

#[test]
fn migrate_lands_a_2000_file_tree_verifies_and_reruns_for_free() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let files = build_tree(&t);
    let work = tempfile::tempdir().unwrap();

    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    // Bad entries make the exit status 1 (some rows not migrated).
    assert_exit(&out, ExitCode::SomeFailed);
    let rows = manifest(work.path());
    let rep = report(work.path());
    assert_eq!(rep.len(), rows.len(), "one report row per manifest row");
    assert_tree_landed(&emu, &rows);
    let acts = actions(&rep);
    assert_eq!(acts.get(&Action::Uploaded), Some(&files), "{acts:?}");
    for bad in ["bad/trailing-space ", "bad/back\\slash.txt"] {
        let r = rep.iter().find(|r| r.path == bad).expect(bad);
        assert_eq!(r.action(), Action::Invalid, "{r:?}");
        assert!(!r.error_code.is_empty(), "{r:?}");
    }
    let link = rep.iter().find(|r| r.path == "bad/link").unwrap();
    assert_eq!(link.action(), Action::Skipped);
    for (p, _) in BIG {
        let r = rep.iter().find(|r| r.path == p).unwrap();
        assert_eq!(r.action(), Action::Uploaded);
        assert_eq!(r.box_sha1, r.sha1);
        assert!(!r.box_file_id.is_empty() && !r.box_file_version_id.is_empty());
    }
    let c = emu.state().counters;
    assert_eq!(
        c.sessions_committed,
        BIG.len() as u64,
        "big files are chunked"
    );
    assert_eq!(
        c.uploads,
        (files - BIG.len()) as u64,
        "small files are direct"
    );
    let empty = rep
        .iter()
        .find(|r| r.path == "d3/nested/empty/deeper")
        .unwrap();
    assert_eq!(empty.action(), Action::FolderCreated);

    let v = verify(&emu, work.path());
    assert_exit(&v, ExitCode::Success);

    // Re-run of the unchanged tree: zero uploads, fewer calls than files / 100.
    let before = emu.state().counters;
    let calls_before = total_requests(&emu);
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::SomeFailed);
    let after = emu.state().counters;
    assert_eq!(after.uploads, before.uploads);
    assert_eq!(after.sessions_created, before.sessions_created);
    assert_eq!(after.bytes_received, before.bytes_received);
    let calls = total_requests(&emu) - calls_before;
    assert!(
        calls < (files / 100) as u64,
        "{calls} calls for an unchanged tree"
    );
    let acts = actions(&report(work.path()));
    assert_eq!(
        acts.get(&Action::SkippedDone),
        Some(&(rows.len() - 3)),
        "{acts:?}"
    );

    // Incremental: one file changed, one added, one dir added; the rest is not re-read.
    touched_later(&t.file("d0/s0/f0.txt", b"changed content\n"));
    t.file("d9/new.txt", b"new file\n");
    t.file("fresh/dir/one.txt", b"one\n");
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::SomeFailed);
    let rep = report(work.path());
    let by_path: HashMap<&str, &ReportRow> = rep.iter().map(|r| (r.path.as_str(), r)).collect();
    assert_eq!(by_path["d0/s0/f0.txt"].action(), Action::NewVersion);
    assert_eq!(by_path["d9/new.txt"].action(), Action::Uploaded);
    assert_eq!(by_path["fresh/dir/one.txt"].action(), Action::Uploaded);
    assert_eq!(by_path["fresh/dir"].action(), Action::FolderCreated);
    let acts = actions(&rep);
    assert_eq!(acts[&Action::SkippedDone], rows.len() - 3 - 1, "{acts:?}");
    let rows = manifest(work.path());
    assert_tree_landed(&emu, &rows);
    let versions = emu
        .state()
        .tree
        .iter()
        .find(|e| e.path == "d0/s0/f0.txt")
        .unwrap()
        .versions;
    assert_eq!(versions, 2);
    let v = verify(&emu, work.path());
    assert_exit(&v, ExitCode::Success);
}

#[test]
fn faults_and_rate_limits_do_not_stop_the_tree_landing_whole() {
    let emu = Emulator::start(EmulatorConfig {
        fail_rate: 0.05,
        drop_rate: 0.01,
        rate_limit: Some(100.0),
        upload_rate_limit: Some(300.0),
        seed: 7,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    build_tree(&t);
    let work = tempfile::tempdir().unwrap();
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::SomeFailed);
    let rep = report(work.path());
    let failed: Vec<_> = rep
        .iter()
        .filter(|r| r.action() == Action::Failed)
        .collect();
    assert!(failed.is_empty(), "{failed:?}");
    let c = emu.state().counters;
    assert!(
        c.faults.values().sum::<u64>() > 0,
        "faults were injected: {c:?}"
    );
    assert!(c.rate_limited > 0, "the rate limit bit: {c:?}");
    assert_tree_landed(&emu, &manifest(work.path()));
    emu.set_switches(|s| {
        s.fail_rate = 0.0;
        s.drop_rate = 0.0;
        s.rate_limit = None;
        s.upload_rate_limit = None;
    });
    let v = verify(&emu, work.path());
    assert_exit(&v, ExitCode::Success);
}

#[test]
fn sigkill_at_three_moments_then_rerun_lands_everything_once() {
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 4,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    build_tree(&t);
    let work = tempfile::tempdir().unwrap();
    // Three random kill moments, each a little later, counted in finished rows so every kill
    // lands mid-run; the seed is printed to replay a failure (BOXLIFT_TEST_SEED).
    let seed = std::env::var("BOXLIFT_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
        });
    eprintln!("kill moments: BOXLIFT_TEST_SEED={seed}");
    let mut rng = <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed);
    let moments: Vec<usize> = (0..3usize)
        .map(|i| rand::Rng::gen_range(&mut rng, 50 + i * 300..400 + i * 500))
        .collect();
    for (i, rows) in moments.into_iter().enumerate() {
        // The report of the previous run must not count for this one.
        let _ = std::fs::remove_file(work.path().join("report.csv"));
        let mut c = migrate_cmd(&emu, t.root(), work.path(), &[]);
        let mut child = c
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Poll the report (flushed per row) until this run has finished `rows` rows.
        while report_rows_so_far(work.path()) < rows && child.try_wait().unwrap().is_none() {
            std::thread::sleep(Duration::from_millis(2));
        }
        let _ = child.kill(); // SIGKILL
        let status = child.wait().unwrap();
        eprintln!("kill {i} after {rows} rows: {status:?}");
        assert!(status.code().is_none(), "run {i} ended before its kill");
    }
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::SomeFailed);
    let rows = manifest(work.path());
    let total_bytes: u64 = rows
        .iter()
        .filter(|r| r.status.is_ok() && r.kind == Kind::File)
        .map(|r| r.size)
        .sum();
    assert_tree_landed(&emu, &rows);
    let state = emu.state();
    assert!(
        state
            .tree
            .iter()
            .all(|e| e.kind == "folder" || e.versions == 1),
        "no file was uploaded twice"
    );
    // At most the tree's bytes, plus per kill what was in flight: the parts of the chunked
    // files in flight (3 files × 4 parts × 8 MiB) and the small files in flight (16).
    let max_small = rows
        .iter()
        .filter(|r| r.kind == Kind::File && r.size < 50_000_000)
        .map(|r| r.size)
        .max()
        .unwrap();
    let slack = 3 * (3 * 4 * 8 * 1024 * 1024 + 16 * max_small);
    assert!(
        state.counters.bytes_received <= total_bytes + slack,
        "received {} for a {} byte tree",
        state.counters.bytes_received,
        total_bytes
    );
    let v = verify(&emu, work.path());
    assert_exit(&v, ExitCode::Success);
}

#[test]
fn dry_run_plans_without_a_single_write() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("a/one.txt", b"one");
    t.file("a/two.txt", b"two");
    t.file("b.txt", b"bee");
    t.dir("empty");
    let work = tempfile::tempdir().unwrap();
    // Put one file there first with other content, and one with the same content.
    let seed = Tree::new();
    seed.file("a/one.txt", b"ONE, older");
    seed.file("b.txt", b"bee");
    let seed_work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, seed.root(), seed_work.path(), &[]));
    let writes = |emu: &EmulatorHandle| -> u64 {
        emu.state()
            .counters
            .requests
            .iter()
            .filter(|(route, _)| !route.starts_with("GET ") && !route.contains("oauth2"))
            .flat_map(|(_, m)| m.values())
            .sum()
    };
    let before = writes(&emu);
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &["--dry-run"]));
    assert_exit(&out, ExitCode::Success);
    assert_eq!(writes(&emu), before, "a dry run sends no write request");
    let rep = report(work.path());
    let by: HashMap<&str, Action> = rep.iter().map(|r| (r.path.as_str(), r.action())).collect();
    assert_eq!(by["a/one.txt"], Action::WouldVersion);
    assert_eq!(by["a/two.txt"], Action::WouldUpload);
    assert_eq!(by["b.txt"], Action::SkippedExists);
    assert_eq!(by["empty"], Action::WouldCreate);
    assert_eq!(by["a"], Action::SkippedExists);
    assert!(!work.path().join("report.state/state.sqlite").exists());
}

#[test]
fn existing_files_are_found_and_dedup_copies_identical_content() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    // An earlier tool put x.txt there.
    let earlier = Tree::new();
    earlier.file("x.txt", b"same bytes");
    run(migrate_cmd(
        &emu,
        earlier.root(),
        tempfile::tempdir().unwrap().path(),
        &[],
    ));
    let t = Tree::new();
    t.file("x.txt", b"same bytes");
    for i in 0..4 {
        t.file(format!("copies/c{i}.bin"), b"identical content, four times");
    }
    let work = tempfile::tempdir().unwrap();
    let uploads_before = emu.state().counters.uploads;
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &["--dedup"]));
    assert_exit(&out, ExitCode::Success);
    let rep = report(work.path());
    let acts = actions(&rep);
    assert_eq!(acts.get(&Action::SkippedExists), Some(&1), "{acts:?}");
    assert_eq!(acts.get(&Action::Uploaded), Some(&1), "{acts:?}");
    assert_eq!(acts.get(&Action::Copied), Some(&3), "{acts:?}");
    assert_eq!(emu.state().counters.uploads - uploads_before, 1);
    let x = rep.iter().find(|r| r.path == "x.txt").unwrap();
    assert!(!x.box_file_id.is_empty());
    assert_tree_landed(&emu, &manifest(work.path()));
}

#[test]
fn verify_names_missing_extra_and_changed_files() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("keep.txt", b"keep");
    t.file("d/gone.txt", b"gone");
    t.file("d/other.txt", b"other");
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    // A manifest that disagrees with Box: a row Box lacks, a row dropped (so Box has an
    // extra), another SHA-1, another size (a truncated upload looks like this).
    let m = work.path().join("report.state/manifest.csv");
    let mut rows = manifest(work.path());
    rows.retain(|r| r.path != "d/gone.txt");
    for r in &mut rows {
        if r.path == "keep.txt" {
            r.sha1 = "0".repeat(40);
        }
        if r.path == "d/other.txt" {
            r.size += 1;
        }
    }
    let mut extra = rows[0].clone();
    extra.path = "never/uploaded.txt".into();
    extra.kind = Kind::File;
    rows.push(extra);
    let mut w = boxlift::manifest::write::Writer::new(std::fs::File::create(&m).unwrap()).unwrap();
    for r in &rows {
        w.write(r).unwrap();
    }
    w.flush().unwrap();
    drop(w);
    let out = verify(&emu, work.path());
    let text = String::from_utf8_lossy(&out.stdout);
    assert_exit(&out, ExitCode::SomeFailed);
    for (problem, path) in [
        ("sha1_mismatch", "keep.txt"),
        ("extra", "d/gone.txt"),
        ("size_mismatch", "d/other.txt"),
        ("missing", "never/uploaded.txt"),
    ] {
        assert!(
            text.lines()
                .any(|l| l.starts_with(problem) && l.contains(&format!(" {path} "))),
            "{problem} {path}:\n{text}"
        );
    }
}

#[test]
fn emulator_flag_runs_the_quick_start_and_a_second_run_skips_everything() {
    let cwd = tempfile::tempdir().unwrap();
    let sample = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample-tree");
    let go = || {
        Command::new(boxlift_bin())
            .args([
                "migrate",
                sample.to_str().unwrap(),
                "--dest",
                "0",
                "--emulator",
                "--report-all",
            ])
            .current_dir(cwd.path())
            .env_remove("BOX_DEVELOPER_TOKEN")
            .output()
            .unwrap()
    };
    let out = go();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_exit(&out, ExitCode::Success);
    assert!(
        text.contains("code/src/main.rs") && text.contains("uploaded"),
        "{text}"
    );
    assert!(cwd.path().join(".boxlift/report.csv").is_file());
    let out = go();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert_exit(&out, ExitCode::Success);
    let rep = read_report(&cwd.path().join(".boxlift/report.csv")).unwrap();
    assert!(!rep.is_empty());
    assert!(
        rep.iter().all(|r| r.action() == Action::SkippedDone),
        "{text}"
    );
}

/// A run of the library as `cmd/migrate.rs` would configure it, into the emulator's root, with
/// no client-side pacing limit and no progress display.
fn migrate_config(emu: &EmulatorHandle, src: &Path, work: &Path, files: usize) -> MigrateConfig {
    let mut client = ClientConfig::new(AuthConfig::DeveloperToken(Secret::new("dev-token")));
    client.api_url = emu.api_url();
    client.upload_url = emu.upload_url();
    client.oauth_url = emu.oauth_url();
    client.api_calls_per_minute = 10_000_000;
    client.uploads_per_minute = 10_000_000;
    MigrateConfig {
        src: src.to_path_buf(),
        dest: "0".into(),
        paths: Paths::resolve(Some(&work.join("report.csv")), None, None, None, false),
        dry_run: false,
        report_all: true,
        on_conflict: OnConflict::Version,
        limits: Limits {
            files,
            big_files: 3,
        },
        part_concurrency: 4,
        chunked_threshold: 50_000_000,
        dedup: false,
        mirror: Default::default(),
        permissions: None,
        exclude: Vec::new(),
        include: Vec::new(),
        files_from: None,
        map: None,
        min_age: None,
        max_file_size: None,
        max_duration: None,
        repair: Vec::new(),
        shard: None,
        client,
        progress: ShowProgress::None,
        status_interval: Duration::from_secs(10),
        log_format: LogFormat::Text,
        observer: None,
    }
}

/// A tree of 300 small files in 7 folders.
fn small_tree(t: &Tree) {
    for i in 0..300 {
        t.file(format!("d{}/f{i}.txt", i % 7), format!("{i}").as_bytes());
    }
}

/// After an interrupted run: every row written is finished (nothing half-reported, nothing
/// failed), and a re-run completes the tree, skipping exactly the rows the first run finished.
fn assert_partial_then_rerun_completes(emu: &EmulatorHandle, t: &Tree, work: &Path) -> usize {
    let partial = report(work);
    assert!(partial.len() < 300 + 7, "the run stopped early");
    assert!(
        partial.iter().all(|r| r.action() != Action::Failed),
        "{partial:?}"
    );
    let out = run(migrate_cmd(emu, t.root(), work, &[]));
    assert_exit(&out, ExitCode::Success);
    let rows = manifest(work);
    assert_tree_landed(emu, &rows);
    let acts = actions(&report(work));
    assert_eq!(
        acts.get(&Action::SkippedDone).copied().unwrap_or(0),
        partial.len(),
        "{acts:?}"
    );
    partial.len()
}

#[test]
fn cancel_finishes_what_is_in_flight_and_a_rerun_completes() {
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 20,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    small_tree(&t);
    let work = tempfile::tempdir().unwrap();
    // Cancel from the event stream itself after the 50th finished row: no timing involved.
    let cancel = Cancel::new();
    let trigger = cancel.clone();
    let mut done = 0;
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    config.observer = Some(Observer::new(move |ev| {
        if let Event::FileDone(_) = ev {
            done += 1;
            if done == 50 {
                trigger.cancel();
            }
        }
    }));
    let summary = boxlift::migrate::run(config, cancel).unwrap();
    assert!(summary.interrupted);
    assert_eq!(summary.exit_code(), ExitCode::Interrupted);
    assert_eq!(summary.rows.failures(), 0);
    // The 50 rows, plus at most what was in flight (4 permits) and already-planned rows that
    // needed no Box call.
    let finished = report(work.path()).len();
    assert_eq!(finished as u64, summary.rows.total());
    assert!(finished >= 50, "{finished} rows");
    assert_partial_then_rerun_completes(&emu, &t, work.path());
}

#[test]
fn retries_reach_observers_as_events_one_per_client_retry() {
    let emu = Emulator::start(EmulatorConfig {
        fail_rate: 0.05,
        rate_limit: Some(100.0),
        seed: 7,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    small_tree(&t);
    let work = tempfile::tempdir().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new((0u64, 0u64)));
    let counts = seen.clone();
    let mut config = migrate_config(&emu, t.root(), work.path(), 16);
    config.observer = Some(Observer::new(move |ev| {
        if let Event::Retried { status } = ev {
            let mut c = counts.lock().unwrap();
            c.0 += 1;
            c.1 += u64::from(*status == Some(429));
        }
    }));
    let summary = boxlift::migrate::run(config, Cancel::new()).unwrap();
    assert_eq!(summary.rows.failures(), 0);
    let (retried, throttled) = *seen.lock().unwrap();
    // One counter: every retry the client made reached the observers once, as an event.
    assert_eq!(retried, summary.requests.retries, "{:?}", summary.requests);
    assert!(throttled > 0, "the rate limit bit: {:?}", summary.requests);
    assert!(throttled <= summary.requests.rate_limited);
    assert!(retried > throttled, "5xx faults are retried too");
}

#[test]
fn sigint_finishes_what_is_in_flight_exits_130_and_a_rerun_completes() {
    // 300 files at 50 ms per request, 4 at a time, take well over a second: the first status
    // line (after 1 s) comes while files are in flight.
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 50,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    small_tree(&t);
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.csv");
    let mut child = boxlift(
        &emu,
        &[
            "migrate",
            t.root().to_str().unwrap(),
            "--dest",
            "0",
            "--report",
            report.to_str().unwrap(),
            "--api-calls-per-minute",
            "10000000",
            "--uploads-per-minute",
            "10000000",
            "--concurrency",
            "4",
            "--progress",
            "lines",
            "--status-interval",
            "1",
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait for the first status line: the signal handler is installed before the run starts,
    // and the run is under way.
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    loop {
        let mut line = String::new();
        let n = stderr.read_line(&mut line).unwrap();
        assert!(n > 0, "boxlift ended before its first status line:\n{seen}");
        seen.push_str(&line);
        if line.starts_with("boxlift: ") && line.contains(" files, ") {
            break;
        }
    }
    // SAFETY: signalling our own child by its pid.
    unsafe { libc::kill(child.id() as libc::pid_t, libc::SIGINT) };
    stderr.read_to_string(&mut seen).unwrap();
    let status = child.wait().unwrap();
    assert_exit_with(&status, ExitCode::Interrupted, format_args!("{seen}"));
    assert!(seen.contains("interrupted"), "{seen}");
    assert_partial_then_rerun_completes(&emu, &t, work.path());
}

#[test]
fn a_folder_deleted_in_box_since_the_last_run_is_recreated_for_new_and_changed_files() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("d/a.txt", b"a");
    t.file("d/sub/b.txt", b"b");
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    let d = emu
        .state()
        .tree
        .iter()
        .find(|e| e.path == "d")
        .unwrap()
        .id
        .clone();
    let url = format!("{}/folders/{d}?recursive=true", emu.api_url());
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .delete(url)
            .bearer_auth("dev-token")
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 204);
    touched_later(&t.file("d/a.txt", b"a, changed"));
    t.file("d/sub/c.txt", b"c");
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::Success);
    let rep = report(work.path());
    let by: HashMap<&str, Action> = rep.iter().map(|r| (r.path.as_str(), r.action())).collect();
    assert_eq!(by["d/a.txt"], Action::Uploaded, "{rep:?}");
    assert_eq!(by["d/sub/c.txt"], Action::Uploaded, "{rep:?}");
    let tree = emu.state().tree;
    for p in ["d/a.txt", "d/sub/c.txt"] {
        assert!(tree.iter().any(|e| e.path == p), "{p} not in Box: {tree:?}");
    }
}

/// Issue 11, item 4: an upload whose reply was lost landed all the same; the retry meets it as a
/// 409 with our SHA-1. The row says `uploaded` (this run sent it), never `skipped_exists` ("Box
/// already held it"), and nothing is stored twice.
#[test]
fn lost_replies_are_reported_as_uploaded_not_skipped_exists() {
    let emu = Emulator::start(EmulatorConfig {
        lost_reply_rate: 0.05,
        seed: 11,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    small_tree(&t);
    let work = tempfile::tempdir().unwrap();
    let summary = boxlift::migrate::run(
        migrate_config(&emu, t.root(), work.path(), 8),
        Cancel::new(),
    )
    .unwrap();
    assert_eq!(summary.rows.failures(), 0);
    let c = emu.state().counters;
    let lost = c.faults.get("lost_reply_5xx").copied().unwrap_or(0)
        + c.faults.get("lost_reply_drop").copied().unwrap_or(0);
    assert!(lost > 0, "replies were lost: {c:?}");
    let rep = report(work.path());
    let files: Vec<_> = rep.iter().filter(|r| r.kind == Kind::File).collect();
    assert_eq!(files.len(), 300);
    for r in files {
        assert_eq!(r.action(), Action::Uploaded, "{r:?}");
        assert_eq!(r.box_sha1, r.sha1, "{r:?}");
    }
    let rows = manifest(work.path());
    assert_tree_landed(&emu, &rows);
    assert!(
        emu.state().tree.iter().all(|e| e.versions <= 1),
        "nothing was stored twice"
    );
    assert_eq!(c.files_created, 300);
}

/// Requests the emulator answered on Box routes: everything but OAuth token calls (a developer
/// token makes none, and `audit` does not count them) and the emulator's own `/_emulator`.
fn box_requests(emu: &EmulatorHandle) -> u64 {
    emu.state()
        .counters
        .requests
        .iter()
        .filter(|(route, _)| !route.contains("/oauth2/") && !route.contains("/_emulator"))
        .flat_map(|(_, m)| m.values())
        .sum()
}

/// Issue 11, item 5: folders a run creates are known empty and never listed, and `audit`'s
/// API-call estimate matches what a fresh migration of the same tree really asks of Box
/// (within 5%; both count every Box call except OAuth token calls).
#[test]
fn audit_estimate_matches_the_requests_a_fresh_migration_makes() {
    let t = Tree::new();
    for a in 0..4 {
        for b in 0..5 {
            for i in 0..15 {
                t.file(
                    format!("p{a}/q{b}/f{i}.txt"),
                    format!("{a}/{b}/{i}").as_bytes(),
                );
            }
        }
    }
    for i in 0..10 {
        t.file(format!("top{i}.txt"), format!("top {i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("manifest.csv");
    let out = Command::new(boxlift_bin())
        .args([
            "scan",
            t.root().to_str().unwrap(),
            "-o",
            m.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(boxlift_bin())
        .args(["audit", m.to_str().unwrap()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "{text}");
    let estimate: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("API calls"))
        .and_then(|l| l.split_whitespace().next())
        .map(|n| n.replace(',', "").parse().unwrap())
        .unwrap_or_else(|| panic!("no API calls line:\n{text}"));

    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::Success);
    let real = box_requests(&emu);
    eprintln!("audit estimate {estimate} API calls; migrate made {real}");
    // The destination is listed (for its files and for its folders); the 24 folders the run
    // made are not.
    let c = emu.state().counters;
    let listings: u64 = c.requests["GET /2.0/folders/{id}/items"].values().sum();
    assert_eq!(listings, 2, "{c:?}");
    assert!(
        estimate.abs_diff(real) * 20 <= real,
        "audit estimated {estimate} calls, migrate made {real}:\n{text}\n{c:?}"
    );
}

/// Issue 11, item 8: `verify --report` with no difference writes a header-only CSV (not an
/// empty file), whose header is the one rows are written under.
#[test]
fn verify_report_without_differences_is_a_header_only_csv() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("d/a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    let m = work.path().join("report.state/manifest.csv");
    let csv = work.path().join("verify.csv");
    let verify_report = || {
        boxlift(
            &emu,
            &[
                "verify",
                "--manifest",
                m.to_str().unwrap(),
                "--dest",
                "0",
                "--report",
                csv.to_str().unwrap(),
            ],
        )
        .output()
        .unwrap()
    };
    let out = verify_report();
    assert_exit(&out, ExitCode::Success);
    let header = "path,problem,expected_size,box_size,expected_sha1,box_sha1,box_id\n";
    assert_eq!(std::fs::read_to_string(&csv).unwrap(), header);
    // A difference is written under the same header.
    t.file("d/b.txt", b"b");
    let scan = Command::new(boxlift_bin())
        .args([
            "scan",
            t.root().to_str().unwrap(),
            "-o",
            m.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(scan.status.success());
    let out = verify_report();
    assert_exit(&out, ExitCode::SomeFailed);
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with(header), "{text}");
    assert!(
        text[header.len()..].starts_with("d/b.txt,missing,"),
        "{text}"
    );
}

/// Issue 11, item 8: where Box holds a file with a folder's name (or a folder with a file's),
/// `--dry-run` says `conflict` (with `item_name_in_use`), not `would_create`: the real run
/// could not create it.
#[test]
fn dry_run_says_conflict_where_box_holds_another_kind_of_item() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    // Box holds a file `docs` and a folder `notes.txt`.
    let seed = Tree::new();
    seed.file("docs", b"a file named docs");
    seed.file("notes.txt/inside.txt", b"x");
    run(migrate_cmd(
        &emu,
        seed.root(),
        tempfile::tempdir().unwrap().path(),
        &[],
    ));
    let t = Tree::new();
    t.file("docs/readme.txt", b"readme");
    t.file("notes.txt", b"notes");
    let work = tempfile::tempdir().unwrap();
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &["--dry-run"]));
    assert_exit_with(&out, ExitCode::SomeFailed, "a conflict is a failure row");
    let rep = report(work.path());
    let by: HashMap<&str, &ReportRow> = rep.iter().map(|r| (r.path.as_str(), r)).collect();
    for p in ["docs", "notes.txt"] {
        assert_eq!(by[p].action(), Action::Conflict, "{:?}", by[p]);
        assert_eq!(by[p].error_code, "item_name_in_use", "{:?}", by[p]);
    }
    // Nothing under the blocked folder can be looked up there: it would be uploaded.
    assert_eq!(by["docs/readme.txt"].action(), Action::WouldUpload);
}

/// `GET /files/{id}` straight to the emulator: the file's JSON.
fn get_file(emu: &EmulatorHandle, id: &str) -> serde_json::Value {
    get_json(emu, &format!("/files/{id}"))
}

/// `GET <api>{path}` straight to the emulator (as the developer token): the reply's JSON.
fn get_json(emu: &EmulatorHandle, path: &str) -> serde_json::Value {
    let url = format!("{}{path}", emu.api_url());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .get(url)
            .bearer_auth("dev-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    })
}

/// What Box holds for `path`, through its API: (file id, version id, SHA-1, etag).
fn box_file(emu: &EmulatorHandle, path: &str) -> (String, String, String, String) {
    let id = emu
        .state()
        .tree
        .iter()
        .find(|e| e.path == path)
        .unwrap()
        .id
        .clone();
    let f = get_file(emu, &id);
    let s = |v: &serde_json::Value| v.as_str().unwrap().to_string();
    (
        id,
        s(&f["file_version"]["id"]),
        s(&f["sha1"]),
        s(&f["etag"]),
    )
}

/// Issue 11, item 2: a colleague's newer version in Box (uploaded behind boxlift's back) is
/// never superseded when the local file changes too: the row says `conflict` with
/// `conflict_changed_in_box`, and shows what Box holds (not the journal's record); with
/// `--on-conflict skip` the `skipped_conflict` row shows Box's version too.
#[test]
fn a_file_changed_in_box_since_the_last_run_is_not_superseded() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("d/a.txt", b"ours, first");
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    let (id, _, _, _) = box_file(&emu, "d/a.txt");
    // A colleague uploads a new version straight to Box.
    let url = format!("{}/files/{id}/content", emu.upload_url());
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        let form = reqwest::multipart::Form::new()
            .text("attributes", "{}")
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"the colleague's edit".to_vec())
                    .file_name("a.txt"),
            );
        reqwest::Client::new()
            .post(url)
            .bearer_auth("dev-token")
            .multipart(form)
            .send()
            .await
            .unwrap()
            .status()
    });
    assert!(status.is_success(), "{status}");
    let theirs = box_file(&emu, "d/a.txt");
    // The local file changes as well.
    touched_later(&t.file("d/a.txt", b"ours, second"));
    for (policy, action) in [
        ("version", Action::Conflict),
        ("skip", Action::SkippedConflict),
    ] {
        let out = run(migrate_cmd(
            &emu,
            t.root(),
            work.path(),
            &["--on-conflict", policy],
        ));
        let rep = report(work.path());
        let r = rep.iter().find(|r| r.path == "d/a.txt").unwrap();
        assert_eq!(r.action(), action, "{r:?}");
        if action == Action::Conflict {
            assert_exit_with(&out, ExitCode::SomeFailed, "a conflict is a failure row");
            assert_eq!(r.error_code, "conflict_changed_in_box", "{r:?}");
        }
        // The row shows what Box holds, which is still the colleague's version.
        assert_eq!(box_file(&emu, "d/a.txt"), theirs);
        assert_eq!(r.box_file_id, theirs.0);
        assert_eq!(r.box_file_version_id, theirs.1, "{r:?}");
        assert_eq!(r.box_sha1, theirs.2, "{r:?}");
        let e = emu
            .state()
            .tree
            .into_iter()
            .find(|e| e.path == "d/a.txt")
            .unwrap();
        assert_eq!(e.versions, 2, "the colleague's version was not superseded");
    }
}

/// Issue 11: names Box accepts are migrated, not refused: a leading space (Box forbids only
/// trailing spaces), U+0085, U+00A0, emoji and CJK; then `verify` finds them all.
#[test]
fn names_with_a_leading_space_or_non_ascii_characters_are_migrated() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let names = [
        " leading.txt",
        " leading dir/ inner.txt",
        "next\u{85}line.txt",
        "nbsp\u{a0}.txt",
        "emoji 🎉.txt",
        "中文.txt",
    ];
    for (i, n) in names.iter().enumerate() {
        t.file(n, format!("content {i}").as_bytes());
    }
    t.file("trailing.txt ", b"refused by Box");
    let work = tempfile::tempdir().unwrap();
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit_with(
        &out,
        ExitCode::SomeFailed,
        "the trailing-space file is invalid",
    );
    let rows = manifest(work.path());
    assert_tree_landed(&emu, &rows);
    for n in names {
        let r = rows.iter().find(|r| r.path == n).expect(n);
        assert!(r.status.is_ok(), "{n:?}: {:?}", r.status);
    }
    let rep = report(work.path());
    let trailing = rep.iter().find(|r| r.path == "trailing.txt ").unwrap();
    assert_eq!(trailing.action(), Action::Invalid);
    let v = verify(&emu, work.path());
    assert!(
        v.status.success(),
        "{}{}",
        String::from_utf8_lossy(&v.stdout),
        String::from_utf8_lossy(&v.stderr)
    );
}

/// Issue 11, item 3: a chunked upload interrupted with its session open (its parts failed: the
/// row fails and the journal keeps the session), then the file changes: the re-run cannot resume
/// that session, opens a new one, and aborts the old one. No session boxlift opened is left open.
#[test]
fn a_stale_upload_session_is_aborted_when_the_file_changed_before_the_rerun() {
    let emu = std::sync::Arc::new(Emulator::start(EmulatorConfig::default()).unwrap());
    let t = Tree::new();
    let big = t.file_sized("big.bin", 21_000_000);
    let work = tempfile::tempdir().unwrap();
    // First run: as soon as the session is open, every request fails (5xx) and the client
    // gives up at once, so the session stays open, as after a crash.
    let opened = std::sync::Arc::new(std::sync::Mutex::new(None::<String>));
    let (seen, faults) = (opened.clone(), emu.clone());
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    config.chunked_threshold = 20_000_000;
    config.client.retry.max_attempts = 1;
    config.observer = Some(Observer::new(move |ev| {
        if let Event::SessionOpened(s) = ev {
            *seen.lock().unwrap() = Some(s.session_id.clone());
            faults.set_switches(|s| s.fail_rate = 1.0);
        }
    }));
    let summary = boxlift::migrate::run(config, Cancel::new()).unwrap();
    assert_eq!(summary.rows.failures(), 1);
    let old = opened
        .lock()
        .unwrap()
        .clone()
        .expect("a session was opened");
    let c = emu.state().counters;
    assert_eq!((c.sessions_created, c.sessions_aborted), (1, 0), "{c:?}");
    emu.set_switches(|s| s.fail_rate = 0.0);

    // The file changes (same size, other content); the re-run completes it.
    let mut bytes = std::fs::read(&big).unwrap();
    bytes[0] ^= 0xff;
    std::fs::write(&big, &bytes).unwrap();
    touched_later(&big);
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    config.chunked_threshold = 20_000_000;
    let summary = boxlift::migrate::run(config, Cancel::new()).unwrap();
    assert_eq!(summary.rows.failures(), 0);
    let c = emu.state().counters;
    assert_eq!(c.sessions_created, 2, "{c:?}");
    assert_eq!(c.sessions_committed, 1, "{c:?}");
    assert_eq!(c.sessions_aborted, 1, "the old session was aborted: {c:?}");
    assert_eq!(
        c.sessions_created - c.sessions_committed - c.sessions_aborted,
        0,
        "no session is left open"
    );
    let url = format!("{}/files/upload_sessions/{old}", emu.upload_url());
    let status = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .get(url)
            .bearer_auth("dev-token")
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(status.as_u16(), 404, "the old session is gone");
    assert_tree_landed(&emu, &manifest(work.path()));
}
