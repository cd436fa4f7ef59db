//! The operator's view of a long job: a nightly run's report holds what the night did, the
//! journal's full inventory comes out of `report export`, and `status` reads the journal
//! during and after a run.
use std::path::Path;
use std::process::{Command, Output};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::manifest::Kind;
use boxlift::model::Action;
use boxlift::report::read_report;

use super::{actions, boxlift, touched_later};
use crate::common::boxlift_bin;
use crate::common::tree::Tree;

/// `boxlift migrate` into the emulator's root with the report in `work` (lean: no
/// `--report-all`), uploads paced at `uploads_per_minute`.
fn migrate(emu: &EmulatorHandle, src: &Path, work: &Path, uploads_per_minute: &str) -> Command {
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
            uploads_per_minute,
        ],
    );
    c.env("BOXLIFT_LOG", "error");
    c
}

/// A verb that reads local files only (no Box flags).
fn local(args: &[&str]) -> Output {
    Command::new(boxlift_bin()).args(args).output().unwrap()
}

fn status_json(state: &Path) -> serde_json::Value {
    let out = local(&["status", "--state", state.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn a_nightly_report_holds_the_changed_rows_and_export_lists_every_file() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..40 {
        t.file(format!("d{}/f{i}.txt", i % 4), format!("v1 {i}").as_bytes());
    }
    t.file("bad/trailing-space ", b"x");
    let work = tempfile::tempdir().unwrap();
    let out = migrate(&emu, t.root(), work.path(), "10000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "the invalid row fails the run");

    // The night: 8 files changed, the rest untouched.
    for i in 0..8 {
        let p = t.file(
            format!("d{}/f{i}.txt", i % 4),
            format!("v2 {i}!").as_bytes(),
        );
        touched_later(&p);
    }
    let out = migrate(&emu, t.root(), work.path(), "10000000")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let rows = read_report(&work.path().join("report.csv")).unwrap();
    let acts = actions(&rows);
    assert_eq!(acts.get(&Action::NewVersion), Some(&8), "{acts:?}");
    assert_eq!(acts.get(&Action::Invalid), Some(&1), "{acts:?}");
    assert_eq!(
        rows.len(),
        9,
        "8 changed rows and the invalid one: {acts:?}"
    );
    // The summary still counts what the run left alone.
    assert!(stdout.contains("skipped_done"), "{stdout}");

    // The whole inventory, from the journal: every file with its Box id, version and SHA-1.
    let inv = work.path().join("inventory.csv");
    let state = work.path().join("report.state");
    let out = local(&[
        "report",
        "export",
        "--state",
        state.to_str().unwrap(),
        "-o",
        inv.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{out:?}");
    let mut r = csv::Reader::from_path(&inv).unwrap();
    let rows: Vec<std::collections::HashMap<String, String>> =
        r.deserialize().map(Result::unwrap).collect();
    let box_state = emu.state();
    let box_files: Vec<_> = box_state.tree.iter().filter(|e| e.kind == "file").collect();
    assert_eq!(rows.len(), 40);
    assert_eq!(box_files.len(), 40);
    for e in box_files {
        let row = rows
            .iter()
            .find(|r| r["path"] == e.path)
            .unwrap_or_else(|| panic!("{} not exported", e.path));
        assert_eq!(row["box_file_id"], e.id, "{row:?}");
        assert_eq!(row["box_folder_id"], e.parent_id, "{row:?}");
        assert_eq!(Some(row["sha1"].as_str()), e.sha1.as_deref());
        assert!(!row["box_file_version_id"].is_empty());
    }

    // `status` after the run: the journal's counts and the run's end.
    let s = status_json(&state);
    assert_eq!(s["done_files"], 40, "{s}");
    assert_eq!(s["invalid"], 1, "{s}");
    assert_eq!(s["failed"], 0, "{s}");
    assert_eq!(s["open_sessions"], 0, "{s}");
    assert_eq!(s["dest"], "0", "{s}");
    let run = &s["last_run"];
    assert_eq!(run["exit_code"], 1, "{s}");
    assert!(run["ended_at"].is_string(), "{s}");
    assert_eq!(
        run["report"],
        work.path().join("report.csv").to_str().unwrap(),
        "{s}"
    );
    assert_eq!(run["planned_files"], 41, "{s}");
    assert_eq!(run["finished_files"], 41, "{s}");
    assert_eq!(run["done_files"], 8, "{s}");
    assert_eq!(run["pending_files"], 0, "{s}");
    assert_eq!(run["scan_finished"], true, "{s}");
    assert_eq!(run["src"], t.root().to_str().unwrap(), "{s}");

    // The HTML page of the night's report counts as migrate did (0 failed, 1 invalid) and
    // names the source tree and the Box folder (from the journal beside the report).
    let page = work.path().join("night.html");
    let report = work.path().join("report.csv");
    let out = local(&[
        "report",
        "html",
        report.to_str().unwrap(),
        "-o",
        page.to_str().unwrap(),
    ]);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{out:?}");
    assert!(said.contains("0 failed, 1 invalid"), "{said}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        html.contains("id=\"failed-rows\" data-value=\"0\"")
            && html.contains("id=\"invalid-rows\" data-value=\"1\""),
        "{html}"
    );
    assert!(
        html.contains(&format!(
            "source <code>{}</code> → Box folder <code>0</code>",
            t.root().display()
        )),
        "{html}"
    );
}

#[test]
fn status_reads_a_running_job_without_disturbing_it() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..60 {
        t.file(format!("d{}/f{i}.txt", i % 3), format!("{i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("report.state");
    // 600 uploads a minute: 60 files take about 6 s, long enough to look at mid-run.
    let mut child = migrate(&emu, t.root(), work.path(), "600")
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut seen_running = false;
    loop {
        if let Some(code) = child.try_wait().unwrap() {
            assert_eq!(code.code(), Some(0));
            break;
        }
        if !state.join("state.sqlite").exists() {
            std::thread::yield_now();
            continue;
        }
        // The report is written after the journal commits: read it first, then the journal.
        let reported = read_report(&work.path().join("report.csv"))
            .map(|r| r.iter().filter(|r| r.kind == Kind::File).count())
            .unwrap_or(0);
        let s = status_json(&state);
        let run = &s["last_run"];
        if run.is_null() || !run["exit_code"].is_null() {
            std::thread::sleep(std::time::Duration::from_millis(20));
            continue;
        }
        let done = s["done_files"].as_u64().unwrap();
        assert!(done as usize >= reported, "{s} vs {reported} report rows");
        assert!(done <= 60, "{s}");
        if done > 0 && done < 60 {
            seen_running = true;
            assert!(run["ended_at"].is_null(), "{s}");
            assert_eq!(
                run["pending_files"].as_u64().unwrap(),
                run["planned_files"].as_u64().unwrap() - run["finished_files"].as_u64().unwrap()
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(seen_running, "status never saw the run in progress");
    let s = status_json(&state);
    assert_eq!(s["done_files"], 60, "{s}");
    assert_eq!(s["last_run"]["exit_code"], 0, "{s}");
    assert_eq!(s["last_run"]["pending_files"], 0, "{s}");
    assert_eq!(emu.state().counters.uploads, 60);
}
