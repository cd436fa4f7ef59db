//! `deploy/kubernetes/`: every YAML document parses, and the fields the migration relies on
//! agree with each other and with the binary: the Indexed Job's shard count and index, the
//! Secret and BOX_JWT_CONFIG, the PVC and the report/state paths, the CronJob's schedule, and
//! the ConfigMap's TOML, which must load with boxlift's own config loader.
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use boxlift::cli::config::{Failure, parse_cli};
use boxlift::cli::{Cli, Command as Verb};
use serde::Deserialize;
use serde_norway::Value;

mod dated;

fn deploy_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("deploy/kubernetes")
}

/// Every document of every `*.yaml` in deploy/kubernetes/, with its file name.
fn documents() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(deploy_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    let mut docs = Vec::new();
    for f in files {
        let text = std::fs::read_to_string(&f).unwrap();
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        for doc in serde_norway::Deserializer::from_str(&text) {
            let v = Value::deserialize(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            if !v.is_null() {
                docs.push((name.clone(), v));
            }
        }
    }
    docs
}

/// `v[a][b]...` as a string (panics with the path when missing).
fn s<'a>(v: &'a Value, path: &[&str]) -> &'a str {
    get(v, path)
        .as_str()
        .unwrap_or_else(|| panic!("{path:?} is not a string: {:?}", get(v, path)))
}

fn get<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    let mut cur = v;
    for k in path {
        cur = cur
            .get(*k)
            .unwrap_or_else(|| panic!("missing {k} (of {path:?})"));
    }
    cur
}

fn int(v: &Value, path: &[&str]) -> i64 {
    get(v, path)
        .as_i64()
        .unwrap_or_else(|| panic!("{path:?} is not an integer"))
}

fn seq<'a>(v: &'a Value, path: &[&str]) -> &'a Vec<Value> {
    get(v, path)
        .as_sequence()
        .unwrap_or_else(|| panic!("{path:?} is not a list"))
}

/// The one document of this kind (and name, if given).
fn one<'a>(docs: &'a [(String, Value)], kind: &str, name: Option<&str>) -> &'a Value {
    let found: Vec<&Value> = docs
        .iter()
        .map(|(_, d)| d)
        .filter(|d| s(d, &["kind"]) == kind)
        .filter(|d| name.is_none_or(|n| s(d, &["metadata", "name"]) == n))
        .collect();
    assert_eq!(found.len(), 1, "one {kind} {name:?}");
    found[0]
}

/// The ConfigMap's boxlift.toml, written to a temp file.
struct ShippedConfig {
    _dir: tempfile::TempDir,
    path: PathBuf,
}

fn shipped_config(docs: &[(String, Value)]) -> ShippedConfig {
    let cm = one(docs, "ConfigMap", None);
    let text = s(cm, &["data", "boxlift.toml"]);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("boxlift.toml");
    std::fs::write(&path, text).unwrap();
    ShippedConfig { _dir: dir, path }
}

/// Parse a command line with the shipped config, as the binary would.
fn cli(config: &ShippedConfig, args: &[String]) -> Cli {
    let mut argv = vec![
        "boxlift".to_string(),
        "--config".into(),
        config.path.to_str().unwrap().into(),
    ];
    argv.extend(args.iter().cloned());
    match parse_cli(&argv) {
        Ok(c) => c,
        Err(Failure::Clap(e)) => panic!("{argv:?}: {e}"),
        Err(Failure::Config { error, .. }) => panic!("{argv:?}: {error}"),
    }
}

/// Kubernetes' `$(VAR)` expansion of a container's command/args from its env.
fn expand(text: &str, env: &BTreeMap<String, String>) -> String {
    let mut out = text.to_string();
    for (k, v) in env {
        out = out.replace(&format!("$({k})"), v);
    }
    assert!(!out.contains("$("), "unexpanded variable in {text:?}");
    out
}

/// A valid 5-field cron expression (numbers, names, `*`, ranges, steps, lists).
fn valid_cron(expr: &str) -> bool {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let fields: Vec<&str> = expr.split_whitespace().collect();
    if fields.len() != 5 {
        return false;
    }
    let ranges: [(u32, u32, &[&str], u32); 5] = [
        (0, 59, &[], 0),
        (0, 23, &[], 0),
        (1, 31, &[], 0),
        (1, 12, &MONTHS, 1),
        (0, 7, &DAYS, 0),
    ];
    fields
        .iter()
        .zip(ranges)
        .all(|(field, (lo, hi, names, base))| {
            let value = |t: &str| -> Option<u32> {
                let n = t.parse::<u32>().ok().or_else(|| {
                    names
                        .iter()
                        .position(|n| n.eq_ignore_ascii_case(t))
                        .map(|i| i as u32 + base)
                })?;
                (lo..=hi).contains(&n).then_some(n)
            };
            field.split(',').all(|part| {
                let (range, step) = match part.split_once('/') {
                    Some((r, st)) => (r, Some(st)),
                    None => (part, None),
                };
                let step_ok = step.is_none_or(|st| st.parse::<u32>().is_ok_and(|n| n > 0));
                let range_ok = range == "*"
                    || match range.split_once('-') {
                        Some((a, b)) => {
                            matches!((value(a), value(b)), (Some(a), Some(b)) if a <= b)
                        }
                        None => value(range).is_some(),
                    };
                step_ok && range_ok
            })
        })
}

/// `512Mi`, `1Gi`, `500M` in bytes.
fn quantity(q: &str) -> u64 {
    let units = [
        ("Ki", 1u64 << 10),
        ("Mi", 1 << 20),
        ("Gi", 1 << 30),
        ("K", 1_000),
        ("M", 1_000_000),
        ("G", 1_000_000_000),
    ];
    for (u, m) in units {
        if let Some(n) = q.strip_suffix(u) {
            return n.parse::<u64>().unwrap() * m;
        }
    }
    q.parse().unwrap()
}

/// What a migrate pod of an Indexed Job spec resolves to.
struct Shards {
    n: usize,
    /// (report, state) per index, with the config applied.
    paths: Vec<(PathBuf, PathBuf)>,
}

/// Check an Indexed migrate Job spec (the Job's, or the CronJob's jobTemplate's) against the
/// Secret, the PVC, the ConfigMap and the binary.
fn check_indexed_job(spec: &Value, docs: &[(String, Value)], config: &ShippedConfig) -> Shards {
    let secret = one(docs, "Secret", None);
    let pvc = one(docs, "PersistentVolumeClaim", None);
    let cm = one(docs, "ConfigMap", None);
    assert_eq!(s(spec, &["completionMode"]), "Indexed");
    let completions = int(spec, &["completions"]);
    let parallelism = int(spec, &["parallelism"]);
    // Many more shards than pods: Kubernetes balances the work (a pod that finishes its index
    // takes the next), so a large shard never holds the others' budget idle (issue 14).
    assert!(
        parallelism >= 1 && completions >= 4 * parallelism,
        "completions {completions} >> parallelism {parallelism}"
    );
    assert!(int(spec, &["backoffLimitPerIndex"]) >= 1);
    assert_eq!(s(spec, &["podReplacementPolicy"]), "Failed");
    let pod = get(spec, &["template", "spec"]);
    assert_eq!(
        s(pod, &["restartPolicy"]),
        "Never",
        "needed by podFailurePolicy"
    );
    assert!(
        int(pod, &["terminationGracePeriodSeconds"]) >= 300,
        "time to finish the files in flight after SIGTERM"
    );

    // Exit codes: 2 fails the Job, 130 (interrupted, state saved) is ignored, 1 is counted.
    let rules = seq(spec, &["podFailurePolicy", "rules"]);
    let action_for = |code: i64| {
        rules
            .iter()
            .find(|r| {
                r.get("onExitCodes").is_some_and(|e| {
                    s(e, &["operator"]) == "In"
                        && seq(e, &["values"]).iter().any(|v| v.as_i64() == Some(code))
                })
            })
            .map(|r| s(r, &["action"]).to_string())
    };
    assert_eq!(action_for(2).as_deref(), Some("FailJob"));
    assert_eq!(action_for(130).as_deref(), Some("Ignore"));
    assert_eq!(action_for(1).as_deref(), Some("Count"));

    let containers = seq(pod, &["containers"]);
    assert_eq!(containers.len(), 1);
    let c = &containers[0];
    check_metrics_scrape(spec, c, config);
    for r in rules {
        if let Some(e) = r.get("onExitCodes") {
            assert_eq!(s(e, &["containerName"]), s(c, &["name"]));
        }
    }

    // The shard: JOB_COMPLETION_INDEX from the Job's annotation, defined before BOXLIFT_SHARD
    // (an env value only expands variables defined above it), and "/N" equal to completions.
    let env = seq(c, &["env"]);
    let pos = |name: &str| {
        env.iter()
            .position(|e| s(e, &["name"]) == name)
            .unwrap_or_else(|| panic!("env {name}"))
    };
    let index_var = &env[pos("JOB_COMPLETION_INDEX")];
    assert_eq!(
        s(index_var, &["valueFrom", "fieldRef", "fieldPath"]),
        "metadata.annotations['batch.kubernetes.io/job-completion-index']"
    );
    let shard = s(&env[pos("BOXLIFT_SHARD")], &["value"]);
    assert!(pos("JOB_COMPLETION_INDEX") < pos("BOXLIFT_SHARD"));
    let n: usize = shard
        .strip_prefix("$(JOB_COMPLETION_INDEX)/")
        .unwrap_or_else(|| panic!("BOXLIFT_SHARD = {shard:?}"))
        .parse()
        .unwrap();
    assert_eq!(
        n as i64, completions,
        "BOXLIFT_SHARD's N is the completions"
    );
    let env_value = |name: &str| s(&env[pos(name)], &["value"]).to_string();
    // The budget is divided by the number of pods that run at once, not by the shard count.
    let rate_share = env_value("BOXLIFT_RATE_SHARE");
    assert_eq!(
        rate_share,
        parallelism.to_string(),
        "BOXLIFT_RATE_SHARE is the parallelism"
    );

    let mounts = seq(c, &["volumeMounts"]);
    let volumes = seq(pod, &["volumes"]);
    let mount_of = |volume: &Value| -> PathBuf {
        let name = s(volume, &["name"]);
        let m = mounts
            .iter()
            .find(|m| s(m, &["name"]) == name)
            .unwrap_or_else(|| panic!("volume {name} is not mounted"));
        PathBuf::from(s(m, &["mountPath"]))
    };
    let volume_with = |key: &str| {
        volumes
            .iter()
            .find(|v| v.get(key).is_some())
            .unwrap_or_else(|| panic!("no {key} volume"))
    };

    // Credentials: the Secret mounted as a file, BOX_JWT_CONFIG pointing at it.
    let sv = volume_with("secret");
    assert_eq!(
        s(sv, &["secret", "secretName"]),
        s(secret, &["metadata", "name"])
    );
    let jwt = PathBuf::from(env_value("BOX_JWT_CONFIG"));
    let secret_mount = mount_of(sv);
    let file = jwt
        .strip_prefix(&secret_mount)
        .unwrap_or_else(|_| panic!("{jwt:?} is not in the Secret's mount {secret_mount:?}"));
    let item = seq(sv, &["secret", "items"])
        .iter()
        .find(|i| Path::new(s(i, &["path"])) == file)
        .unwrap_or_else(|| panic!("no Secret item at {file:?}"));
    let key = s(item, &["key"]);
    let secret_data = secret
        .get("stringData")
        .or_else(|| secret.get("data"))
        .unwrap();
    assert!(secret_data.get(key).is_some(), "the Secret has {key}");

    // The config: the ConfigMap mounted, BOXLIFT_CONFIG pointing at its key.
    let cv = volume_with("configMap");
    assert_eq!(s(cv, &["configMap", "name"]), s(cm, &["metadata", "name"]));
    assert_eq!(
        PathBuf::from(env_value("BOXLIFT_CONFIG")),
        mount_of(cv).join("boxlift.toml")
    );

    // State and reports on the PVC: each index's paths, resolved by the binary's own parser
    // from the container's args and the shipped config, lie under the claim's mount.
    let pv = volume_with("persistentVolumeClaim");
    assert_eq!(
        s(pv, &["persistentVolumeClaim", "claimName"]),
        s(pvc, &["metadata", "name"])
    );
    let data = mount_of(pv);
    let source = mount_of(volume_with("nfs"));
    let mut paths = Vec::new();
    for k in 0..n {
        let vars = BTreeMap::from([("JOB_COMPLETION_INDEX".to_string(), k.to_string())]);
        let mut argv: Vec<String> = c
            .get("command")
            .map(|v| v.as_sequence().unwrap().clone())
            .unwrap_or_default()
            .iter()
            .map(|a| expand(a.as_str().unwrap(), &vars))
            .collect();
        assert!(argv.is_empty() || argv == ["boxlift"], "{argv:?}");
        argv = seq(c, &["args"])
            .iter()
            .map(|a| expand(a.as_str().unwrap(), &vars))
            .collect();
        // BOXLIFT_SHARD as the pod sees it, given as the flag it backs.
        argv.extend(["--shard".to_string(), expand(shard, &vars)]);
        argv.extend(["--rate-share".to_string(), rate_share.clone()]);
        match cli(config, &argv).command {
            Verb::Migrate(m) => {
                let got = m.shard.expect("--shard");
                assert_eq!((got.index as usize, got.count as usize), (k, n));
                assert_eq!(m.rate_share().unwrap() as i64, parallelism);
                let report = m.report.expect("a report path per shard");
                let state = m.state.expect("a state dir per shard");
                assert!(report.starts_with(&data), "{report:?} not on the PVC");
                assert!(state.starts_with(&data), "{state:?} not on the PVC");
                assert_eq!(m.src, source, "the config's src is the source mount");
                paths.push((report, state));
            }
            other => panic!("not migrate: {other:?}"),
        }
    }
    let mut distinct = paths.clone();
    distinct.sort();
    distinct.dedup_by(|a, b| a.0 == b.0 || a.1 == b.1);
    assert_eq!(
        distinct.len(),
        n,
        "every shard has its own report and state"
    );

    // Sized from the measured ~250 MB peak RSS, with headroom.
    let limit = quantity(s(c, &["resources", "limits", "memory"]));
    let request = quantity(s(c, &["resources", "requests", "memory"]));
    assert!(
        request >= 250_000_000 && limit >= request,
        "{request} {limit}"
    );
    Shards { n, paths }
}

/// Prometheus finds each migrate pod's metrics: the scrape annotations on the pod template
/// name a port the container declares, and the port `--metrics-listen` (from the shipped
/// config) binds.
fn check_metrics_scrape(spec: &Value, container: &Value, config: &ShippedConfig) {
    let notes = get(spec, &["template", "metadata", "annotations"]);
    assert_eq!(s(notes, &["prometheus.io/scrape"]), "true");
    assert_eq!(s(notes, &["prometheus.io/path"]), "/metrics");
    let port: u16 = s(notes, &["prometheus.io/port"]).parse().unwrap();
    let declared = seq(container, &["ports"])
        .iter()
        .find(|p| p.get("name").and_then(Value::as_str) == Some("metrics"))
        .map(|p| int(p, &["containerPort"]));
    assert_eq!(
        declared,
        Some(i64::from(port)),
        "a containerPort named metrics"
    );
    let Verb::Migrate(m) = cli(config, &["migrate".to_string()]).command else {
        panic!("not migrate");
    };
    let listen = m
        .metrics_listen
        .expect("metrics-listen in the shipped config");
    assert_eq!(listen.port(), port);
    assert!(
        listen.ip().is_unspecified(),
        "reachable from the scraper: {listen}"
    );
}

#[test]
fn every_manifest_parses_and_is_namespace_agnostic() {
    let docs = documents();
    let kinds: Vec<&str> = docs.iter().map(|(_, d)| s(d, &["kind"])).collect();
    for kind in [
        "PersistentVolumeClaim",
        "Secret",
        "ConfigMap",
        "Job",
        "CronJob",
    ] {
        assert!(kinds.contains(&kind), "no {kind} in {kinds:?}");
    }
    for (file, d) in &docs {
        assert!(!s(d, &["apiVersion"]).is_empty(), "{file}");
        assert!(!s(d, &["metadata", "name"]).is_empty(), "{file}");
        assert!(
            d["metadata"].get("namespace").is_none(),
            "{file}: namespace-agnostic"
        );
    }
    let pvc = one(&docs, "PersistentVolumeClaim", None);
    assert!(
        seq(pvc, &["spec", "accessModes"])
            .iter()
            .any(|m| m.as_str() == Some("ReadWriteMany")),
        "shards on many nodes share the volume"
    );
    // A template: no real credentials.
    let secret = one(&docs, "Secret", None);
    let json = s(secret, &["stringData", "config.json"]);
    let app: serde_json::Value = serde_json::from_str(json).expect("the template is JSON");
    assert!(
        app["boxAppSettings"]["clientSecret"]
            .as_str()
            .unwrap()
            .starts_with("REPLACE")
    );
}

#[test]
fn shipped_config_loads_with_the_binary_s_loader() {
    let docs = documents();
    let config = shipped_config(&docs);
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let c = cli(&config, &args(&["migrate"]));
    assert_eq!(c.global.log_format, boxlift::cli::LogFormat::Json);
    match c.command {
        Verb::Migrate(m) => {
            assert_eq!(m.src, Path::new("/src"));
            assert!(!m.dest.is_empty());
            assert_eq!(m.progress, boxlift::progress::ShowProgress::Lines);
        }
        other => panic!("{other:?}"),
    }
    // The other tables are valid for their verbs too.
    assert!(matches!(
        cli(&config, &args(&["scan"])).command,
        Verb::Scan(_)
    ));
    assert!(matches!(
        cli(&config, &args(&["verify"])).command,
        Verb::Verify(_)
    ));
    assert!(matches!(
        cli(&config, &args(&["audit", "/data/manifests/before.csv"])).command,
        Verb::Audit(_)
    ));
}

#[test]
fn indexed_job_shards_by_completion_index_with_secret_and_pvc() {
    let docs = documents();
    let config = shipped_config(&docs);
    let job = one(&docs, "Job", Some("boxlift-migrate"));
    let shards = check_indexed_job(get(job, &["spec"]), &docs, &config);
    assert!(shards.n >= 2);
}

#[test]
fn cronjob_runs_the_same_shards_incrementally_never_twice_at_once() {
    let docs = documents();
    let config = shipped_config(&docs);
    let cron = one(&docs, "CronJob", None);
    let spec = get(cron, &["spec"]);
    let schedule = s(spec, &["schedule"]);
    assert!(valid_cron(schedule), "schedule {schedule:?}");
    assert_eq!(s(spec, &["concurrencyPolicy"]), "Forbid");
    assert!(int(spec, &["startingDeadlineSeconds"]) > 0);
    let incremental = check_indexed_job(get(spec, &["jobTemplate", "spec"]), &docs, &config);
    // Same shards and the same state journals as the first migration: only changes move.
    let job = one(&docs, "Job", Some("boxlift-migrate"));
    let first = check_indexed_job(get(job, &["spec"]), &docs, &config);
    assert_eq!(incremental.n, first.n);
    for (a, b) in incremental.paths.iter().zip(&first.paths) {
        assert_eq!(a.1, b.1, "same state dir per index");
    }
}

#[test]
fn finish_job_merges_reports_and_verifies_on_the_pvc() {
    let docs = documents();
    let config = shipped_config(&docs);
    let pvc = one(&docs, "PersistentVolumeClaim", None);
    let job = one(&docs, "Job", Some("boxlift-finish"));
    let pod = get(job, &["spec", "template", "spec"]);
    let c = &seq(pod, &["containers"])[0];
    let script: String = seq(c, &["args"])
        .iter()
        .map(|a| a.as_str().unwrap())
        .collect();
    assert!(script.contains("boxlift report merge /data/reports/shard-*.csv -o "));
    assert!(script.contains("boxlift verify"));
    let pv = seq(pod, &["volumes"])
        .iter()
        .find(|v| v.get("persistentVolumeClaim").is_some())
        .unwrap();
    assert_eq!(
        s(pv, &["persistentVolumeClaim", "claimName"]),
        s(pvc, &["metadata", "name"])
    );
    let name = s(pv, &["name"]);
    let data = seq(c, &["volumeMounts"])
        .iter()
        .find(|m| s(m, &["name"]) == name)
        .map(|m| PathBuf::from(s(m, &["mountPath"])))
        .unwrap();
    // verify's manifest and report, from the shipped config, are on the PVC.
    match cli(&config, &["verify".to_string()]).command {
        Verb::Verify(v) => {
            assert!(v.manifest.starts_with(&data), "{:?}", v.manifest);
            assert!(v.report.unwrap().starts_with(&data));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn cron_validator_refuses_bad_schedules() {
    for good in [
        "0 2 * * *",
        "*/15 * * * 1-5",
        "0 0 1 jan,jul sun",
        "5,35 1-3/1 * * 7",
    ] {
        assert!(valid_cron(good), "{good}");
    }
    for bad in [
        "0 2 * *",
        "60 * * * *",
        "* 24 * * *",
        "* * 0 * *",
        "*/0 * * * *",
        "@daily",
        "0 2 * * * *",
    ] {
        assert!(!valid_cron(bad), "{bad}");
    }
}
