//! A newcomer's first minutes: `--version` names the commit, shell completions and the man page
//! come from the real command definition, and the emulator prints the lines to paste.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::common::boxlift_bin;

#[test]
fn version_names_the_git_commit() {
    let out = Command::new(boxlift_bin())
        .arg("--version")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    // `boxlift 0.1.0 (0123456789ab)`, or `(unknown)` when built outside a git checkout.
    let inner = text
        .trim()
        .strip_prefix(concat!("boxlift ", env!("CARGO_PKG_VERSION"), " ("))
        .and_then(|s| s.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        inner == "unknown" || (inner.len() >= 7 && inner.chars().all(|c| c.is_ascii_hexdigit())),
        "{text}"
    );
}

#[test]
fn completions_and_man_page_cover_every_verb() {
    let run = |args: &[&str]| {
        let out = Command::new(boxlift_bin()).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}: {out:?}");
        String::from_utf8(out.stdout).unwrap()
    };
    let bash = run(&["completions", "bash"]);
    for verb in [
        "migrate",
        "status",
        "export",
        "--keep-reports",
        "--report-all",
    ] {
        assert!(bash.contains(verb), "bash completion lacks {verb}");
    }
    assert!(run(&["completions", "zsh"]).contains("#compdef boxlift"));
    let man = run(&["man"]);
    assert!(
        man.starts_with(".ie") || man.contains(".TH boxlift"),
        "{man}"
    );
    assert!(man.contains("migrate") && man.contains("status"));
    let dir = tempfile::tempdir().unwrap();
    run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(dir.path().join("boxlift.1").is_file());
    assert!(dir.path().join("boxlift-migrate.1").is_file());
}

#[test]
fn the_emulator_prints_the_lines_to_paste() {
    let mut child = Command::new(boxlift_bin())
        .args(["emulator", "--listen", "127.0.0.1:0"])
        .env_remove("BOX_EMULATOR_DEVELOPER_TOKEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let url = first
        .strip_prefix("listening on ")
        .expect("first line")
        .to_string();
    let mut pasted = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let done = line.starts_with("# then");
        pasted.push(line);
        if done {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let text = pasted.join("\n");
    assert!(
        text.contains(&format!("export BOX_API_URL={url}/2.0")),
        "{text}"
    );
    assert!(
        text.contains(&format!("export BOX_UPLOAD_URL={url}/api/2.0")),
        "{text}"
    );
    assert!(
        text.contains(&format!("export BOX_OAUTH_URL={url}/oauth2/token")),
        "{text}"
    );
    assert!(
        text.contains("export BOX_DEVELOPER_TOKEN=dev-token"),
        "{text}"
    );
}
