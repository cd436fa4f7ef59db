//! boxlift over TLS (issue 11): with the right `--ca-cert` it migrates through the emulator's
//! TLS listener; with an untrusted certificate, or one for another host, it stops at once
//! (exit 2, one connection attempt, no retry) and says which host, why, and `--ca-cert`.
use std::path::Path;
use std::process::{Command, Output};

use boxlift::emulator::EmulatorHandle;

use crate::common::boxlift_bin;
use crate::common::tls::{TestCa, tls_emulator};
use crate::common::tree::Tree;

fn migrate(emu: &EmulatorHandle, src: &Path, work: &Path, ca: Option<&Path>) -> Output {
    let base = emu.base_url();
    let mut c = Command::new(boxlift_bin());
    c.args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--progress", "none"])
        .args(["--api-url", &format!("{base}/2.0")])
        .args(["--upload-url", &format!("{base}/api/2.0")])
        .args(["--oauth-url", &format!("{base}/oauth2/token")])
        .args(["--developer-token", "dev-token"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_LOG", "debug");
    if let Some(ca) = ca {
        c.args(["--ca-cert", ca.to_str().unwrap()]);
    }
    c.output().expect("run boxlift")
}

fn small_tree() -> Tree {
    let t = Tree::new();
    t.file("a.txt", b"over TLS");
    t.file("docs/b.txt", b"trusted by --ca-cert");
    t
}

#[test]
fn with_the_right_ca_cert_boxlift_migrates_over_tls() {
    let work = tempfile::tempdir().unwrap();
    let ca = TestCa::new(work.path(), "good");
    let (cert, key) = ca.server_cert("emu", &["127.0.0.1", "localhost"]);
    let emu = tls_emulator(&cert, &key);
    assert!(emu.base_url().starts_with("https://"));
    let t = small_tree();
    let out = migrate(&emu, t.root(), work.path(), Some(&ca.ca_pem));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let state = emu.state();
    let paths: Vec<&str> = state.tree.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["a.txt", "docs", "docs/b.txt"]);
    assert!(state.counters.tls_handshakes > 0);
    assert_eq!(state.counters.tls_handshakes_failed, 0);
}

/// Exit 2 at once: the emulator saw exactly one handshake (refused) and no request; the log has
/// no retry; the message names the host, the certificate problem and `--ca-cert`.
fn assert_stops_at_once(emu: &EmulatorHandle, out: &Output, problem: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for needle in [problem, "127.0.0.1", "--ca-cert"] {
        assert!(
            stderr.contains(needle),
            "{needle:?} missing from:\n{stderr}"
        );
    }
    assert!(!stderr.contains("retrying"), "retried:\n{stderr}");
    assert!(!stderr.contains("gave up after"), "retried:\n{stderr}");
    // The refused handshake is counted when the emulator reads the client's alert, which may
    // be just after boxlift exits: wait for it (bounded), then check nothing else happened.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while emu.state().counters.tls_handshakes_failed == 0 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let c = emu.state().counters;
    assert_eq!(c.total_requests(), 0, "{c:?}");
    assert_eq!((c.tls_handshakes, c.tls_handshakes_failed), (0, 1), "{c:?}");
}

#[test]
fn an_untrusted_certificate_stops_at_once_with_exit_2_and_says_why() {
    let work = tempfile::tempdir().unwrap();
    let ca = TestCa::new(work.path(), "unknown");
    let (cert, key) = ca.server_cert("emu", &["127.0.0.1", "localhost"]);
    let emu = tls_emulator(&cert, &key);
    let t = small_tree();
    // No --ca-cert: the test CA is in no trust store.
    let out = migrate(&emu, t.root(), work.path(), None);
    assert_stops_at_once(
        &emu,
        &out,
        "certificate of 127.0.0.1 not trusted (UnknownIssuer)",
    );
}

#[test]
fn a_certificate_for_another_host_stops_at_once_with_exit_2_and_names_the_host() {
    let work = tempfile::tempdir().unwrap();
    let ca = TestCa::new(work.path(), "other");
    let (cert, key) = ca.server_cert("emu", &["other.example"]);
    let emu = tls_emulator(&cert, &key);
    let t = small_tree();
    // The CA is trusted, but the certificate names another host.
    let out = migrate(&emu, t.root(), work.path(), Some(&ca.ca_pem));
    assert_stops_at_once(&emu, &out, "certificate is not valid for host 127.0.0.1");
}
