//! Issue 22, acceptance 1: `migrate --map` puts home folders in their users' own roots, owned
//! by them and uploaded As-User them; the service account cannot see them; a re-run uploads
//! nothing; an unknown owner, or a dest the owner cannot write, stops the run before any upload.
//! Everything is checked through the emulator's API As-User each owner, and its counters.
use std::path::Path;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle, EnterpriseSpec, UserSpec};
use boxlift::exit::ExitCode;
use boxlift::model::Action;
use serde_json::Value;

use super::{migrate_cmd, report};
use crate::common::assert_exit;
use crate::common::tree::Tree;

const USERS: usize = 6;

fn user_id(i: usize) -> String {
    format!("{}", 7001 + i)
}

fn login(i: usize) -> String {
    format!("user{i}@example.com")
}

fn enterprise_emulator() -> EmulatorHandle {
    let users = (0..USERS)
        .map(|i| UserSpec {
            id: Some(user_id(i)),
            login: login(i),
            name: None,
        })
        .collect();
    Emulator::start(EmulatorConfig {
        enterprise: EnterpriseSpec {
            users,
            groups: Vec::new(),
        },
        ..EmulatorConfig::default()
    })
    .expect("emulator starts")
}

/// `GET <api>{path}` As-User `user` (`None`: the service account): (status, JSON).
fn get_as(emu: &EmulatorHandle, path: &str, user: Option<&str>) -> (u16, Value) {
    let url = format!("{}{path}", emu.api_url());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let mut req = reqwest::Client::new().get(url).bearer_auth("dev-token");
        if let Some(u) = user {
            req = req.header("as-user", u);
        }
        let reply = req.send().await.unwrap();
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    })
}

/// Six homes of 5 files each (one in a subfolder), and an unmapped `shared/` part.
fn homes() -> Tree {
    let t = Tree::new();
    for i in 0..USERS {
        for f in 0..4 {
            t.file(format!("home/u{i}/f{f}.txt"), format!("{i}-{f}").as_bytes());
        }
        t.file(
            format!("home/u{i}/sub/deep.txt"),
            format!("deep {i}").as_bytes(),
        );
    }
    t.file("shared/common.txt", b"everyone");
    t
}

/// The map: owners by login, two of them by id.
fn write_map(dir: &Path, extra: &str) -> std::path::PathBuf {
    let mut text = String::from("source,owner,dest\n");
    for i in 0..USERS {
        let owner = if i % 3 == 0 { user_id(i) } else { login(i) };
        text.push_str(&format!("home/u{i},{owner},\n"));
    }
    text.push_str(extra);
    let path = dir.join("map.csv");
    std::fs::write(&path, text).unwrap();
    path
}

fn uploads(emu: &EmulatorHandle) -> u64 {
    emu.state().counters.uploads
}

#[test]
fn six_homes_land_in_their_owners_roots_owned_by_them_and_a_rerun_uploads_nothing() {
    let emu = enterprise_emulator();
    let t = homes();
    let work = tempfile::tempdir().unwrap();
    let map = write_map(work.path(), "");
    let map_arg = ["--map", map.to_str().unwrap()];
    let out = migrate_cmd(&emu, t.root(), work.path(), &map_arg)
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    let rows = report(work.path());
    for i in 0..USERS {
        let id = user_id(i);
        // The owner's own root holds the home folder (one, however many runs).
        let (status, root) = get_as(&emu, "/folders/0/items?limit=1000", Some(&id));
        assert_eq!(status, 200, "{root}");
        let homes: Vec<&Value> = root["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == format!("u{i}"))
            .collect();
        assert_eq!(homes.len(), 1, "user {id}'s root: {root}");
        let home_id = homes[0]["id"].as_str().unwrap().to_string();
        // The service account cannot see it.
        let (status, _) = get_as(&emu, &format!("/folders/{home_id}"), None);
        assert_eq!(status, 404, "the service account sees user {id}'s home");
        // Every file under it: owned by and uploaded as the user, seen through the API
        // As-User them, and invisible to the service account.
        let mine: Vec<_> = rows
            .iter()
            .filter(|r| {
                r.path.starts_with(&format!("home/u{i}/"))
                    && r.kind == boxlift::manifest::Kind::File
            })
            .collect();
        assert_eq!(mine.len(), 5, "{rows:?}");
        for r in mine {
            assert_eq!(r.action(), Action::Uploaded, "{r:?}");
            assert_eq!(r.as_user, id, "report's as_user for {}", r.path);
            let path = format!("/files/{}?fields=owned_by,created_by,name", r.box_file_id);
            let (status, f) = get_as(&emu, &path, Some(&id));
            assert_eq!(status, 200, "{f}");
            assert_eq!(f["owned_by"]["id"], id.as_str(), "{}: {f}", r.path);
            assert_eq!(f["created_by"]["id"], id.as_str(), "{}: {f}", r.path);
            let (status, _) = get_as(&emu, &format!("/files/{}", r.box_file_id), None);
            assert_eq!(status, 404, "the service account sees {}", r.path);
        }
    }
    // The unmapped part went to --dest as the service account.
    let shared = rows.iter().find(|r| r.path == "shared/common.txt").unwrap();
    assert_eq!(shared.action(), Action::Uploaded);
    assert_eq!(shared.as_user, "");
    let (status, _) = get_as(&emu, &format!("/files/{}", shared.box_file_id), None);
    assert_eq!(status, 200);

    let (before, folders) = (uploads(&emu), emu.state().counters.folders_created);
    assert_eq!(before, (USERS * 5 + 1) as u64);
    let out = migrate_cmd(&emu, t.root(), work.path(), &map_arg)
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    assert_eq!(uploads(&emu), before, "the re-run uploaded again");
    assert_eq!(
        emu.state().counters.folders_created,
        folders,
        "duplicate folders"
    );
    let again = report(work.path());
    let files: Vec<_> = again
        .iter()
        .filter(|r| r.kind == boxlift::manifest::Kind::File)
        .collect();
    assert_eq!(files.len(), USERS * 5 + 1);
    assert!(
        files.iter().all(|r| r.action() == Action::SkippedDone),
        "{again:?}"
    );

    // verify proves it: with the map every file is found in its owner's home, listed As-User
    // the owner; without it the service account cannot see the homes and finds them missing.
    let checked = super::verify_with(&emu, work.path(), &map_arg);
    assert_exit(&checked, ExitCode::Success);
    let blind = super::verify_with(&emu, work.path(), &[]);
    assert_exit(&blind, ExitCode::SomeFailed);
    let listed = String::from_utf8_lossy(&blind.stdout);
    assert!(
        listed.contains("home/u0") && listed.contains("missing"),
        "{listed}"
    );
}

#[test]
fn unknown_owners_stop_the_run_before_any_upload_naming_each() {
    let emu = enterprise_emulator();
    let t = homes();
    t.file("home/ghost/a.txt", b"a");
    t.file("home/nobody/b.txt", b"b");
    let work = tempfile::tempdir().unwrap();
    let map = write_map(
        work.path(),
        "home/ghost,ghost@example.com,\nhome/nobody,99999,\n",
    );
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--map", map.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("ghost@example.com") && err.contains("line 8"),
        "{err}"
    );
    assert!(err.contains("99999") && err.contains("line 9"), "{err}");
    assert_eq!(uploads(&emu), 0, "nothing may be uploaded");
    assert_eq!(
        emu.state().counters.folders_created,
        0,
        "nor any folder made"
    );
}

#[test]
fn bad_map_lines_and_unwritable_dests_stop_before_any_upload() {
    let emu = enterprise_emulator();
    let t = homes();
    let work = tempfile::tempdir().unwrap();
    // A source that is not under SRC, and overlapping sources: file:line, reason.
    for (extra, says) in [
        (
            "home/missing,user1@example.com,\n",
            "map.csv:8: source \"home/missing\" is not a directory",
        ),
        (
            "home/u1/sub,user2@example.com,\n",
            "map.csv:8: source \"home/u1/sub\" overlaps \"home/u1\" (line 3)",
        ),
        ("home/x,user1@example.com\n", "map.csv:8: 2 fields"),
    ] {
        let map = write_map(work.path(), extra);
        let out = migrate_cmd(
            &emu,
            t.root(),
            work.path(),
            &["--map", map.to_str().unwrap()],
        )
        .output()
        .unwrap();
        assert_exit(&out, ExitCode::CouldNotRun);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(says), "want {says:?} in: {err}");
    }
    // A dest folder of the service account's: the owner cannot see it (404).
    let (_, made) = {
        let url = format!("{}/folders", emu.api_url());
        tokio::runtime::Runtime::new().unwrap().block_on(async {
            let r = reqwest::Client::new()
                .post(url)
                .bearer_auth("dev-token")
                .json(&serde_json::json!({"name": "team", "parent": {"id": "0"}}))
                .send()
                .await
                .unwrap();
            (r.status(), r.json::<Value>().await.unwrap())
        })
    };
    let team = made["id"].as_str().unwrap();
    let text = format!("source,owner,dest\nhome/u0,{},{team}\n", login(0));
    let map = work.path().join("map-dest.csv");
    std::fs::write(&map, text).unwrap();
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--map", map.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("line 2") && err.contains(&format!("cannot see folder {team}")),
        "{err}"
    );
    assert_eq!(uploads(&emu), 0);
}

#[test]
fn dry_run_with_a_map_resolves_owners_and_writes_nothing() {
    let emu = enterprise_emulator();
    let t = homes();
    let work = tempfile::tempdir().unwrap();
    let map = write_map(work.path(), "");
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--map", map.to_str().unwrap(), "--dry-run"],
    )
    .output()
    .unwrap();
    assert_exit(&out, ExitCode::Success);
    let c = emu.state().counters;
    assert_eq!((c.uploads, c.folders_created), (0, 0));
    let rows = report(work.path());
    let mapped: Vec<_> = rows
        .iter()
        .filter(|r| r.path.starts_with("home/u2/") && r.kind == boxlift::manifest::Kind::File)
        .collect();
    assert_eq!(mapped.len(), 5);
    for r in mapped {
        assert_eq!(r.action(), Action::WouldUpload, "{r:?}");
        assert_eq!(r.as_user, user_id(2));
    }
}

#[test]
fn two_shards_each_take_their_part_of_every_owner_into_one_home_folder() {
    let emu = enterprise_emulator();
    let t = homes();
    let work = tempfile::tempdir().unwrap();
    let map = write_map(work.path(), "");
    for k in 0..2 {
        let dir = work.path().join(format!("shard{k}"));
        std::fs::create_dir_all(&dir).unwrap();
        let shard = format!("{k}/2");
        let args = ["--map", map.to_str().unwrap(), "--shard", &shard];
        let out = migrate_cmd(&emu, t.root(), &dir, &args).output().unwrap();
        assert_exit(&out, ExitCode::Success);
    }
    assert_eq!(uploads(&emu), (USERS * 5 + 1) as u64, "each file once");
    for i in 0..USERS {
        let id = user_id(i);
        let (_, root) = get_as(&emu, "/folders/0/items?limit=1000", Some(&id));
        let homes: Vec<&Value> = root["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] == format!("u{i}"))
            .collect();
        assert_eq!(homes.len(), 1, "one home folder for user {id}: {root}");
        let home = homes[0]["id"].as_str().unwrap();
        let (_, items) = get_as(
            &emu,
            &format!("/folders/{home}/items?fields=name,owned_by"),
            Some(&id),
        );
        let files: Vec<&Value> = items["entries"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == "file")
            .collect();
        assert_eq!(files.len(), 4, "both shards' files in one folder: {items}");
        assert!(
            files.iter().all(|f| f["owned_by"]["id"] == id.as_str()),
            "{items}"
        );
    }
}

/// `boxlift audit MANIFEST --map MAP ARGS --json` against `emu`: (stdout JSON, stderr).
fn audit_map(emu: &EmulatorHandle, manifest: &Path, map: &Path, args: &[&str]) -> (Value, String) {
    let out = std::process::Command::new(crate::common::boxlift_bin())
        .arg("audit")
        .arg(manifest)
        .args([
            "--map",
            map.to_str().unwrap(),
            "--json",
            "--progress",
            "none",
        ])
        .args([
            "--uploads-per-minute",
            "60",
            "--api-calls-per-minute",
            "6000",
        ])
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .args([
            "--oauth-url",
            &emu.oauth_url(),
            "--developer-token",
            "dev-token",
        ])
        .args(args)
        .env_remove("BOX_DEVELOPER_TOKEN")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {err}"));
    (json, err)
}

#[test]
fn audit_map_plans_each_owner_at_its_own_budget_and_names_unknown_owners() {
    let emu = enterprise_emulator();
    let t = Tree::new();
    // u0: 30 files, u1: 10, unmapped: 20, over 1 upload/s per identity (60/min).
    for f in 0..30 {
        t.file(format!("home/u0/f{f}.txt"), b"x");
    }
    for f in 0..10 {
        t.file(format!("home/u1/f{f}.txt"), b"y");
    }
    for f in 0..20 {
        t.file(format!("shared/f{f}.txt"), b"z");
    }
    let work = tempfile::tempdir().unwrap();
    let manifest = work.path().join("m.csv");
    let out = std::process::Command::new(crate::common::boxlift_bin())
        .args([
            "scan",
            t.root().to_str().unwrap(),
            "-o",
            manifest.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    let map = work.path().join("map.csv");
    std::fs::write(
        &map,
        format!(
            "source,owner,dest\nhome/u1,{},\nhome/u0,{},\n",
            login(1),
            user_id(0)
        ),
    )
    .unwrap();
    let (v, err) = audit_map(&emu, &manifest, &map, &[]);
    let o = &v["owners"];
    let parts = o["parts"].as_array().unwrap();
    let row = |i: usize| {
        (
            parts[i]["owner"].as_str().map(str::to_string),
            parts[i]["files"].as_u64().unwrap(),
        )
    };
    assert_eq!(row(0), (Some(user_id(0)), 30), "{o}");
    assert_eq!(row(1), (None, 20), "{o}");
    assert_eq!(row(2), (Some(login(1)), 10), "{o}");
    // 30 uploads at 1/s: the largest owner is the tail, and the whole run.
    let t0 = parts[0]["time_s"].as_f64().unwrap();
    assert!((30.0..32.0).contains(&t0), "{o}");
    assert_eq!(o["total_s"].as_f64().unwrap(), t0);
    assert!(o["unknown"].is_null(), "no live --dest: not checked: {o}");
    assert!(err.contains("is the tail"), "{err}");
    // With a live --dest the owners are resolved: an unknown one is named with its line.
    std::fs::write(
        &map,
        format!(
            "source,owner,dest\nhome/u1,{},\nhome/u0,ghost@example.com,\n",
            login(1)
        ),
    )
    .unwrap();
    let (v, err) = audit_map(&emu, &manifest, &map, &["--dest", "0"]);
    assert_eq!(
        v["owners"]["unknown"],
        serde_json::json!([[3, "ghost@example.com"]]),
        "{v}"
    );
    assert!(
        err.contains("UNKNOWN OWNERS") && err.contains("ghost@example.com (line 3)"),
        "{err}"
    );
}
