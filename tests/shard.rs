//! `boxlift migrate --shard K/N`: N independent processes, one destination, no coordination but
//! Box. Four shard processes run at once against one emulator; the emulator's tree and counters
//! show the union is the whole tree, each file and each folder once.
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::exit::ExitCode;
use boxlift::manifest::read::Reader;
use boxlift::manifest::{Kind, ManifestRow};
use boxlift::model::Action;
use boxlift::report::{ReportRow, read_report};

use crate::common::boxlift_bin;
use crate::common::tree::Tree;
use crate::common::{assert_exit, assert_exit_with};

const SHARDS: u32 = 4;
const FILES: usize = 5_000;
/// 12 top-level folders with 24 sub-folders each: 300 folders, one of them empty.
const TOPS: usize = 12;
const SUBS: usize = 24;

/// 5,000 files in 300 folders: a few at the root, some in the top folders, most in the leaves.
fn build_tree(t: &Tree, files: usize) {
    let leaves = TOPS * SUBS - 1; // the last leaf stays empty
    for i in 0..files {
        let rel = match i {
            0..8 => format!("root-{i}.txt"),
            8..32 => format!("top{:02}/file-{i}.txt", (i - 8) % TOPS),
            _ => {
                let leaf = i % leaves;
                format!("top{:02}/sub{:02}/f{i}.txt", leaf / SUBS, leaf % SUBS)
            }
        };
        let body = format!("{rel} #{i}\n").repeat(1 + i % 40);
        t.file(rel, body.as_bytes());
    }
    t.dir(format!("top{:02}/sub{:02}", TOPS - 1, SUBS - 1));
}

fn shard_cmd(emu: &EmulatorHandle, src: &Path, work: &Path, k: u32) -> Command {
    let report = work.join(format!("shard-{k}.csv"));
    let mut c = Command::new(boxlift_bin());
    c.args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", report.to_str().unwrap()])
        .args(["--progress", "none"])
        // The identity's whole budget; each of the 4 shards takes a quarter of it.
        .args(["--api-calls-per-minute", "40000000"])
        .args(["--uploads-per-minute", "40000000"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_SHARD", format!("{k}/{SHARDS}"))
        .env("BOXLIFT_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

fn wait_ok(k: u32, child: Child) -> String {
    let out = child.wait_with_output().expect("wait for shard");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_exit_with(&out, ExitCode::Success, format_args!("shard {k}"));
    stderr
}

fn manifest(work: &Path, k: u32) -> Vec<ManifestRow> {
    Reader::open(&work.join(format!("shard-{k}.state/manifest.csv")))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn folder_of(path: &str, kind: &str) -> String {
    if kind == "dir" {
        return path.to_string();
    }
    path.rsplit_once('/').map_or("", |(d, _)| d).to_string()
}

#[test]
fn four_shards_at_once_land_the_tree_once_and_their_reports_partition_it() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    build_tree(&t, FILES);
    let work = tempfile::tempdir().unwrap();

    let children: Vec<Child> = (0..SHARDS)
        .map(|k| {
            shard_cmd(&emu, t.root(), work.path(), k)
                .spawn()
                .expect("spawn shard")
        })
        .collect();
    for (k, child) in (0..SHARDS).zip(children) {
        let stderr = wait_ok(k, child);
        // --rate-share defaults to N: each shard paces itself at a quarter of the budget.
        assert!(
            stderr.contains(&format!(
                "shard {k}/{SHARDS}: 10000000 API calls and 10000000 uploads per minute"
            )),
            "{stderr}"
        );
    }

    // The emulator holds each folder and each file once, with the right content.
    let state = emu.state();
    let mut tree: HashMap<&str, _> = HashMap::new();
    for e in &state.tree {
        assert!(
            tree.insert(e.path.as_str(), e).is_none(),
            "twice: {}",
            e.path
        );
    }
    let folders = state.tree.iter().filter(|e| e.kind == "folder").count();
    assert_eq!(folders, TOPS + TOPS * SUBS, "each folder once");
    assert_eq!(state.counters.folders_created, folders as u64);
    assert_eq!(state.tree.len() - folders, FILES, "each file once");
    assert_eq!(state.counters.files_created, FILES as u64);
    assert_eq!(
        state.counters.uploads, FILES as u64,
        "no file uploaded twice"
    );

    // Each shard's manifest holds only its own rows; together they are the tree, disjointly.
    let mut owner: BTreeMap<String, u32> = BTreeMap::new();
    let mut rows = 0;
    for k in 0..SHARDS {
        let m = manifest(work.path(), k);
        assert!(m.len() > 300, "shard {k} got {} rows: unbalanced", m.len());
        for r in &m {
            rows += 1;
            assert!(
                owner.insert(r.path.clone(), k).is_none(),
                "{} twice",
                r.path
            );
            let e = tree
                .get(r.path.as_str())
                .unwrap_or_else(|| panic!("{} is not in Box", r.path));
            if r.kind == Kind::File {
                assert_eq!(e.sha1.as_deref(), Some(r.sha1.as_str()), "{}", r.path);
            }
        }
    }
    assert_eq!(
        rows,
        state.tree.len(),
        "the shards' manifests cover the tree"
    );

    // Reports: one row per manifest row, every row a success. Sharding is by file (issue 14):
    // most folders' files are spread over several shards, which all resolve the same folder
    // (created once, above: `folders_created` is the folder count).
    let mut all: Vec<(u32, ReportRow)> = Vec::new();
    for k in 0..SHARDS {
        for r in read_report(&work.path().join(format!("shard-{k}.csv"))).unwrap() {
            assert_eq!(
                owner.get(&r.path),
                Some(&k),
                "{} reported by shard {k}",
                r.path
            );
            assert!(!r.action().is_failure(), "{r:?}");
            all.push((k, r));
        }
    }
    assert_eq!(all.len(), rows);
    let mut folder_shard: HashMap<String, BTreeSet<u32>> = HashMap::new();
    for (k, r) in &all {
        folder_shard
            .entry(folder_of(&r.path, r.kind.as_str()))
            .or_default()
            .insert(*k);
    }
    let split = folder_shard.values().filter(|s| s.len() > 1).count();
    assert!(
        split * 2 > folder_shard.len(),
        "{split} of {} folders split over shards",
        folder_shard.len()
    );

    // `boxlift report merge` of the four reports: one row per file and folder, no conflict.
    let merged = work.path().join("all.csv");
    let mut merge = Command::new(boxlift_bin());
    merge.args(["report", "merge"]);
    for k in 0..SHARDS {
        merge.arg(work.path().join(format!("shard-{k}.csv")));
    }
    let out = merge.arg("-o").arg(&merged).output().unwrap();
    assert_exit(&out, ExitCode::Success);
    let merged = read_report(&merged).unwrap();
    assert_eq!(merged.len(), rows, "one merged row per manifest row");
    let paths: BTreeSet<&str> = merged.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths.len(), rows, "no path twice in the merged report");
    let files = merged.iter().filter(|r| r.kind.as_str() == "file").count();
    assert_eq!(files, FILES);
    assert!(paths.iter().all(|p| owner.contains_key(*p)));

    // A re-run of one shard makes no upload: its journal and manifest are its own.
    let uploads = emu.state().counters.uploads;
    let child = shard_cmd(&emu, t.root(), work.path(), 2)
        .arg("--report-all")
        .spawn()
        .unwrap();
    wait_ok(2, child);
    assert_eq!(emu.state().counters.uploads, uploads);
    let rerun = read_report(&work.path().join("shard-2.csv")).unwrap();
    assert!(!rerun.is_empty());
    assert!(
        rerun.iter().all(|r| r.action() == Action::SkippedDone
            || (r.kind == Kind::Dir && r.action() == Action::FolderCreated)),
        "{:?}",
        rerun.iter().find(|r| r.action() != Action::SkippedDone)
    );
}

/// Box can let two concurrent creations of one folder both succeed (box-node-sdk#574). With the
/// emulator doing the same, four shards racing on the shared top folders still end with each
/// folder once: every shard converges on the oldest twin and removes its own.
#[test]
fn shards_racing_on_shared_folders_converge_on_one_folder_each() {
    let emu = Emulator::start(EmulatorConfig {
        folder_race: true,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    build_tree(&t, 1_000);
    let work = tempfile::tempdir().unwrap();
    let children: Vec<Child> = (0..SHARDS)
        .map(|k| shard_cmd(&emu, t.root(), work.path(), k).spawn().unwrap())
        .collect();
    for (k, child) in (0..SHARDS).zip(children) {
        wait_ok(k, child);
    }
    let state = emu.state();
    let raced = state
        .counters
        .faults
        .get("folder_race")
        .copied()
        .unwrap_or(0);
    assert!(raced > 0, "no creation raced: the test proved nothing");
    let mut seen = BTreeSet::new();
    for e in &state.tree {
        assert!(
            seen.insert(e.path.as_str()),
            "twice: {} ({raced} races)",
            e.path
        );
    }
    let folders = state.tree.iter().filter(|e| e.kind == "folder").count();
    assert_eq!(folders, TOPS + TOPS * SUBS, "each folder once");
    assert_eq!(state.tree.len() - folders, 1_000, "each file once");
    let mut total = 0;
    for k in 0..SHARDS {
        let m = manifest(work.path(), k);
        total += m.len();
        for r in m.iter().filter(|r| r.kind == Kind::File) {
            let e = state.tree.iter().find(|e| e.path == r.path).expect(&r.path);
            assert_eq!(e.sha1.as_deref(), Some(r.sha1.as_str()));
        }
    }
    assert_eq!(total, state.tree.len());
}

#[test]
fn two_runs_cannot_share_one_state_directory() {
    let emu = Emulator::start(EmulatorConfig {
        // Slow replies keep the first run busy while the second starts.
        latency_ms: 200,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    for i in 0..20 {
        t.file(format!("d/f{i}.txt"), format!("{i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let first = shard_cmd(&emu, t.root(), work.path(), 0)
        .env("BOXLIFT_SHARD", "0/1")
        .arg("--concurrency")
        .arg("1")
        .spawn()
        .unwrap();
    // Wait until the first run holds its journal.
    let lock = work.path().join("shard-0.state/LOCK");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !lock.exists() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let second = shard_cmd(&emu, t.root(), work.path(), 0)
        .env("BOXLIFT_SHARD", "0/1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_exit(&second, ExitCode::CouldNotRun);
    assert!(
        stderr.contains("in use by another boxlift process"),
        "{stderr}"
    );
    wait_ok(0, first);
    assert_eq!(
        emu.state().counters.uploads,
        20,
        "the first run finished alone"
    );
}

#[test]
fn a_bad_shard_is_a_clear_error_before_any_request() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let out = shard_cmd(&emu, t.root(), work.path(), 0)
        .env("BOXLIFT_SHARD", "4/4")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_exit(&out, ExitCode::CouldNotRun);
    assert!(stderr.contains("K must be less than N"), "{stderr}");
    assert_eq!(emu.state().counters.total_requests(), 0);
}
