//! The config file (`--config`, `BOXLIFT_CONFIG`) and `--log-format json`, end to end: the built
//! binary against an in-process emulator over HTTP. Assertions read the emulator's tree and the
//! report, and parse every stderr line.
use std::path::Path;
use std::process::{Command, Output};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::report::read_report;
use serde_json::Value;

use crate::common::boxlift_bin;
use crate::common::emu::sha1_hex;
use crate::common::tree::Tree;

/// A tree of `n` small distinct files in a few folders; returns (path, SHA-1) of each file.
fn small_tree(t: &Tree, n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let rel = format!("d{}/f{i}.txt", i % 4);
            let body = format!("file {i}\n").repeat(1 + i % 7);
            t.file(&rel, body.as_bytes());
            (rel, sha1_hex(body.as_bytes()))
        })
        .collect()
}

/// The binary with no BOX_* or BOXLIFT_* variables inherited from the caller's environment.
fn boxlift() -> Command {
    let mut c = Command::new(boxlift_bin());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("BOX_") || k.starts_with("BOXLIFT_") || k == "SSL_CERT_FILE" {
            c.env_remove(k);
        }
    }
    c
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Every file of the tree is in the emulator at its path with its SHA-1.
fn assert_landed(emu: &EmulatorHandle, files: &[(String, String)]) {
    let state = emu.state();
    for (path, sha1) in files {
        let e = state
            .tree
            .iter()
            .find(|e| &e.path == path)
            .unwrap_or_else(|| panic!("{path} is not in Box"));
        assert_eq!(e.sha1.as_deref(), Some(sha1.as_str()), "{path}");
    }
}

fn toml_str(p: &Path) -> String {
    format!("{:?}", p.to_str().unwrap())
}

#[test]
fn config_file_drives_migrate_under_flags_and_env() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let files = small_tree(&t, 12);
    let work = tempfile::tempdir().unwrap();
    let from_file = work.path().join("from-file.csv");
    let from_flag = work.path().join("from-flag.csv");
    let cfg = work.path().join("boxlift.toml");
    // The upload URL in the file is wrong on purpose: the env var must win over it.
    std::fs::write(
        &cfg,
        format!(
            "log-format = \"text\"\n\
             [box]\n\
             api-url = {api:?}\n\
             upload_url = \"http://127.0.0.1:9/not-here\"\n\
             oauth-url = {oauth:?}\n\
             developer-token = \"dev-token\"\n\
             api-calls-per-minute = 10000000\n\
             uploads-per-minute = 10000000\n\
             [migrate]\n\
             src = {src}\n\
             dest = 0\n\
             report = {report}\n\
             progress = \"none\"\n\
             concurrency = 4\n\
             on-conflict = \"skip\"\n\
             exclude = [\"*.never\"]\n",
            api = emu.api_url(),
            oauth = emu.oauth_url(),
            src = toml_str(t.root()),
            report = toml_str(&from_file),
        ),
    )
    .unwrap();

    // Flag beats file (--report), env beats file (BOX_UPLOAD_URL), file beats default (the rest).
    let out = boxlift()
        .current_dir(work.path())
        .args(["--config", cfg.to_str().unwrap(), "migrate"])
        .args(["--report", from_flag.to_str().unwrap()])
        .env("BOX_UPLOAD_URL", emu.upload_url())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_landed(&emu, &files);
    let rows = read_report(&from_flag).unwrap();
    assert_eq!(
        rows.iter()
            .filter(|r| r.action().to_string() == "uploaded")
            .count(),
        files.len()
    );
    assert!(!from_file.exists(), "the flag's report path must win");
    assert!(!work.path().join("boxlift-report.csv").exists());

    // BOXLIFT_CONFIG names the file; without --report the file's report path is used. The
    // wrong upload URL from the file is harmless here: nothing is left to upload.
    let out = boxlift()
        .current_dir(work.path())
        .arg("migrate")
        .env("BOXLIFT_CONFIG", &cfg)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let rows = read_report(&from_file).unwrap();
    assert_eq!(
        rows.iter().filter(|r| r.kind.as_str() == "file").count(),
        files.len()
    );
    assert!(
        rows.iter()
            .filter(|r| r.kind.as_str() == "file")
            .all(|r| r.action().to_string() == "skipped_exists"),
        "a new state dir beside the new report: Box already holds every file"
    );
}

#[test]
fn bad_config_exits_2_naming_file_and_key_and_never_the_secret() {
    let work = tempfile::tempdir().unwrap();
    let cfg = work.path().join("bad.toml");
    std::fs::write(
        &cfg,
        "[box]\nclient-secret = \"s3cret-value-xyz\"\n[migrate]\nconcurency = 3\n",
    )
    .unwrap();
    for json in [false, true] {
        let mut c = boxlift();
        c.args([
            "--config",
            cfg.to_str().unwrap(),
            "migrate",
            ".",
            "--dest",
            "0",
        ]);
        if json {
            c.args(["--log-format", "json"]);
        }
        let out = c.output().unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(cfg.to_str().unwrap()), "{err}");
        assert!(
            err.contains("unknown key `concurency` in [migrate]"),
            "{err}"
        );
        assert!(err.contains("valid keys: "), "{err}");
        assert!(err.contains("concurrency"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        if json {
            let v: Value = serde_json::from_str(err.trim()).expect("one JSON line");
            assert_eq!(v["level"], "ERROR", "{v}");
        }
    }
    // Unparseable: position, not text.
    std::fs::write(&cfg, "[box]\nclient-secret = \"s3cret-value-xyz\n").unwrap();
    let out = boxlift()
        .args([
            "--config",
            cfg.to_str().unwrap(),
            "migrate",
            ".",
            "--dest",
            "0",
        ])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("not valid TOML at line 2"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn json_logs_make_every_stderr_line_json_with_status_events() {
    // Latency stretches the run over a few status intervals.
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 40,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    let files = small_tree(&t, 80);
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.csv");
    let out = boxlift()
        .args(["--log-format", "json", "-v", "migrate"])
        .arg(t.root())
        .args(["--dest", "0", "--report", report.to_str().unwrap()])
        .args(["--progress", "auto", "--status-interval", "1"])
        .args(["--concurrency", "2"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .args(["--api-calls-per-minute", "10000000"])
        .args(["--uploads-per-minute", "10000000"])
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert_landed(&emu, &files);
    let events: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    let status: Vec<&Value> = events
        .iter()
        .filter(|e| e["fields"]["message"] == "status")
        .collect();
    assert!(!status.is_empty(), "no status event in:\n{err}");
    for s in &status {
        assert_eq!(s["target"], "boxlift::status", "{s}");
        assert_eq!(s["level"], "INFO", "{s}");
        let f = &s["fields"];
        for k in ["files_done", "files_total", "bytes_done", "bytes_total"] {
            assert!(f[k].is_u64(), "{k} in {s}");
        }
        for k in [
            "retries",
            "throttled_429",
            "failed",
            "elapsed_s",
            "bytes_per_s",
        ] {
            assert!(f[k].is_u64(), "{k} in {s}");
        }
        assert!(
            f["mb_per_s"].is_number() && f["files_per_s"].is_number(),
            "{s}"
        );
        assert!(f["scan_done"].is_boolean(), "{s}");
        assert!(f["files_done"].as_u64() <= f["files_total"].as_u64(), "{s}");
    }
    let done = events
        .iter()
        .find(|e| e["fields"]["message"] == "migrate finished")
        .unwrap_or_else(|| panic!("no summary event in:\n{err}"));
    assert_eq!(done["fields"]["uploaded"], files.len() as u64, "{done}");
    assert_eq!(done["fields"]["failed"], 0, "{done}");
    assert_eq!(done["fields"]["exit_code"], 0, "{done}");
    // The summary table on stdout stays text.
    assert!(String::from_utf8_lossy(&out.stdout).contains("uploaded"));
}

/// The settable keys of one clap command's arguments (as the loader names them).
fn keys<'a>(args: impl Iterator<Item = &'a clap::Arg>) -> std::collections::BTreeSet<String> {
    args.map(|a| {
        a.get_long()
            .map(str::to_owned)
            .unwrap_or_else(|| a.get_id().as_str().replace('_', "-"))
    })
    .filter(|k| !["help", "version", "config"].contains(&k.as_str()))
    .collect()
}

/// `boxlift.example.toml` documents every key the loader takes (no more, no fewer), and with
/// every line uncommented each value passes its flag's own parser in the real loader.
#[test]
fn the_example_config_lists_every_key_and_each_value_parses() {
    use clap::CommandFactory;
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("boxlift.example.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let live: String = text
        .lines()
        .map(|l| match l.strip_prefix("# ") {
            Some(rest)
                if rest.split_once(" = ").is_some_and(|(k, _)| {
                    k.chars()
                        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                }) =>
            {
                rest
            }
            _ => l,
        })
        .collect::<Vec<_>>()
        .join("\n");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("all.toml");
    std::fs::write(&file, &live).unwrap();
    for (name, config) in [("as shipped", &path), ("uncommented", &file)] {
        let argv = ["boxlift", "--config", config.to_str().unwrap(), "status"];
        if let Err(e) = boxlift::cli::config::parse_cli(argv) {
            match e {
                boxlift::cli::config::Failure::Clap(e) => panic!("{name}: {e}"),
                boxlift::cli::config::Failure::Config { error, .. } => panic!("{name}: {error}"),
            }
        }
    }

    let doc: toml::Table = live.parse().unwrap();
    let cmd = boxlift::cli::Cli::command();
    let boxargs = <boxlift::cli::BoxArgs as clap::Args>::augment_args(clap::Command::new("box"));
    let box_keys = keys(boxargs.get_arguments());
    let table = |name: &str| -> std::collections::BTreeSet<String> {
        doc.get(name)
            .and_then(toml::Value::as_table)
            .map(|t| t.keys().cloned().collect())
            .unwrap_or_default()
    };
    let top: std::collections::BTreeSet<String> = doc
        .iter()
        .filter(|(_, v)| !v.is_table())
        .map(|(k, _)| k.clone())
        .collect();
    assert_eq!(top, keys(cmd.get_arguments().filter(|a| a.is_global_set())));
    assert_eq!(table("box"), box_keys);
    for sc in cmd.get_subcommands() {
        let mut want = keys(sc.get_arguments().filter(|a| !a.is_global_set()));
        if sc.get_name() != "emulator" {
            // The Box options are documented once, in [box].
            want.retain(|k| !box_keys.contains(k));
        }
        assert_eq!(table(sc.get_name()), want, "[{}]", sc.get_name());
    }
}
