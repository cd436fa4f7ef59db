//! `migrate --track-moves --delete-missing`: Box follows a live share's moves, renames and
//! deletions, through the emulator over HTTP, with the guards that refuse to delete.
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::exit::ExitCode;
use boxlift::model::Action;

use super::{actions, migrate_cmd, report, run};
use crate::common::tree::Tree;
use crate::common::{assert_exit, assert_exit_with};

/// Every file of the share by path with its content's SHA-1, and every directory.
fn share(root: &Path) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let (mut files, mut dirs) = (BTreeMap::new(), BTreeSet::new());
    let mut todo = vec![root.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let rel = p
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            if p.is_dir() {
                dirs.insert(rel);
                todo.push(p);
            } else {
                files.insert(
                    rel,
                    crate::common::emu::sha1_hex(&std::fs::read(&p).unwrap()),
                );
            }
        }
    }
    (files, dirs)
}

/// The emulator's tree: files by path with SHA-1, and folders.
fn boxed(emu: &EmulatorHandle) -> (BTreeMap<String, String>, BTreeSet<String>) {
    let (mut files, mut dirs) = (BTreeMap::new(), BTreeSet::new());
    for e in emu.state().tree {
        if e.kind == "folder" {
            dirs.insert(e.path);
        } else {
            files.insert(e.path, e.sha1.unwrap_or_default());
        }
    }
    (files, dirs)
}

/// Requests by method whose route names `what` (`/files/`, `/folders/`), summed.
fn writes(emu: &EmulatorHandle, method: &str, what: &str) -> u64 {
    emu.state()
        .counters
        .requests
        .iter()
        .filter(|(route, _)| route.starts_with(method) && route.contains(what))
        .flat_map(|(_, m)| m.values())
        .sum()
}

fn all_writes(emu: &EmulatorHandle) -> u64 {
    ["POST", "PUT", "DELETE"]
        .iter()
        .map(|m| writes(emu, m, "/"))
        .sum()
}

/// The top-level items of the emulator's trash: (type, id).
fn trash(emu: &EmulatorHandle) -> BTreeSet<(String, String)> {
    let v = super::get_json(emu, "/folders/trash/items?limit=1000");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["id"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn box_id(emu: &EmulatorHandle, path: &str) -> String {
    emu.state()
        .tree
        .into_iter()
        .find(|e| e.path == path)
        .unwrap_or_else(|| panic!("{path} not in Box"))
        .id
}

/// 2,450 files: twenty folders of 100, a folder of 400 to rename, one of 50 to delete.
fn build_share(t: &Tree) {
    for k in 0..20 {
        for i in 0..100 {
            t.file(
                format!("d{k:02}/f{i:03}.txt"),
                format!("d{k:02}/f{i:03}").as_bytes(),
            );
        }
    }
    for i in 0..400 {
        t.file(
            format!("ren/s{}/r{i:03}.txt", i % 4),
            format!("ren {i}").as_bytes(),
        );
    }
    for i in 0..50 {
        t.file(format!("gone/g{i:02}.txt"), format!("gone {i}").as_bytes());
    }
}

/// On the source: the folder of 400 renamed, 100 files moved across folders, 150 files and
/// the folder of 50 deleted, 40 edited, 30 added. Returns the Box ids of what is deleted.
fn change_share(t: &Tree, emu: &EmulatorHandle) -> BTreeSet<(String, String)> {
    let mut deleted = BTreeSet::new();
    std::fs::rename(t.path("ren"), t.path("renamed")).unwrap();
    for k in 0..20 {
        for i in 0..5 {
            let to = format!("d{:02}/moved-{k}-{i}.txt", (k + 1) % 20);
            std::fs::rename(t.path(format!("d{k:02}/f{i:03}.txt")), t.path(to)).unwrap();
        }
    }
    for k in 0..15 {
        for i in 10..20 {
            let p = format!("d{k:02}/f{i:03}.txt");
            deleted.insert(("file".to_string(), box_id(emu, &p)));
            std::fs::remove_file(t.path(p)).unwrap();
        }
    }
    deleted.insert(("folder".to_string(), box_id(emu, "gone")));
    std::fs::remove_dir_all(t.path("gone")).unwrap();
    for k in 0..20 {
        for i in 30..32 {
            t.file(
                format!("d{k:02}/f{i:03}.txt"),
                format!("edited {k} {i}").as_bytes(),
            );
        }
    }
    for k in 0..15 {
        for i in 0..2 {
            t.file(
                format!("d{k:02}/new{i}.txt"),
                format!("new {k} {i}").as_bytes(),
            );
        }
    }
    deleted
}

#[test]
fn a_mirror_run_follows_renames_moves_and_deletions_then_reruns_for_free() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    build_share(&t);
    let work = tempfile::tempdir().unwrap();
    let first = run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_exit(&first, ExitCode::Success);
    let deleted = change_share(&t, &emu);
    let before = emu.state().counters;
    let folder_puts = writes(&emu, "PUT", "/folders/");

    // A dry run lists the moves and deletions and changes nothing.
    let dry = run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--track-moves", "--delete-missing", "--dry-run"],
    ));
    assert_exit(&dry, ExitCode::Success);
    let a = actions(&report(work.path()));
    assert_eq!(a.get(&Action::WouldMove), Some(&(1 + 400 + 100)), "{a:?}");
    assert_eq!(a.get(&Action::WouldDelete), Some(&(150 + 1 + 50)), "{a:?}");
    let writes_before = all_writes(&emu);
    assert!(trash(&emu).is_empty());

    let out = run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--track-moves", "--delete-missing"],
    ));
    assert_exit(&out, ExitCode::Success);
    assert_eq!(boxed(&emu), share(t.root()), "Box equals the share");
    // And `verify --exact` agrees: every file of the manifest in Box, and nothing else there.
    let checked = super::verify_with(&emu, work.path(), &["--exact"]);
    assert_exit_with(
        &checked,
        ExitCode::Success,
        "verify --exact after the mirror run",
    );
    let after = emu.state().counters;
    let uploads = after.uploads - before.uploads;
    assert!(uploads <= 70, "{uploads} uploads");
    assert_eq!(
        writes(&emu, "PUT", "/folders/") - folder_puts,
        1,
        "the rename is one request"
    );
    assert_eq!(
        trash(&emu),
        deleted,
        "the trash holds exactly the deleted items"
    );
    let rows = report(work.path());
    let a = actions(&rows);
    assert_eq!(a.get(&Action::Moved), Some(&(1 + 400 + 100)), "{a:?}");
    assert_eq!(a.get(&Action::Deleted), Some(&(150 + 1 + 50)), "{a:?}");
    let renamed = rows.iter().find(|r| r.path == "renamed").unwrap();
    assert_eq!(renamed.old_path, "ren");
    assert!(writes_before > 0);

    // Run again: not one write.
    let writes_then = all_writes(&emu);
    let again = run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--track-moves", "--delete-missing"],
    ));
    assert_exit(&again, ExitCode::Success);
    assert_eq!(all_writes(&emu), writes_then, "a re-run writes nothing");
    // The journal knows every moved file at its new path: nothing is looked up in Box.
    let a = actions(&report(work.path()));
    assert_eq!(a.get(&Action::SkippedExists), None, "{a:?}");
    assert_eq!(boxed(&emu), share(t.root()));
}

/// A small share migrated, for the guard tests.
fn migrated_small(emu: &EmulatorHandle, t: &Tree, work: &Path) {
    for k in 0..4 {
        for i in 0..25 {
            t.file(format!("d{k}/f{i}.txt"), format!("{k} {i}").as_bytes());
        }
    }
    assert_exit(
        &run(migrate_cmd(emu, t.root(), work, &[])),
        ExitCode::Success,
    );
}

fn refused(emu: &EmulatorHandle, t: &Tree, work: &Path, extra: &[&str], reason: &str) {
    let before = all_writes(emu);
    let mut args = vec!["--delete-missing"];
    args.extend_from_slice(extra);
    let out = migrate_cmd(emu, t.root(), work, &args).output().unwrap();
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(reason), "{err}");
    assert_eq!(all_writes(emu), before, "nothing changed");
    assert!(trash(emu).is_empty());
}

#[test]
fn guards_refuse_every_deletion_and_name_the_reason() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let work = tempfile::tempdir().unwrap();
    migrated_small(&emu, &t, work.path());
    // Over --max-delete (default 10% of 100 files): 25 gone.
    std::fs::remove_dir_all(t.path("d0")).unwrap();
    refused(&emu, &t, work.path(), &[], "--max-delete");
    refused(&emu, &t, work.path(), &["--max-delete", "24"], "25 file(s)");
    // An empty source root (an unmounted share).
    for k in 1..4 {
        std::fs::remove_dir_all(t.path(format!("d{k}"))).unwrap();
    }
    refused(&emu, &t, work.path(), &["--max-delete", "100%"], "empty");
    // A missing source root (the share's mount point gone).
    let away = t.root().with_extension("away");
    std::fs::rename(t.root(), &away).unwrap();
    refused(
        &emu,
        &t,
        work.path(),
        &["--max-delete", "100%"],
        "not a directory",
    );
    std::fs::rename(&away, t.root()).unwrap();
}

#[test]
fn items_others_put_in_box_and_files_changed_in_box_are_never_trashed() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let work = tempfile::tempdir().unwrap();
    migrated_small(&emu, &t, work.path());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let upload = emu.upload_url();
    // Someone else's file inside d1 (then d1 goes from the source), and a new version of
    // d2/f0.txt made in Box (then it goes from the source).
    let (d1, f0) = (box_id(&emu, "d1"), box_id(&emu, "d2/f0.txt"));
    rt.block_on(async {
        let http = reqwest::Client::new();
        let form = |name: &str, parent: Option<&str>, data: &[u8]| {
            crate::common::emu::form(name, parent, data)
        };
        let s = http
            .post(format!("{upload}/files/content"))
            .bearer_auth("dev-token")
            .multipart(form("theirs.txt", Some(&d1), b"not ours"))
            .send()
            .await
            .unwrap()
            .status();
        assert!(s.is_success(), "{s}");
        let s = http
            .post(format!("{upload}/files/{f0}/content"))
            .bearer_auth("dev-token")
            .multipart(form("f0.txt", None, b"edited in Box"))
            .send()
            .await
            .unwrap()
            .status();
        assert!(s.is_success(), "{s}");
    });
    std::fs::remove_dir_all(t.path("d1")).unwrap();
    std::fs::remove_file(t.path("d2/f0.txt")).unwrap();
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--delete-missing", "--max-delete", "100%"],
    )
    .output()
    .unwrap();
    // The conflict is a failure row: exit 1.
    assert_exit(&out, ExitCode::SomeFailed);
    let (files, _) = boxed(&emu);
    assert!(
        files.contains_key("d1/theirs.txt"),
        "someone else's file stays"
    );
    assert!(
        files.contains_key("d2/f0.txt"),
        "a file changed in Box stays"
    );
    assert!(
        !files.keys().any(|p| p.starts_with("d1/f")),
        "ours in d1 went"
    );
    let rows = report(work.path());
    let f0row = rows.iter().find(|r| r.path == "d2/f0.txt").unwrap();
    assert_eq!(f0row.action(), Action::Conflict);
    assert_eq!(f0row.error_code, "conflict_changed_in_box");
    assert!(
        !trash(&emu).iter().any(|(k, _)| k == "folder"),
        "d1 itself is kept"
    );
}

/// Successful (2xx) requests by method whose route names `what`.
fn ok_writes(emu: &EmulatorHandle, method: &str, what: &str) -> u64 {
    emu.state()
        .counters
        .requests
        .iter()
        .filter(|(route, _)| route.starts_with(method) && route.contains(what))
        .flat_map(|(_, m)| m.iter())
        .filter(|(status, _)| status.starts_with('2'))
        .map(|(_, n)| n)
        .sum()
}

#[test]
fn sigkill_mid_mirror_run_then_a_rerun_ends_exact_and_applies_nothing_twice() {
    // A little latency per request, so the run is still moving files when it is killed.
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 3,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    build_share(&t);
    let work = tempfile::tempdir().unwrap();
    assert_exit(
        &run(migrate_cmd(&emu, t.root(), work.path(), &[])),
        ExitCode::Success,
    );
    let deleted = change_share(&t, &emu);
    let (puts, folder_puts) = (
        ok_writes(&emu, "PUT", "/files/"),
        ok_writes(&emu, "PUT", "/folders/"),
    );
    let (dels, folder_dels) = (
        ok_writes(&emu, "DELETE", "/files/"),
        ok_writes(&emu, "DELETE", "/folders/"),
    );
    let args = ["--track-moves", "--delete-missing"];
    let mut child = migrate_cmd(&emu, t.root(), work.path(), &args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Kill once 40 of the 100 file moves have landed in Box (the signal: the emulator's count).
    while ok_writes(&emu, "PUT", "/files/") < puts + 40 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let _ = child.kill(); // SIGKILL
    let status = child.wait().unwrap();
    assert!(status.code().is_none(), "the run ended before its kill");
    assert!(
        ok_writes(&emu, "PUT", "/files/") < puts + 100,
        "killed mid-moves"
    );

    let out = run(migrate_cmd(&emu, t.root(), work.path(), &args));
    assert_exit(&out, ExitCode::Success);
    assert_eq!(boxed(&emu), share(t.root()), "Box equals the share");
    assert_eq!(
        trash(&emu),
        deleted,
        "the trash holds exactly the deleted items"
    );
    assert_eq!(
        ok_writes(&emu, "PUT", "/files/") - puts,
        100,
        "each file moved once"
    );
    assert_eq!(
        ok_writes(&emu, "PUT", "/folders/") - folder_puts,
        1,
        "the folder moved once"
    );
    assert_eq!(
        ok_writes(&emu, "DELETE", "/files/") - dels,
        150,
        "each file trashed once"
    );
    assert_eq!(ok_writes(&emu, "DELETE", "/folders/") - folder_dels, 1);
}

#[test]
fn audit_with_the_state_forecasts_the_next_mirror_run_and_the_budget_it_saves() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let work = tempfile::tempdir().unwrap();
    migrated_small(&emu, &t, work.path());
    // d0 renamed (25 files), one file moved, 3 deleted, 2 added.
    std::fs::rename(t.path("d0"), t.path("d0-renamed")).unwrap();
    std::fs::rename(t.path("d1/f0.txt"), t.path("d2/f0-moved.txt")).unwrap();
    for i in 1..4 {
        std::fs::remove_file(t.path(format!("d3/f{i}.txt"))).unwrap();
    }
    t.file("d3/new-a.txt", b"new a");
    t.file("d3/new-b.txt", b"new b");
    let manifest = work.path().join("now.csv");
    let scan = std::process::Command::new(crate::common::boxlift_bin())
        .args([
            "scan",
            t.root().to_str().unwrap(),
            "-o",
            manifest.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&scan, ExitCode::Success);
    let state = work.path().join("report.state");
    let out = std::process::Command::new(crate::common::boxlift_bin())
        .args(["audit", manifest.to_str().unwrap(), "--json", "--state"])
        .arg(&state)
        .args(["--uploads-per-minute", "60"])
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let m = &v["mirror"];
    assert_eq!(m["files_moved"], 26, "{m}");
    assert_eq!(m["move_calls"], 2, "{m}");
    assert_eq!(m["files_deleted"], 3, "{m}");
    assert_eq!(m["delete_calls"], 3, "{m}");
    assert_eq!(m["uploads"], 2, "{m}");
    // 26 uploads at one a second.
    assert_eq!(m["upload_budget_saved_s"], 26.0, "{m}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("next mirror run"));
    // And the run does what the audit said.
    let before = emu.state().counters.uploads;
    let args = ["--track-moves", "--delete-missing"];
    assert_exit(
        &run(migrate_cmd(&emu, t.root(), work.path(), &args)),
        ExitCode::Success,
    );
    assert_eq!(emu.state().counters.uploads - before, 2);
    assert_eq!(boxed(&emu), share(t.root()));
}

#[test]
fn a_directory_unreadable_during_the_scan_refuses_every_deletion() {
    use std::os::unix::fs::PermissionsExt;
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    let work = tempfile::tempdir().unwrap();
    migrated_small(&emu, &t, work.path());
    std::fs::remove_file(t.path("d0/f1.txt")).unwrap();
    // Root ignores permission bits: as root the binary runs as `nobody` (setpriv), so the
    // journal and report must be theirs to write, and the share theirs to read.
    let Some(mut cmd) = crate::common::tree::unprivileged(&crate::common::boxlift_bin()) else {
        eprintln!("running as root without setpriv: the unreadable-directory case not exercised");
        return;
    };
    let open = |p: &Path, mode: u32| {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap()
    };
    let mut todo = vec![work.path().to_path_buf()];
    while let Some(p) = todo.pop() {
        open(&p, 0o777);
        if p.is_dir() {
            todo.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        }
    }
    open(t.root(), 0o755);
    open(&t.path("d1"), 0o000);
    let base = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--delete-missing", "--max-delete", "100%"],
    );
    cmd.args(base.get_args())
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_LOG", "warn");
    let before = all_writes(&emu);
    let out = cmd.output().unwrap();
    open(&t.path("d1"), 0o755);
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("read error"), "{err}");
    assert_eq!(all_writes(&emu), before, "nothing changed");
    assert!(trash(&emu).is_empty());
    assert!(boxed(&emu).0.contains_key("d0/f1.txt"));
}
