//! `boxlift verify` gives the same report and exit code whatever the order of the manifest's
//! rows (issue 13: verify now reads the manifest through an on-disk index keyed by folder, so
//! its result must not depend on the order rows arrive in), with every kind of difference.
use std::path::Path;
use std::process::Output;

use boxlift::emulator::EmulatorConfig;
use boxlift::manifest::write::Writer;
use boxlift::manifest::{Kind, ManifestRow, SkipReason, Status};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::common::boxlift_bin;
use crate::common::emu::{Emu, sha1_hex};

fn row(path: &str, kind: Kind, size: u64, sha1: &str) -> ManifestRow {
    ManifestRow {
        path: path.into(),
        kind,
        size,
        mtime: None,
        sha1: sha1.into(),
        status: Status::Ok,
        detail: String::new(),
    }
}

fn write_manifest(path: &Path, rows: &[ManifestRow]) {
    let mut w = Writer::new(std::fs::File::create(path).unwrap()).unwrap();
    for r in rows {
        w.write(r).unwrap();
    }
    w.flush().unwrap();
}

fn verify(emu: &Emu, manifest: &Path, report: Option<&Path>) -> Output {
    let mut c = std::process::Command::new(boxlift_bin());
    c.args([
        "verify",
        "--manifest",
        manifest.to_str().unwrap(),
        "--dest",
        "0",
    ])
    .args(["--api-url", &emu.handle.api_url()])
    .args(["--upload-url", &emu.handle.upload_url()])
    .args(["--oauth-url", &emu.handle.oauth_url()])
    .args(["--developer-token", "dev-token"])
    .env_remove("BOX_DEVELOPER_TOKEN")
    .env("BOXLIFT_LOG", "warn");
    if let Some(r) = report {
        c.args(["--report", r.to_str().unwrap()]);
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reports_the_same_differences_whatever_the_manifest_order() {
    let emu = Emu::with(EmulatorConfig::default());
    // Box: docs/ with 30 matching files and three that differ, a twin folder, an extra file.
    let docs = emu.mkdir_ok("0", "Docs").await;
    let sub = emu.mkdir_ok(&docs, "sub").await;
    let mut rows = vec![
        row("docs", Kind::Dir, 0, ""),
        row("docs/sub", Kind::Dir, 0, ""),
    ];
    for i in 0..30 {
        let body = format!("file {i}");
        let (parent, dir) = if i % 2 == 0 {
            (&docs, "docs")
        } else {
            (&sub, "docs/sub")
        };
        emu.upload_ok(parent, &format!("f{i}.txt"), body.as_bytes())
            .await;
        rows.push(row(
            &format!("{dir}/F{i}.txt"),
            Kind::File,
            body.len() as u64,
            &sha1_hex(body.as_bytes()),
        ));
    }
    emu.upload_ok(&docs, "short.txt", b"abc").await;
    rows.push(row("docs/short.txt", Kind::File, 4, &sha1_hex(b"abcd")));
    emu.upload_ok(&docs, "other.txt", b"abc").await;
    rows.push(row("docs/other.txt", Kind::File, 3, &sha1_hex(b"xyz")));
    emu.upload_ok("0", "stray.txt", b"stray").await;
    rows.push(row("docs/gone.txt", Kind::File, 5, &sha1_hex(b"gone!")));
    rows.push(row("lost", Kind::Dir, 0, ""));
    rows.push(row("lost/deeper", Kind::Dir, 0, ""));
    rows.push(row("lost/deeper/x.bin", Kind::File, 1, &sha1_hex(b"x")));
    emu.handle.set_switches(|s| s.folder_race = true);
    let (a, b) = tokio::join!(emu.mkdir("0", "race"), emu.mkdir("0", "race"));
    assert_eq!((a.0, b.0), (201, 201), "the race makes twin folders");
    emu.handle.set_switches(|s| s.folder_race = false);
    rows.push(row("race", Kind::Dir, 0, ""));
    // Not `ok`: not expected in Box, never reported.
    let mut skipped = row("docs/link", Kind::File, 0, "");
    skipped.status = Status::Skipped(SkipReason::Symlink);
    rows.push(skipped);

    let work = tempfile::tempdir().unwrap();
    let mut baseline: Option<(Option<i32>, String, String)> = None;
    for seed in 0..5u64 {
        let mut order = rows.clone();
        match seed {
            0 => {}
            1 => order.reverse(),
            _ => order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed)),
        }
        let m = work.path().join(format!("manifest-{seed}.csv"));
        write_manifest(&m, &order);
        let listed = verify(&emu, &m, None);
        let report = work.path().join(format!("verify-{seed}.csv"));
        let csv = verify(&emu, &m, Some(&report));
        assert_eq!(listed.status.code(), csv.status.code());
        let got = (
            listed.status.code(),
            String::from_utf8(listed.stdout).unwrap(),
            std::fs::read_to_string(&report).unwrap(),
        );
        match &baseline {
            None => baseline = Some(got),
            Some(b) => assert_eq!(&got, b, "order {seed} changed verify's result"),
        }
    }
    let (code, stdout, report) = baseline.unwrap();
    assert_eq!(code, Some(1), "{stdout}");
    let problems: Vec<(String, String)> = report
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect();
    let want = [
        ("docs/gone.txt", "missing"),
        ("docs/other.txt", "sha1_mismatch"),
        ("docs/short.txt", "size_mismatch"),
        ("lost", "missing"),
        ("lost/deeper", "missing"),
        ("lost/deeper/x.bin", "missing"),
        ("race", "extra"),
        ("race", "duplicate_folder"),
        ("stray.txt", "extra"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(p, k)| (p.to_string(), k.to_string()))
        .collect();
    assert_eq!(problems, want, "{report}");
    assert!(
        stdout.contains("verify: 39 manifest rows; 30 files and 3 folders match; 9 differences"),
        "{stdout}"
    );
}

/// A chain of `depth` nested folders in Box, each with one file, and its manifest plus one file
/// Box lacks. Each folder is listed only once its parent's listing came back, so with the
/// emulator's per-request latency L the verify lasts at least (depth + 1) × L: long enough for
/// the progress thread to print while verify runs.
async fn deep_tree(emu: &Emu, manifest: &Path, depth: usize) -> usize {
    let mut rows = Vec::new();
    let (mut parent, mut rel) = ("0".to_string(), String::new());
    for level in 0..depth {
        let name = format!("level{level}");
        parent = emu.mkdir_ok(&parent, &name).await;
        rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        rows.push(row(&rel, Kind::Dir, 0, ""));
        let body = format!("file at level {level}");
        emu.upload_ok(&parent, "f.txt", body.as_bytes()).await;
        rows.push(row(
            &format!("{rel}/f.txt"),
            Kind::File,
            body.len() as u64,
            &sha1_hex(body.as_bytes()),
        ));
    }
    rows.push(row("gone.txt", Kind::File, 5, &sha1_hex(b"gone!")));
    write_manifest(manifest, &rows);
    rows.len()
}

/// `boxlift verify --json` against `emu`, stdout piped, with `extra` arguments.
fn verify_json(emu: &Emu, manifest: &Path, extra: &[&str]) -> std::process::Command {
    let mut c = std::process::Command::new(boxlift_bin());
    c.args(["verify", "--json", "--manifest", manifest.to_str().unwrap()])
        .args(["--dest", "0", "--api-url", &emu.handle.api_url()])
        .args(["--upload-url", &emu.handle.upload_url()])
        .args(["--oauth-url", &emu.handle.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .args(extra)
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env_remove("BOXLIFT_CONFIG")
        .env("BOXLIFT_LOG", "warn")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped());
    c
}

/// Run `cmd` to its end, or fail the test (killing it) if it is not done within `limit`: a
/// hang must never hang the test run. `stderr_reader`, if given, is drained meanwhile (a pty
/// master). Returns the exit code, stdout, and stderr (piped, or read from the pty).
fn run_bounded(
    mut cmd: std::process::Command,
    limit: std::time::Duration,
    stderr_reader: Option<std::fs::File>,
) -> (Option<i32>, String, String) {
    use std::io::Read;
    let mut child = cmd.spawn().expect("boxlift starts");
    // Our copy of the pty's slave end (held by `cmd`) must close, or its reader never ends.
    drop(cmd);
    let pid = child.id();
    let drain = |mut r: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            // A pty master reads EIO once the slave side is closed: the end of its output.
            let _ = r.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        })
    };
    let out = drain(Box::new(child.stdout.take().expect("stdout piped")));
    let err = match (child.stderr.take(), stderr_reader) {
        (Some(piped), _) => drain(Box::new(piped)),
        (None, Some(pty)) => drain(Box::new(pty)),
        (None, None) => drain(Box::new(std::io::empty())),
    };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(limit) {
        Ok(status) => {
            let code = status.expect("wait for boxlift").code();
            (code, out.join().unwrap(), err.join().unwrap())
        }
        Err(_) => {
            // SAFETY: kill(2) with a pid we spawned and have not reaped (the waiter thread
            // still waits on it), so it names our child.
            unsafe { libc::kill(pid as libc::pid_t, libc::SIGKILL) };
            panic!("boxlift verify did not finish within {limit:?} (deadlock?)");
        }
    }
}

/// The JSON summary on stdout: one difference (`gone.txt`), the rest matched.
fn assert_json_summary(stdout: &str, rows: usize) {
    let v: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(v["command"], "verify", "{v}");
    assert_eq!(v["expected_rows"], rows as u64, "{v}");
    assert_eq!(v["differences"], 1, "{v}");
    assert_eq!(v["problems"]["missing"], 1, "{v}");
    assert_eq!(v["exit_code"], 1, "{v}");
}

/// A status line as the progress thread prints it when stderr is not a terminal.
fn is_status_line(l: &str) -> bool {
    l.starts_with("boxlift: ") && l.contains(" files, ") && l.contains(" MB/s")
}

const BOUND: std::time::Duration = std::time::Duration::from_secs(90);

#[tokio::test(flavor = "multi_thread")]
async fn verify_json_without_report_completes_when_piped_while_status_lines_print() {
    let emu = Emu::with(EmulatorConfig::default());
    let work = tempfile::tempdir().unwrap();
    let manifest = work.path().join("manifest.csv");
    let rows = deep_tree(&emu, &manifest, 6).await;
    // 7 listings in a chain at 300 ms each: over 2 s, so a status line (every second) prints
    // while the differences' writer is open.
    emu.handle.set_switches(|s| s.latency_ms = 300);
    let cmd = verify_json(&emu, &manifest, &["--status-interval", "1"]);
    let mut cmd = cmd;
    cmd.stderr(std::process::Stdio::piped());
    let (code, stdout, stderr) = tokio::task::spawn_blocking(move || run_bounded(cmd, BOUND, None))
        .await
        .unwrap();
    assert_eq!(code, Some(1), "{stderr}");
    assert_json_summary(&stdout, rows);
    assert!(
        stderr.lines().any(is_status_line),
        "no status line: {stderr}"
    );
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("missing") && l.contains("gone.txt")),
        "the difference is listed on stderr: {stderr}"
    );
    assert!(
        stderr.contains("verify: 13 manifest rows; 6 files and 6 folders match; 1 differences"),
        "{stderr}"
    );
}

// openpty(3)'s signature (const or mut window size) differs between the Unixes libc covers.
#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread")]
async fn verify_json_without_report_completes_on_a_terminal() {
    use std::os::fd::{FromRawFd, OwnedFd};
    let emu = Emu::with(EmulatorConfig::default());
    let work = tempfile::tempdir().unwrap();
    let manifest = work.path().join("manifest.csv");
    let rows = deep_tree(&emu, &manifest, 6).await;
    // Over 2 s of listings: the bar is drawn (every 200 ms) while verify runs.
    emu.handle.set_switches(|s| s.latency_ms = 300);
    let (mut master, mut slave) = (-1, -1);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: 100,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two fds into the out-parameters; the name and termios may be
    // null; the winsize outlives the call.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both fds were just opened by openpty and are owned by nothing else.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = verify_json(&emu, &manifest, &[]);
    cmd.stderr(std::process::Stdio::from(slave))
        .env("TERM", "xterm-256color");
    let master = std::fs::File::from(master);
    let (code, stdout, tty) =
        tokio::task::spawn_blocking(move || run_bounded(cmd, BOUND, Some(master)))
            .await
            .unwrap();
    assert_eq!(code, Some(1), "{tty}");
    assert_json_summary(&stdout, rows);
    assert!(
        tty.contains("verify: 13 manifest rows; 6 files and 6 folders match; 1 differences"),
        "{tty}"
    );
    assert!(tty.contains("gone.txt"), "{tty}");
    assert!(
        !tty.lines().any(is_status_line),
        "a bar on a terminal, not status lines: {tty}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_progress_flags_choose_status_lines_or_none_off_a_terminal() {
    let emu = Emu::with(EmulatorConfig::default());
    let work = tempfile::tempdir().unwrap();
    let manifest = work.path().join("manifest.csv");
    deep_tree(&emu, &manifest, 6).await;
    emu.handle.set_switches(|s| s.latency_ms = 300);
    let run = |extra: &[&str]| {
        let mut cmd = verify_json(&emu, &manifest, extra);
        // Status events are shown at the default verbosity.
        cmd.env_remove("BOXLIFT_LOG")
            .stderr(std::process::Stdio::piped());
        run_bounded(cmd, BOUND, None)
    };
    let (code, _, stderr) = run(&["--progress", "lines", "--status-interval", "1"]);
    assert_eq!(code, Some(1), "{stderr}");
    let status: Vec<&str> = stderr.lines().filter(|l| is_status_line(l)).collect();
    assert!(!status.is_empty(), "{stderr}");
    assert!(status.iter().all(|l| l.contains("/7 files")), "{status:?}");
    let (code, _, stderr) = run(&["--progress", "none", "--status-interval", "1"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!stderr.lines().any(is_status_line), "{stderr}");
    // Under --log-format json the status lines are JSON events with the counters as fields.
    let (code, _, stderr) = run(&["--status-interval", "1", "--log-format", "json"]);
    assert_eq!(code, Some(1), "{stderr}");
    let events: Vec<serde_json::Value> = stderr
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .filter(|v: &serde_json::Value| v["fields"]["message"] == "status")
        .collect();
    assert!(!events.is_empty(), "{stderr}");
    assert_eq!(events[0]["fields"]["files_total"], 7, "{stderr}");
}

/// Items in Box that the source lacks: listed as `extra` either way; they fail the run (exit 1)
/// only with `--exact`. Trashed items are not in Box's listings, so trashing the extras makes
/// an exact verify pass: what a cutover run with deletions must reach.
#[tokio::test(flavor = "multi_thread")]
async fn extras_fail_only_with_exact_and_trashed_items_are_not_extra() {
    let emu = Emu::with(EmulatorConfig::default());
    let docs = emu.mkdir_ok("0", "docs").await;
    emu.upload_ok(&docs, "kept.txt", b"kept").await;
    let stray = emu.upload_ok(&docs, "stray.txt", b"stray").await;
    let old = emu.mkdir_ok("0", "old").await;
    emu.upload_ok(&old, "inside.txt", b"inside").await;
    let rows = [
        row("docs", Kind::Dir, 0, ""),
        row("docs/kept.txt", Kind::File, 4, &sha1_hex(b"kept")),
    ];
    let work = tempfile::tempdir().unwrap();
    let m = work.path().join("manifest.csv");
    write_manifest(&m, &rows);
    let run = |exact: bool| {
        let mut cmd = verify_json(&emu, &m, if exact { &["--exact"] } else { &[] });
        cmd.stderr(std::process::Stdio::piped());
        run_bounded(cmd, BOUND, None)
    };
    let summary = |stdout: &str| -> serde_json::Value {
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"))
    };

    let (code, stdout, stderr) = run(false);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let v = summary(&stdout);
    assert_eq!(
        (
            &v["differences"],
            &v["failing"],
            &v["exact"],
            &v["exit_code"]
        ),
        (&2.into(), &0.into(), &false.into(), &0.into()),
        "{v}"
    );
    assert_eq!(v["problems"]["extra"], 2, "{v}");
    // Both extras are listed (the folder once, not its content), and the line says why they pass.
    let extra_lines: Vec<&str> = stderr.lines().filter(|l| l.starts_with("extra")).collect();
    assert_eq!(extra_lines.len(), 2, "{stderr}");
    assert!(
        extra_lines.iter().any(|l| l.contains(" docs/stray.txt ")),
        "{stderr}"
    );
    assert!(extra_lines.iter().any(|l| l.contains(" old ")), "{stderr}");
    assert!(
        stderr.contains("extra items do not fail without --exact"),
        "{stderr}"
    );

    let (code, stdout, stderr) = run(true);
    assert_eq!(code, Some(1), "{stdout}\n{stderr}");
    let v = summary(&stdout);
    assert_eq!(
        (&v["failing"], &v["exact"]),
        (&2.into(), &true.into()),
        "{v}"
    );
    assert!(!stderr.contains("do not fail"), "{stderr}");

    // Trash the extras (as `--delete-missing` does): an exact verify now passes.
    let (status, _) = crate::common::emu::send(emu.delete(&format!("/2.0/files/{stray}"))).await;
    assert_eq!(status, 204);
    let (status, _) =
        crate::common::emu::send(emu.delete(&format!("/2.0/folders/{old}?recursive=true"))).await;
    assert_eq!(status, 204);
    let (code, stdout, stderr) = run(true);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let v = summary(&stdout);
    assert_eq!(
        (&v["differences"], &v["failing"]),
        (&0.into(), &0.into()),
        "{v}"
    );
    // A missing file still fails without --exact.
    write_manifest(
        &m,
        &[
            rows[0].clone(),
            rows[1].clone(),
            row("docs/new.txt", Kind::File, 3, &sha1_hex(b"new")),
        ],
    );
    let (code, stdout, _) = run(false);
    assert_eq!(code, Some(1), "{stdout}");
    assert_eq!(summary(&stdout)["failing"], 1);
}
