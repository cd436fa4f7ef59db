//! Issue 12, item 7: `audit` plans with the rates `migrate` paces with — from the flag, the
//! `BOX_*` variable or the config file's `[box]` key, one test per source — and answers how
//! many `--as-user` identities finish by `--deadline` / `--within`.
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use boxlift::manifest::{Kind, ManifestRow, Status};

use crate::common::boxlift_bin;

/// A manifest of `n` files of 1 KB in one folder: `n` direct uploads, `n` + 3 API calls (the
/// destination check, two listings of the destination, one folder).
fn manifest(dir: &Path, n: usize) -> PathBuf {
    let path = dir.join("m.csv");
    let mut w =
        boxlift::manifest::write::Writer::new(std::fs::File::create(&path).unwrap()).unwrap();
    let row = |path: String, kind, size| ManifestRow {
        path,
        kind,
        size,
        mtime: None,
        sha1: "a".repeat(40),
        status: Status::Ok,
        detail: String::new(),
    };
    w.write(&row("d".into(), Kind::Dir, 0)).unwrap();
    for i in 0..n {
        w.write(&row(format!("d/f{i:05}"), Kind::File, 1000))
            .unwrap();
    }
    w.flush().unwrap();
    path
}

/// `boxlift audit MANIFEST ARGS` with no BOX_*/BOXLIFT_* variable inherited; stdout (exit 0).
fn audit(m: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    audit_exits(m, args, env, 0)
}

/// `boxlift audit MANIFEST ARGS` as [`audit`], exiting with `code`: 1 when the plan does not
/// fit (here: late for its deadline).
fn audit_exits(m: &Path, args: &[&str], env: &[(&str, &str)], code: i32) -> String {
    let mut c = Command::new(boxlift_bin());
    for (k, _) in std::env::vars_os() {
        let k = k.to_string_lossy().into_owned();
        if k.starts_with("BOX_") || k.starts_with("BOXLIFT_") {
            c.env_remove(k);
        }
    }
    let out: Output = c
        .arg("audit")
        .arg(m)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    text
}

/// 2,400 uploads and 2,403 calls at 120 uploads/min and 500 calls/min: the uploads bound,
/// 20 minutes (at Box's defaults it would be 10 minutes, 240/min).
fn assert_planned_at_120_and_500(table: &str) {
    assert!(table.contains("at 500 calls/min"), "{table}");
    assert!(table.contains("at 120 uploads/min"), "{table}");
    assert!(
        table.contains("estimated time             20m 00s  (bound: uploads/min"),
        "{table}"
    );
}

#[test]
fn audit_defaults_to_box_limits() {
    let dir = tempfile::tempdir().unwrap();
    let table = audit(&manifest(dir.path(), 2400), &[], &[]);
    assert!(table.contains("at 1000 calls/min"), "{table}");
    assert!(table.contains("at 240 uploads/min"), "{table}");
    assert!(
        table.contains("estimated time             10m 00s"),
        "{table}"
    );
}

#[test]
fn audit_honours_the_rate_flags() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), 2400);
    let args = [
        "--uploads-per-minute",
        "120",
        "--api-calls-per-minute",
        "500",
    ];
    assert_planned_at_120_and_500(&audit(&m, &args, &[]));
    // A flag beats the environment.
    let env = [("BOX_UPLOADS_PER_MINUTE", "60")];
    assert_planned_at_120_and_500(&audit(&m, &args, &env));
}

#[test]
fn audit_honours_the_box_rate_variables() {
    let dir = tempfile::tempdir().unwrap();
    let env = [
        ("BOX_UPLOADS_PER_MINUTE", "120"),
        ("BOX_API_CALLS_PER_MINUTE", "500"),
    ];
    assert_planned_at_120_and_500(&audit(&manifest(dir.path(), 2400), &[], &env));
}

#[test]
fn audit_honours_the_box_table_of_the_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("boxlift.toml");
    std::fs::write(
        &config,
        "[box]\nuploads-per-minute = 120\napi_calls_per_minute = 500\n",
    )
    .unwrap();
    let args = ["--config", config.to_str().unwrap()];
    assert_planned_at_120_and_500(&audit(&manifest(dir.path(), 2400), &args, &[]));
}

#[test]
fn audit_answers_how_many_identities_finish_by_a_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), 2400);
    // 10 minutes for one identity (the uploads bound at 240/min).
    let table = audit_exits(&m, &["--within", "2m"], &[], 1);
    assert!(
        table.contains("identities needed                5  ("),
        "{table}"
    );
    assert!(table.contains("1 given: late"), "{table}");
    // At half the upload rate, twice as many.
    let table = audit_exits(
        &m,
        &["--within", "2m", "--uploads-per-minute", "120"],
        &[],
        1,
    );
    assert!(
        table.contains("identities needed               10  ("),
        "{table}"
    );
    // A date: 3.5 minutes from now (10 / 3.5 → 3 identities, with seconds to spare either way).
    let at = (chrono::Utc::now() + chrono::Duration::seconds(210))
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    let table = audit(&m, &["--deadline", &at, "--as-user", "u1,u2,u3"], &[]);
    assert!(
        table.contains("identities needed                3  ("),
        "{table}"
    );
    assert!(table.contains("3 given: on time"), "{table}");
    // Plenty of time: one identity.
    let table = audit(&m, &["--within", "1h"], &[]);
    assert!(
        table.contains("identities needed                1  ("),
        "{table}"
    );
    // The bandwidth bound does not shrink with identities.
    let table = audit_exits(&m, &["--within", "2m", "--bandwidth", "10KB/s"], &[], 1);
    assert!(table.contains("none suffice"), "{table}");
    // A deadline in the past is a clear error, exit 2.
    let out = Command::new(boxlift_bin())
        .arg("audit")
        .arg(&m)
        .args(["--deadline", "2001-01-01"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not in the future"), "{err}");
}

/// `audit` gates a pipeline: a plan late for its deadline prints `DO NOT FIT` and exits 1, and
/// `--json` carries the deadline, the identities needed and given, and the `fit` verdict.
#[test]
fn audit_exits_1_when_the_plan_does_not_fit_and_json_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let m = manifest(dir.path(), 2400);
    let table = audit_exits(&m, &["--within", "2m"], &[], 1);
    assert!(table.contains("plan: DO NOT FIT ("), "{table}");
    assert!(table.contains("deadline"), "{table}");
    let table = audit(&m, &["--within", "1h"], &[]);
    assert!(table.contains("plan: fits"), "{table}");

    let json = audit_exits(&m, &["--within", "2m", "--json"], &[], 1);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["exit_code"], 1, "{v}");
    assert_eq!(v["fit"]["fits"], false, "{v}");
    assert_eq!(v["fit"]["deadline"], false, "{v}");
    assert!(
        v["fit"]["space"].is_null() && v["fit"]["access"].is_null(),
        "{v}"
    );
    assert_eq!(v["identities_needed"], 5, "{v}");
    assert_eq!(v["identities_given"], 1, "{v}");
    assert_eq!(v["deadline"]["on_time"], false, "{v}");
    assert_eq!(
        v["deadline"]["in_s"].as_f64().map(f64::round),
        Some(120.0),
        "{v}"
    );
    assert_eq!(
        v["deadline"]["estimated_s"].as_f64().map(f64::round),
        Some(600.0),
        "{v}"
    );

    let json = audit(&m, &["--within", "1h", "--json"], &[]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        (v["exit_code"].clone(), v["fit"]["fits"].clone()),
        (0.into(), true.into())
    );
    assert_eq!(v["identities_needed"], 1, "{v}");
    // Without a deadline there is nothing to need.
    let v: serde_json::Value = serde_json::from_str(&audit(&m, &["--json"], &[])).unwrap();
    assert!(
        v["deadline"].is_null() && v["identities_needed"].is_null(),
        "{v}"
    );
}
