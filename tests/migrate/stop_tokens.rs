//! Credentials revoked mid-run stop the job through the binary: a developer token revoked, and
//! client credentials with the token revoked and every refresh refused. Exit 2 within 10 s of
//! the revocation, few rows failed, few token requests after it, one message saying why; then
//! a re-run with good credentials completes exactly.
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::model::Action;

use super::{assert_tree_landed, manifest, report};
use crate::common::boxlift_bin;
use crate::common::tree::Tree;

const CONCURRENCY: usize = 8;
const FILES: usize = 2000;

fn tree(t: &Tree) {
    for i in 0..FILES {
        t.file(
            format!("d{}/f{i:04}.txt", i % 10),
            format!("file {i}\n").repeat(1 + i % 7).as_bytes(),
        );
    }
}

/// A paced emulator: 100 uploads a second per user, so 2,000 files take 20 s or more and the
/// revocation lands mid-run.
fn paced_emulator() -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        upload_rate_limit: Some(100.0),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// `boxlift migrate` of `src` into the root with these credential arguments.
fn migrate(emu: &EmulatorHandle, creds: &[&str], src: &Tree, work: &std::path::Path) -> Command {
    let mut c = Command::new(boxlift_bin());
    c.args(["migrate", src.root().to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--progress", "none"])
        .args(["--concurrency", &CONCURRENCY.to_string()])
        // The emulator paces (429 + Retry-After), not the client.
        .args(["--api-calls-per-minute", "10000000"])
        .args(["--uploads-per-minute", "10000000"])
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(creds)
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    c
}

fn token_requests(emu: &EmulatorHandle) -> u64 {
    emu.state()
        .counters
        .requests
        .get("POST /oauth2/token")
        .map_or(0, |by| by.values().sum())
}

/// Figures of one stopped run.
#[derive(Debug)]
struct Stopped {
    stderr: String,
    failed: usize,
    token_requests_after: u64,
    secs_to_exit: f64,
    files_at_revocation: u64,
}

/// Start the run, wait until 200 files are in Box (a state change, not a sleep), call `revoke`,
/// and measure until the process exits.
fn run_and_revoke(mut cmd: Command, emu: &EmulatorHandle, revoke: impl FnOnce()) -> Stopped {
    let started = Instant::now();
    let mut child: Child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(120);
    while emu.state().counters.files_created < 200 {
        assert!(Instant::now() < deadline, "the run never reached 200 files");
        assert!(child.try_wait().unwrap().is_none(), "the run ended early");
        std::thread::sleep(Duration::from_millis(20));
    }
    let files_at_revocation = emu.state().counters.files_created;
    eprintln!("revoked after {:.1} s", started.elapsed().as_secs_f64());
    let tokens_before = token_requests(emu);
    revoke();
    let revoked = Instant::now();
    let out = child.wait_with_output().unwrap();
    let secs_to_exit = revoked.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    Stopped {
        failed: 0,
        token_requests_after: token_requests(emu) - tokens_before,
        secs_to_exit,
        files_at_revocation,
        stderr,
    }
}

/// What every stopped run must show, and the re-run that completes.
fn assert_stopped_then_rerun(
    emu: &EmulatorHandle,
    mut stopped: Stopped,
    work: &std::path::Path,
    why: &str,
    rerun: Command,
) {
    let rows = report(work);
    stopped.failed = rows.iter().filter(|r| r.action() == Action::Failed).count();
    eprintln!("{stopped:?}");
    let stderr = &stopped.stderr;
    assert!(stopped.secs_to_exit <= 10.0, "{stopped:?}");
    assert!(stopped.failed <= CONCURRENCY + 8, "{stopped:?}");
    assert!(stopped.token_requests_after <= 10, "{stopped:?}");
    assert!(
        (stopped.files_at_revocation as usize) < FILES,
        "revoked after the end: {stopped:?}"
    );
    // Said once, on the one job-stop line; no per-row lines.
    assert_eq!(stderr.matches("the job stopped").count(), 1, "{stderr}");
    assert_eq!(stderr.matches(why).count(), 1, "{why:?} in:\n{stderr}");
    let noisy: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("WARN") || l.contains("ERROR"))
        .collect();
    assert!(noisy.is_empty(), "{noisy:?}");
    // A re-run with good credentials completes exactly (unpaced: the pacing was only there to
    // make the first run last past the revocation).
    emu.set_switches(|s| s.upload_rate_limit = None);
    let mut rerun = rerun;
    let started = Instant::now();
    let out = rerun.output().unwrap();
    eprintln!("re-run: {:.1} s", started.elapsed().as_secs_f64());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_tree_landed(emu, &manifest(work));
}

#[test]
fn a_developer_token_revoked_mid_run_stops_the_job_then_a_new_token_completes_it() {
    let emu = paced_emulator();
    let t = Tree::new();
    tree(&t);
    let work = tempfile::tempdir().unwrap();
    let creds = ["--developer-token", "dev-token"];
    let stopped = run_and_revoke(migrate(&emu, &creds, &t, work.path()), &emu, || {
        emu.revoke_tokens();
    });
    emu.add_developer_token("dev-token-2");
    let rerun = migrate(&emu, &["--developer-token", "dev-token-2"], &t, work.path());
    assert_stopped_then_rerun(
        &emu,
        stopped,
        work.path(),
        "Box refused the developer token",
        rerun,
    );
}

#[test]
fn client_credentials_revoked_and_refused_mid_run_stop_the_job_then_a_rerun_completes_it() {
    let emu = paced_emulator();
    let t = Tree::new();
    tree(&t);
    let work = tempfile::tempdir().unwrap();
    let creds = [
        "--client-id",
        "emu-client",
        "--client-secret",
        "emu-secret",
        "--subject-id",
        "1",
    ];
    let stopped = run_and_revoke(migrate(&emu, &creds, &t, work.path()), &emu, || {
        emu.refuse_grants(true);
        emu.revoke_tokens();
    });
    emu.refuse_grants(false);
    let rerun = migrate(&emu, &creds, &t, work.path());
    assert_stopped_then_rerun(&emu, stopped, work.path(), "invalid_grant", rerun);
}
