//! Issue 12, item 8: the flags rclone and azcopy users expect on `migrate` — `--include`,
//! `--files-from`, `--min-age`, `--max-file-size`, `--max-duration` (exit 75), `--bwlimit`,
//! reports named by date in directories created on the way — and `content_created_at` sent
//! where the platform gives a birth time. Assertions read the emulator's tree and counters.
use std::collections::BTreeSet;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::exit::ExitCode;
use boxlift::model::Action;

use super::{boxlift, get_file, migrate_cmd, report, run};
use crate::common::assert_exit;
use crate::common::tree::Tree;

/// The files in Box, by path.
fn files_in_box(emu: &EmulatorHandle) -> BTreeSet<String> {
    emu.state()
        .tree
        .into_iter()
        .filter(|e| e.kind == "file")
        .map(|e| e.path)
        .collect()
}

fn set(paths: &[&str]) -> BTreeSet<String> {
    paths.iter().map(|p| p.to_string()).collect()
}

fn mixed_tree() -> Tree {
    let t = Tree::new();
    t.file("a.txt", b"a");
    t.file("b.pdf", b"b");
    t.file("docs/c.pdf", b"c");
    t.file("docs/d.txt", b"d");
    t.file("other/e.txt", b"e");
    t.file("other/deep/f.txt", b"f");
    t
}

#[test]
fn include_takes_only_matching_files() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = mixed_tree();
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--include", "*.pdf"],
    ));
    assert_eq!(files_in_box(&emu), set(&["b.pdf", "docs/c.pdf"]));
    // --exclude wins over --include.
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let work = tempfile::tempdir().unwrap();
    let args = ["--include", "*.pdf", "--exclude", "docs"];
    run(migrate_cmd(&emu, t.root(), work.path(), &args));
    assert_eq!(files_in_box(&emu), set(&["b.pdf"]));
}

#[test]
fn files_from_takes_the_listed_files_and_folders_only() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = mixed_tree();
    let work = tempfile::tempdir().unwrap();
    let list = work.path().join("list.txt");
    std::fs::write(&list, "# tonight\ndocs/d.txt\n./other/\nnot/there.txt\n").unwrap();
    let out = run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--files-from", list.to_str().unwrap()],
    ));
    assert_exit(&out, ExitCode::Success);
    assert_eq!(
        files_in_box(&emu),
        set(&["docs/d.txt", "other/deep/f.txt", "other/e.txt"])
    );
    let rows = report(work.path());
    assert!(
        rows.iter()
            .all(|r| r.path != "a.txt" && r.path != "docs/c.pdf")
    );
    // A missing list is a clear error, exit 2.
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--files-from", "/nonexistent/list.txt"],
    )
    .output()
    .unwrap();
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--files-from /nonexistent/list.txt"), "{err}");
}

#[test]
fn min_age_skips_files_still_being_written_and_a_later_run_takes_them() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let old = t.file("old.txt", b"settled");
    let two_days_ago = chrono::Utc::now().timestamp() - 2 * 86_400;
    t.set_mtime(&old, two_days_ago, 0);
    let fresh = t.file("fresh.txt", b"still being written");
    let work = tempfile::tempdir().unwrap();
    let out = run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--min-age", "1h"],
    ));
    assert_eq!(files_in_box(&emu), set(&["old.txt"]));
    let rows = report(work.path());
    let r = rows.iter().find(|r| r.path == "fresh.txt").unwrap();
    assert_eq!(r.action(), Action::Skipped, "{r:?}");
    assert_eq!(r.error_code, "too_recent", "{r:?}");
    assert!(r.error_message.contains("--min-age"), "{r:?}");
    assert!(matches!(out.status.code(), Some(0 | 1)));
    // Once it has settled, the next run takes it.
    t.set_mtime(&fresh, two_days_ago, 0);
    run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--min-age", "1h"],
    ));
    assert_eq!(files_in_box(&emu), set(&["fresh.txt", "old.txt"]));
}

#[test]
fn max_file_size_makes_bigger_files_invalid_rows() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("small.txt", &[1; 100]);
    t.file("big.bin", &[2; 5000]);
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--max-file-size", "1KB"],
    ));
    assert_eq!(files_in_box(&emu), set(&["small.txt"]));
    let rows = report(work.path());
    let r = rows.iter().find(|r| r.path == "big.bin").unwrap();
    assert_eq!(r.action(), Action::Invalid, "{r:?}");
    assert_eq!(r.error_code, "too_large", "{r:?}");
    assert!(r.error_message.contains("5000 bytes"), "{r:?}");
}

#[test]
fn max_duration_starts_nothing_new_exits_75_and_the_next_run_carries_on() {
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 20,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    for i in 0..300 {
        t.file(format!("d{}/f{i}.txt", i % 3), format!("{i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    // One file at a time at 20 ms a request: at least 6 s of work, far beyond the window.
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--max-duration", "1s", "--concurrency", "1"],
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, ExitCode::MoreToDo);
    assert!(err.contains("--max-duration"), "{err}");
    let partial = report(work.path());
    assert!(
        !partial.is_empty() && partial.len() < 303,
        "{}",
        partial.len()
    );
    assert!(partial.iter().all(|r| r.action() != Action::Failed));
    let landed = files_in_box(&emu).len();
    assert!(landed < 300, "{landed}");
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&out, ExitCode::Success);
    assert_eq!(files_in_box(&emu).len(), 300);
}

#[test]
fn bwlimit_throttled_uploads_land_whole_direct_and_chunked() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file_sized("small.bin", 300_000);
    t.file_sized("big.bin", 21_000_000);
    let work = tempfile::tempdir().unwrap();
    let args = ["--bwlimit", "1GB/s", "--chunked-threshold", "20MB"];
    let out = run(migrate_cmd(&emu, t.root(), work.path(), &args));
    assert_exit(&out, ExitCode::Success);
    let state = emu.state();
    assert_eq!(state.counters.sessions_committed, 1);
    for r in report(work.path()) {
        let e = state.tree.iter().find(|e| e.path == r.path).unwrap();
        assert_eq!(e.sha1.as_deref(), Some(r.sha1.as_str()), "{}", r.path);
    }
    let bad = migrate_cmd(&emu, t.root(), work.path(), &["--bwlimit", "fast"])
        .output()
        .unwrap();
    assert_exit(&bad, ExitCode::CouldNotRun);
}

/// The report named by date (UTC) in folders that do not exist yet, as the CronJob names it;
/// the state and the manifest in new folders too.
#[test]
fn reports_named_by_date_land_in_new_directories() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = mixed_tree();
    let work = tempfile::tempdir().unwrap();
    let w = |p: &str| work.path().join(p).to_str().unwrap().to_string();
    let go = |extra: &[&str]| {
        let mut c = boxlift(
            &emu,
            &["migrate", t.root().to_str().unwrap(), "--dest", "0"],
        );
        c.args([
            "--progress",
            "none",
            "--report",
            &w("reports/%Y-%m-%d/shard-0.csv"),
        ])
        .args(extra);
        c.output().unwrap()
    };
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let out = go(&[
        "--state",
        &w("state/shard-0"),
        "--manifest",
        &w("manifests/new/m.csv"),
    ]);
    assert_exit(&out, ExitCode::Success);
    let dated = work.path().join(format!("reports/{day}/shard-0.csv"));
    // (Around midnight UTC the run may have started on the day before.)
    let found = dated.is_file()
        || std::fs::read_dir(work.path().join("reports"))
            .unwrap()
            .count()
            == 1;
    assert!(found, "{}", dated.display());
    assert!(work.path().join("state/shard-0/state.sqlite").is_file());
    assert!(work.path().join("manifests/new/m.csv").is_file());
    // Without --state each night would start a new journal: refused, with what to do.
    let out = go(&[]);
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("give --state"), "{err}");
}

/// Box keeps `content_created_at` (the local birth time, where the platform gives one) beside
/// `content_modified_at` (the mtime).
#[test]
fn content_created_at_is_the_local_birth_time_where_there_is_one() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let p = t.file("born.txt", b"hello");
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    let rows = report(work.path());
    let id = &rows
        .iter()
        .find(|r| r.path == "born.txt")
        .unwrap()
        .box_file_id;
    let f = get_file(&emu, id);
    let birth = std::fs::metadata(&p).unwrap().created();
    match birth {
        Ok(b) => {
            let want = chrono::DateTime::<chrono::Utc>::from(b)
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
            assert_eq!(f["content_created_at"], want.as_str(), "{f}");
        }
        // No birth time here: Box (and the emulator) use the upload time.
        Err(_) => assert!(f["content_created_at"].is_string(), "{f}"),
    }
    assert!(f["content_modified_at"].is_string(), "{f}");
}
