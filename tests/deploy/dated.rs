//! Issue 12, item 8: the CronJob names each night's reports by date (strftime in `--report`),
//! so the history is kept on the PVC, while every night shares one state journal per shard.
use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{Verb, cli, documents, expand, get, one, seq, shipped_config};

#[test]
fn cronjob_reports_are_named_by_date_and_share_the_state() {
    let docs = documents();
    let config = shipped_config(&docs);
    let cron = one(&docs, "CronJob", None);
    let pod = get(cron, &["spec", "jobTemplate", "spec", "template", "spec"]);
    let c = &seq(pod, &["containers"])[0];
    let vars = BTreeMap::from([("JOB_COMPLETION_INDEX".to_string(), "1".to_string())]);
    let mut argv: Vec<String> = seq(c, &["args"])
        .iter()
        .map(|a| expand(a.as_str().unwrap(), &vars))
        .collect();
    argv.extend(["--shard".to_string(), "1/4".to_string()]);
    let m = match cli(&config, &argv).command {
        Verb::Migrate(m) => m,
        other => panic!("not migrate: {other:?}"),
    };
    let night = |t: &str| {
        let at: DateTime<Utc> = t.parse().unwrap();
        m.dated_paths(at).expect("the CronJob's paths resolve")
    };
    let (a, b) = (night("2026-12-02T02:00:00Z"), night("2026-12-03T02:00:00Z"));
    assert_ne!(a.report, b.report, "a report per night");
    assert!(a.report.to_str().unwrap().contains("2026-12-02"), "{a:?}");
    assert!(b.report.to_str().unwrap().contains("2026-12-03"), "{b:?}");
    assert!(a.report.to_str().unwrap().contains("shard-1"), "{a:?}");
    assert_eq!(a.state, b.state, "one journal per shard, every night");
    assert_eq!(a.manifest, b.manifest);
}

/// The CronJob keeps the last 30 nights of reports: `--keep-reports` parses from its args, and
/// pruning by its `--report` pattern (re-rooted in a temporary directory) leaves 30 nights.
#[test]
fn cronjob_keeps_the_last_30_nights_of_reports() {
    let docs = documents();
    let config = shipped_config(&docs);
    let cron = one(&docs, "CronJob", None);
    let pod = get(cron, &["spec", "jobTemplate", "spec", "template", "spec"]);
    let c = &seq(pod, &["containers"])[0];
    let vars = BTreeMap::from([("JOB_COMPLETION_INDEX".to_string(), "1".to_string())]);
    let argv: Vec<String> = seq(c, &["args"])
        .iter()
        .map(|a| expand(a.as_str().unwrap(), &vars))
        .collect();
    let m = match cli(&config, &argv).command {
        Verb::Migrate(m) => m,
        other => panic!("not migrate: {other:?}"),
    };
    assert_eq!(m.keep_reports, Some(30));
    let pattern = m.report.clone().expect("a dated --report");
    let tmp = tempfile::tempdir().unwrap();
    let rooted = tmp
        .path()
        .join(pattern.strip_prefix("/").expect("an absolute --report"));
    let start: DateTime<Utc> = "2026-11-01T02:00:00Z".parse().unwrap();
    for night in 0..40 {
        let at = start + chrono::Duration::days(night);
        let report = boxlift::fsutil::dated_path(&rooted, at).unwrap();
        std::fs::create_dir_all(report.parent().unwrap()).unwrap();
        std::fs::write(&report, "path\n").unwrap();
    }
    let removed = boxlift::report::prune::prune_dated(&rooted, 30).unwrap();
    assert_eq!(removed.len(), 10);
    let (base, _) = boxlift::report::prune::dated_component(&rooted).unwrap();
    let mut nights: Vec<_> = std::fs::read_dir(&base)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    nights.sort();
    assert_eq!(nights.len(), 30);
    assert_eq!(nights[0], "2026-11-11", "{nights:?}");
    assert_eq!(nights[29], "2026-12-10", "{nights:?}");
}
