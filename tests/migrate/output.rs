//! Issue 12 items 4, 6 and 8: what a run tells its operator. `failed`, `invalid` and `skipped`
//! are separate counts (summary line, JSON summary, exit code) and `files` leaves directories
//! out; `--json` puts a JSON summary alone on stdout for migrate, verify and audit;
//! `--log-file` also writes the logs to a file; `scan` ends with a one-line summary.
use serde_json::Value;

use super::*;

/// A tree with one row of each outcome: uploaded (3, in nested folders), failed (over the
/// emulator's size limit), invalid (a name Box refuses) and skipped (a symlink).
fn mixed_tree(t: &Tree) {
    t.file("docs/a.txt", b"alpha");
    t.file("docs/sub/b.txt", b"bravo");
    t.file("c.txt", b"charlie");
    t.file("big.bin", &[7u8; 2000]);
    t.file("bad/trailing-space ", b"x");
    t.symlink("link", "c.txt");
}

fn small_limit_emulator() -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        max_file_size: 1000,
        ..EmulatorConfig::default()
    })
    .unwrap()
}

fn json_of(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}):\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    })
}

#[test]
fn failed_invalid_and_skipped_are_counted_apart_and_directories_are_not_files() {
    let emu = small_limit_emulator();
    let t = Tree::new();
    mixed_tree(&t);
    let work = tempfile::tempdir().unwrap();
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &["--json"]));
    assert_exit_with(&out, ExitCode::SomeFailed, "failed and invalid rows exit 1");
    let rows = report(work.path());
    let acts = actions(&rows);
    assert_eq!(acts.get(&Action::Failed), Some(&1), "{acts:?}");
    assert_eq!(acts.get(&Action::Invalid), Some(&1), "{acts:?}");
    assert_eq!(acts.get(&Action::Skipped), Some(&1), "{acts:?}");
    let dirs = rows.iter().filter(|r| r.kind == Kind::Dir).count();
    assert!(dirs >= 3, "docs, docs/sub, bad: {acts:?}");

    let j = json_of(&out);
    assert_eq!(j["command"], "migrate");
    assert_eq!(j["exit_code"], 1);
    assert_eq!(j["files"], 6, "{j}");
    assert_eq!(j["rows"], rows.len() as u64, "{j}");
    assert_eq!(
        (&j["failed"], &j["invalid"], &j["skipped"]),
        (&1.into(), &1.into(), &1.into()),
        "{j}"
    );
    assert_eq!(j["actions"]["uploaded"], 3, "{j}");
    assert_eq!(
        j["report"],
        work.path().join("report.csv").display().to_string()
    );

    // The human summary went to stderr, with the same counts.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("6 files; sent "), "{err}");
    assert!(err.contains("; 1 failed, 1 invalid, 1 skipped"), "{err}");
}

#[test]
fn skipped_rows_alone_exit_0_and_the_text_summary_stays_on_stdout() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("a.txt", b"a");
    t.symlink("link", "a.txt");
    let work = tempfile::tempdir().unwrap();
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::Success);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("2 files; sent "), "{stdout}");
    assert!(
        stdout.contains("0 failed, 0 invalid, 1 skipped"),
        "{stdout}"
    );
}

#[test]
fn verify_and_audit_print_a_json_summary_on_stdout() {
    let emu = small_limit_emulator();
    let t = Tree::new();
    mixed_tree(&t);
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    let m = work.path().join("report.state/manifest.csv");

    let out = boxlift(
        &emu,
        &[
            "verify",
            "--manifest",
            m.to_str().unwrap(),
            "--dest",
            "0",
            "--json",
        ],
    )
    .output()
    .unwrap();
    // big.bin was refused by Box: one file missing.
    assert_exit(&out, ExitCode::SomeFailed);
    let j = json_of(&out);
    assert_eq!(j["command"], "verify");
    assert_eq!(j["exit_code"], 1);
    assert_eq!(j["files_ok"], 3, "{j}");
    assert_eq!(j["differences"], 1, "{j}");
    assert_eq!(j["problems"]["missing"], 1, "{j}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("missing") && err.contains("big.bin"), "{err}");

    let out = boxlift(&emu, &["audit", m.to_str().unwrap(), "--json"])
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    let j = json_of(&out);
    assert_eq!(j["command"], "audit");
    assert_eq!(j["direct_files"], 4, "{j}");
    assert!(j["time"]["total_s"].as_f64().is_some(), "{j}");
    assert!(j["uploads"].as_u64().is_some(), "{j}");
}

#[test]
fn log_file_gets_the_logs_in_a_directory_it_creates() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let log = work.path().join("logs/nightly/boxlift.log");
    let mut c = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--log-file", log.to_str().unwrap()],
    );
    // The default filter at -v: info events reach the file.
    c.env_remove("BOXLIFT_LOG").arg("-v");
    let out = run(c);
    assert_exit(&out, ExitCode::Success);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("INFO"), "{text}");
    assert!(text.contains("scan finished"), "{text}");
    assert!(!text.contains('\x1b'), "ANSI escapes in the log file");
    // The same lines also went to stderr.
    assert!(String::from_utf8_lossy(&out.stderr).contains("scan finished"));
}

#[test]
fn log_file_that_cannot_be_created_stops_before_the_run() {
    let t = Tree::new();
    t.file("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let blocker = work.path().join("not-a-dir");
    std::fs::write(&blocker, b"").unwrap();
    let out = Command::new(boxlift_bin())
        .args(["scan", t.root().to_str().unwrap(), "-o"])
        .arg(work.path().join("m.csv"))
        .arg("--log-file")
        .arg(blocker.join("x.log"))
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--log-file: cannot create the directory"),
        "{err}"
    );
    assert!(!work.path().join("m.csv").exists(), "nothing ran");
}

#[test]
fn scan_ends_with_a_one_line_summary_on_a_pipe() {
    let t = Tree::new();
    t.file("a.txt", b"a");
    t.file("d/b.txt", b"bb");
    let work = tempfile::tempdir().unwrap();
    let out = Command::new(boxlift_bin())
        .args(["scan", t.root().to_str().unwrap(), "-o"])
        .arg(work.path().join("m.csv"))
        .env_remove("BOXLIFT_LOG")
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 1, "{err}");
    assert!(
        lines[0].starts_with("boxlift: scanned 2 files (3 B), "),
        "{err}"
    );
}

/// `audit --dest` lists the destination folder by folder; on a pipe it says how far it is at
/// each status interval (files of the manifest's found in Box so far), without ANSI escapes.
/// The emulator's latency makes the listing last at least 13 × 150 ms, past the 1 s interval.
#[test]
fn audit_dest_shows_progress_while_it_lists_the_destination() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for d in 0..12 {
        t.file(format!("d{d:02}/f.txt"), format!("file {d}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    let m = work.path().join("report.state/manifest.csv");
    emu.set_switches(|s| s.latency_ms = 150);

    let out = boxlift(
        &emu,
        &[
            "audit",
            m.to_str().unwrap(),
            "--dest",
            "0",
            "--progress",
            "lines",
            "--status-interval",
            "1",
        ],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, ExitCode::Success);
    let status: Vec<&str> = err
        .lines()
        .filter(|l| l.starts_with("boxlift: ") && l.contains("/12 files"))
        .collect();
    assert!(!status.is_empty(), "no status line while listing:\n{err}");
    assert!(!err.contains('\x1b'), "ANSI escapes on a pipe:\n{err}");
}
