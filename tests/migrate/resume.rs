//! Issue 12, items 1 to 3: a resumed run reads no file it already finished, a scan cut short
//! loses only the rows in flight, a full Box account and an unwritable journal or report stop
//! the job (exit 2) instead of grinding on.
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::exit::ExitCode;
use boxlift::manifest::Kind;
use boxlift::migrate::{Cancel, MigrateError, Observer};
use boxlift::model::{Action, Event};

use super::{actions, boxlift, manifest, migrate_config, report};
use crate::common::assert_exit;
use crate::common::tree::Tree;

/// 2,000 small files with distinct content in 10 folders.
fn tree_2000(t: &Tree) {
    for i in 0..2000 {
        t.file(
            format!("d{}/f{i:04}.txt", i % 10),
            format!("file {i}\n").repeat(1 + i % 7).as_bytes(),
        );
    }
}

/// An emulator answering every request after `latency_ms`.
fn emulator(latency_ms: u64) -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        latency_ms,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// Successful direct uploads the emulator answered.
fn uploads(emu: &EmulatorHandle) -> u64 {
    emu.state().counters.uploads
}

/// Upload attempts the emulator saw, whatever its answer.
fn upload_attempts(emu: &EmulatorHandle) -> u64 {
    emu.state()
        .counters
        .requests
        .get("POST /api/2.0/files/content")
        .map_or(0, |m| m.values().sum())
}

#[test]
fn a_resumed_run_opens_no_file_the_interrupted_run_finished() {
    let emu = emulator(0);
    let t = Tree::new();
    tree_2000(&t);
    let work = tempfile::tempdir().unwrap();
    // Cancel from the event stream after the 500th upload: no timing involved.
    let cancel = Cancel::new();
    let trigger = cancel.clone();
    let mut uploaded = 0;
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    config.observer = Some(Observer::new(move |ev| {
        if let Event::FileDone(r) = ev
            && r.action() == Action::Uploaded
        {
            uploaded += 1;
            if uploaded == 500 {
                trigger.cancel();
            }
        }
    }));
    let first = boxlift::migrate::run(config, cancel).unwrap();
    assert!(first.interrupted);
    // Every row in the report is journalled (the report waits for the journal's commit).
    let done = actions(&report(work.path()))[&Action::Uploaded];
    assert!((500..2000).contains(&done), "{done}");
    assert_eq!(uploads(&emu), done as u64);

    let second = boxlift::migrate::run(
        migrate_config(&emu, t.root(), work.path(), 4),
        Cancel::new(),
    )
    .unwrap();
    assert!(!second.interrupted);
    // Each of the 2,000 files got its SHA-1 one way; every finished one from the journal,
    // by a stat: none of them was opened.
    let s = second.scan;
    eprintln!("run 1 finished {done} files; run 2 scan: {s:?}");
    assert_eq!(s.hashed + s.reused + s.known, 2000, "{s:?}");
    assert_eq!(s.known, done as u64, "{s:?}");
    assert!(s.hashed <= 2000 - done as u64, "{s:?}");
    let files: Vec<_> = report(work.path())
        .into_iter()
        .filter(|r| r.kind == Kind::File)
        .collect();
    let acts = actions(&files);
    assert_eq!(acts[&Action::SkippedDone], done, "{acts:?}");
    assert_eq!(acts[&Action::Uploaded], 2000 - done, "{acts:?}");
    // The rest went up exactly once: 2,000 uploads in all, 2,000 files in Box.
    assert_eq!(uploads(&emu), 2000);
    let state = emu.state();
    assert_eq!(state.counters.files_created, 2000);
    assert_eq!(state.tree.iter().filter(|e| e.kind == "file").count(), 2000);

    // A third run over the unchanged tree opens nothing at all.
    let third = boxlift::migrate::run(
        migrate_config(&emu, t.root(), work.path(), 4),
        Cancel::new(),
    )
    .unwrap();
    assert_eq!((third.scan.hashed, third.scan.known), (0, 2000));
    assert_eq!(uploads(&emu), 2000);
}

/// File rows in a manifest file (complete or partial).
fn file_rows(path: &Path) -> usize {
    boxlift::manifest::read::Reader::open(path)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|r| r.kind == Kind::File)
        .count()
}

#[test]
fn a_scan_cut_short_loses_at_most_the_rows_in_flight() {
    // Slow uploads, one at a time: the scan runs far ahead of them, so most scanned rows are
    // hashed but not uploaded when the run dies.
    let emu = emulator(20);
    let t = Tree::new();
    tree_2000(&t);
    let work = tempfile::tempdir().unwrap();
    let partial = work.path().join("report.state/manifest.csv.partial");
    let snapshot = work.path().join("killed.partial");
    let cancel = Cancel::new();
    let trigger = cancel.clone();
    let mut planned = 0;
    let (p, snap) = (partial.clone(), snapshot.clone());
    let mut config = migrate_config(&emu, t.root(), work.path(), 1);
    config.observer = Some(Observer::new(move |ev| {
        if let Event::Planned { .. } = ev {
            planned += 1;
            if planned == 800 {
                // What a SIGKILL now would leave: the partial manifest as it is on disk (rows
                // are flushed one by one, before they are planned).
                std::fs::copy(&p, &snap).unwrap();
                trigger.cancel();
            }
        }
    }));
    let first = boxlift::migrate::run(config, cancel).unwrap();
    assert!(first.interrupted);
    let kept = file_rows(&snapshot);
    assert!(kept >= 800 - 10, "only {kept} rows were on disk");
    let done = actions(&report(work.path()))
        .get(&Action::Uploaded)
        .copied()
        .unwrap_or(0);
    assert!(done < kept / 2, "{done} uploaded of {kept} scanned");
    // The crash's leftovers: the partial manifest as the kill found it, no complete one.
    std::fs::rename(&snapshot, &partial).unwrap();
    assert!(!work.path().join("report.state/manifest.csv").exists());

    let second = boxlift::migrate::run(
        migrate_config(&emu, t.root(), work.path(), 8),
        Cancel::new(),
    )
    .unwrap();
    let s = second.scan;
    eprintln!("killed with {kept} file rows on disk, {done} uploaded; run 2 scan: {s:?}");
    assert_eq!(s.hashed + s.reused + s.known, 2000, "{s:?}");
    // No row of the partial manifest was hashed again.
    assert!(s.reused + s.known >= kept as u64, "{s:?} with {kept} kept");
    assert!(s.hashed <= 2000 - kept as u64, "{s:?} with {kept} kept");
    // The manifest is complete and in place; the leftovers are gone.
    assert_eq!(manifest(work.path()).len(), 2000 + 10);
    assert!(!partial.exists());
    assert!(
        !work
            .path()
            .join("report.state/manifest.csv.resume")
            .exists()
    );
    assert_eq!(uploads(&emu), 2000);
}

/// File rows on disk in a manifest being written (a torn last line is not counted).
fn rows_on_disk(path: &Path) -> usize {
    if path.exists() { file_rows(path) } else { 0 }
}

#[test]
fn sigkill_of_the_binary_mid_scan_then_a_rerun_hashes_only_what_the_partial_manifest_lacks() {
    // Slow uploads, one at a time, so the walk runs far ahead of them; a 384 MiB file walked
    // after 1,000 small ones holds the rows behind it for the time it takes to hash (rows
    // leave the scan in walk order), so the kill lands mid-scan.
    let emu = emulator(20);
    let t = Tree::new();
    tree_2000(&t);
    let big = t.root().join("d5/big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(384 << 20)
        .unwrap();
    let work = tempfile::tempdir().unwrap();
    let partial = work.path().join("report.state/manifest.csv.partial");
    let complete = work.path().join("report.state/manifest.csv");
    let mut child = super::migrate_cmd(&emu, t.root(), work.path(), &["--concurrency", "1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while rows_on_disk(&partial) < 800 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(2));
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(
        status.code().is_none(),
        "the run ended before its kill: {status:?}"
    );
    assert!(!complete.exists(), "the scan had finished before the kill");
    let kept = file_rows(&partial);
    let uploaded_before = uploads(&emu);
    assert!((800..2001).contains(&kept), "{kept} rows on disk");
    assert!(
        uploaded_before < kept as u64 / 2,
        "{uploaded_before} uploaded"
    );

    let out = super::run(super::migrate_cmd(&emu, t.root(), work.path(), &["--json"]));
    assert_exit(&out, ExitCode::Success);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let count = |k: &str| json["scan"][k].as_u64().unwrap();
    let (hashed, reused, known) = (count("hashed"), count("reused"), count("known"));
    eprintln!(
        "killed with {kept} file rows on disk, {uploaded_before} uploaded; rerun: {hashed} hashed, {reused} reused, {known} known"
    );
    assert_eq!(hashed + reused + known, 2001, "{json}");
    // No file of the partial manifest was read again.
    assert!(reused + known >= kept as u64, "{json}");
    assert!(hashed <= 2001 - kept as u64, "{json}");
    assert!(complete.exists() && !partial.exists());
    // Every file landed once (the big one as a chunked session), and Box agrees on every SHA-1.
    assert_eq!(uploads(&emu), 2000);
    assert!(
        emu.state()
            .tree
            .iter()
            .all(|e| e.kind == "folder" || e.versions == 1)
    );
    let v = super::verify(&emu, work.path());
    assert_exit(&v, ExitCode::Success);
}

#[test]
fn a_full_box_account_stops_the_job_after_at_most_the_uploads_in_flight() {
    let emu = Arc::new(emulator(0));
    let t = Tree::new();
    tree_2000(&t);
    let work = tempfile::tempdir().unwrap();
    // Someone else fills the account while the run goes: after 100 uploads, room is left
    // for a few more files only.
    let handle = emu.clone();
    let mut uploaded = 0;
    let concurrency = 4;
    let mut config = migrate_config(&emu, t.root(), work.path(), concurrency);
    config.observer = Some(Observer::new(move |ev| {
        if let Event::FileDone(r) = ev
            && r.action() == Action::Uploaded
        {
            uploaded += 1;
            if uploaded == 100 {
                let used: u64 = handle
                    .state()
                    .tree
                    .iter()
                    .filter(|e| e.kind == "file")
                    .map(|e| e.size)
                    .sum();
                handle.set_switches(|s| s.quota_bytes = Some(used + 200));
            }
        }
    }));
    let err = boxlift::migrate::run(config, Cancel::new()).unwrap_err();
    assert!(matches!(err, MigrateError::QuotaExceeded { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("Box storage is full") && msg.contains("run the same command to resume"),
        "{msg}"
    );
    let rows = report(work.path());
    let failed: Vec<_> = rows
        .iter()
        .filter(|r| r.action() == Action::Failed)
        .collect();
    assert!(!failed.is_empty());
    eprintln!("quota hit: {} failed rows", failed.len());
    assert!(failed.len() <= concurrency, "{} failed", failed.len());
    assert!(
        failed
            .iter()
            .all(|r| r.error_code == "storage_limit_exceeded" && r.attempts == 1),
        "{failed:?}"
    );
    // Nothing started after the first refusal but what was in flight.
    let ok = rows
        .iter()
        .filter(|r| r.action() == Action::Uploaded)
        .count() as u64;
    assert!(
        upload_attempts(&emu) <= ok + concurrency as u64,
        "{} attempts, {ok} uploaded",
        upload_attempts(&emu)
    );
    assert!(ok < 200, "{ok}");
}

#[test]
fn a_migration_that_cannot_fit_is_refused_before_any_upload() {
    let emu = Emulator::start(EmulatorConfig {
        quota_bytes: Some(5_000),
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    tree_2000(&t);
    let work = tempfile::tempdir().unwrap();
    let out = super::migrate_cmd(&emu, t.root(), work.path(), &[])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, ExitCode::CouldNotRun);
    assert!(
        stderr.contains("not enough space in Box: the account has 5000 bytes free (0 used)"),
        "{stderr}"
    );
    assert!(
        stderr.contains("that is 5.0 kB free and 0 B used"),
        "{stderr}"
    );
    assert_eq!(stderr.matches("not enough space").count(), 1, "{stderr}");
    assert_eq!(upload_attempts(&emu), 0);
    assert_eq!(emu.state().counters.folders_created, 0);

    // `audit --dest` says the same before anything runs.
    let m = work.path().join("manifest.csv");
    let scan = std::process::Command::new(crate::common::boxlift_bin())
        .args([
            "scan",
            t.root().to_str().unwrap(),
            "-o",
            m.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(scan.status.success());
    let out = boxlift(&emu, &["audit", m.to_str().unwrap(), "--dest", "0"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    // A plan that does not fit exits 1, so a pipeline can gate on audit.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("plan: DO NOT FIT (the bytes to upload exceed"),
        "{text}"
    );
    assert!(
        text.contains("Box account space: 5.00 KB free (0 B used)") && text.contains("DO NOT FIT"),
        "{text}"
    );

    // With room for it all, the same run goes ahead.
    emu.set_switches(|s| s.quota_bytes = Some(10_000_000));
    let out = super::migrate_cmd(&emu, t.root(), work.path(), &[])
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    assert_eq!(uploads(&emu), 2000);
}

#[test]
fn an_unwritable_report_stops_the_uploads_with_one_message() {
    if !Path::new("/dev/full").exists() {
        eprintln!("skipped: no /dev/full");
        return;
    }
    let emu = emulator(5);
    let t = Tree::new();
    tree_2000(&t);
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    // /dev/full: every write fails with ENOSPC, as on a full disk.
    let out = boxlift(
        &emu,
        &[
            "migrate",
            t.root().to_str().unwrap(),
            "--dest",
            "0",
            "--report",
            "/dev/full",
            "--state",
            state.to_str().unwrap(),
            "--progress",
            "none",
            "--concurrency",
            "4",
            "--api-calls-per-minute",
            "10000000",
            "--uploads-per-minute",
            "10000000",
        ],
    )
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, ExitCode::CouldNotRun);
    assert!(
        stderr.contains("uploads stopped") && stderr.contains("/dev/full"),
        "{stderr}"
    );
    assert!(
        stderr.contains("No space left on device"),
        "the cause is named: {stderr}"
    );
    assert_eq!(stderr.matches("uploads stopped").count(), 1, "{stderr}");
    assert!(stderr.matches("ERROR").count() <= 1, "{stderr}");
    // The journal has every file that went up (it is written first), and nothing went up
    // after the error but what was in flight: far from the 2,000.
    let journal = rusqlite::Connection::open(state.join("state.sqlite")).unwrap();
    let journalled: i64 = journal
        .query_row("SELECT COUNT(*) FROM files", [], |r| r.get(0))
        .unwrap();
    let journalled = journalled as u64;
    let sent = uploads(&emu);
    eprintln!("report on /dev/full: {sent} uploads, {journalled} journalled");
    assert!(sent >= journalled, "{sent} sent, {journalled} journalled");
    assert!(sent < 1000, "{sent} uploads: the run went on");
}
