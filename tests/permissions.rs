//! Issue 22, permissions: `boxlift permissions` proposes collaborations from a tree's owners,
//! groups, modes and ACLs; `migrate --permissions` applies them once (journal), after checking
//! every collaborator; `verify --permissions` compares Box with the file. End to end through
//! the emulator's enterprise (users, groups, waterfall access) and the built binary.
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use boxlift::emulator::{
    Emulator, EmulatorConfig, EmulatorHandle, EnterpriseSpec, GroupSpec, UserSpec,
};
use boxlift::exit::ExitCode;
use serde_json::Value;

use crate::common::{assert_exit, boxlift_bin};
use crate::migrate::{boxlift, migrate_cmd};

const ANN: &str = "21001";
const BOB: &str = "21002";
const ENG: &str = "31001";

fn enterprise() -> EnterpriseSpec {
    let user = |id: &str, login: &str| UserSpec {
        id: Some(id.into()),
        login: login.into(),
        name: None,
    };
    EnterpriseSpec {
        users: vec![user(ANN, "ann@example.com"), user(BOB, "bob@example.com")],
        groups: vec![GroupSpec {
            id: Some(ENG.into()),
            name: "Engineering".into(),
            members: vec!["ann@example.com".into()],
        }],
    }
}

fn emulator() -> EmulatorHandle {
    Emulator::start(EmulatorConfig {
        enterprise: enterprise(),
        ..EmulatorConfig::default()
    })
    .unwrap()
}

/// `migrate SRC --dest 0 --permissions PERMS` (the migrate stories' command: report in `work`).
fn migrate(emu: &EmulatorHandle, src: &Path, work: &Path, perms: &Path) -> Output {
    migrate_cmd(emu, src, work, &["--permissions", perms.to_str().unwrap()])
        .output()
        .unwrap()
}

fn verify(emu: &EmulatorHandle, work: &Path, perms: &Path) -> Output {
    let manifest = work.join("report.state/manifest.csv");
    boxlift(
        emu,
        &[
            "verify",
            "--manifest",
            manifest.to_str().unwrap(),
            "--dest",
            "0",
            "--progress",
            "none",
            "--permissions",
            perms.to_str().unwrap(),
        ],
    )
    .output()
    .unwrap()
}

/// Requests that write (any method but GET), by route.
fn writes(emu: &EmulatorHandle) -> BTreeMap<String, u64> {
    emu.state()
        .counters
        .requests
        .into_iter()
        .filter(|(route, _)| !route.starts_with("GET") && !route.contains("/_emulator"))
        .map(|(route, by_status)| (route, by_status.values().sum()))
        .collect()
}

fn folder_id(emu: &EmulatorHandle, path: &str) -> String {
    emu.state()
        .tree
        .into_iter()
        .find(|e| e.path == path && e.kind == "folder")
        .unwrap_or_else(|| panic!("no folder {path} in the emulator"))
        .id
}

async fn get(emu: &EmulatorHandle, path: &str, as_user: Option<&str>) -> (u16, Value) {
    let mut req = reqwest::Client::new()
        .get(format!("{}{path}", emu.api_url()))
        .bearer_auth("dev-token");
    if let Some(u) = as_user {
        req = req.header("as-user", u);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap_or(Value::Null))
}

/// `(grantee type, id, role)` of the collaborations on folder `id`.
async fn collaborations(emu: &EmulatorHandle, id: &str) -> Vec<(String, String, String)> {
    let (status, v) = get(emu, &format!("/folders/{id}/collaborations"), None).await;
    assert_eq!(status, 200, "{v}");
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let s = |p: &str| {
                c.pointer(p)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned()
            };
            (s("/accessible_by/type"), s("/accessible_by/id"), s("/role"))
        })
        .collect()
}

fn tree() -> tempfile::TempDir {
    let t = tempfile::tempdir().unwrap();
    for (p, body) in [
        ("eng-share/plan.txt", "plan"),
        ("view-share/readme.txt", "readme"),
        ("view-share/sub/deep.txt", "deep"),
    ] {
        let p = t.path().join(p);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, body).unwrap();
    }
    t
}

fn out_text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn grants_apply_once_the_user_sees_what_the_csv_grants_and_verify_checks_them() {
    let emu = emulator();
    let src = tree();
    let work = tempfile::tempdir().unwrap();
    let perms = work.path().join("perms.csv");
    std::fs::write(
        &perms,
        "path,collaborator,role,status,reason\n\
         eng-share,group:Engineering,editor,grant,\n\
         view-share,bob@example.com,viewer,,\n\
         view-share,gid:7,viewer,unmapped,not in the map\n",
    )
    .unwrap();
    let out = migrate(&emu, src.path(), work.path(), &perms);
    assert_exit(&out, ExitCode::Success);
    let (eng, view) = (folder_id(&emu, "eng-share"), folder_id(&emu, "view-share"));

    // Each collaboration exists exactly once.
    assert_eq!(
        collaborations(&emu, &eng).await,
        vec![("group".into(), ENG.into(), "editor".into())]
    );
    assert_eq!(
        collaborations(&emu, &view).await,
        vec![("user".into(), BOB.into(), "viewer".into())]
    );
    let report = std::fs::read_to_string(work.path().join("report.csv")).unwrap();
    let collaborated: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(",collaborated,"))
        .collect();
    assert_eq!(collaborated.len(), 2, "{report}");
    assert!(report.contains(&format!("group:{ENG} editor")), "{report}");

    // Bob sees exactly what the CSV grants: the viewer share and its files, not the other.
    let (status, items) = get(&emu, &format!("/folders/{view}/items"), Some(BOB)).await;
    assert_eq!(status, 200, "{items}");
    let mut names: Vec<&str> = items["entries"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        ["readme.txt", "sub"],
        "exactly the viewer share's content"
    );
    let deep = folder_id(&emu, "view-share/sub");
    assert_eq!(
        get(&emu, &format!("/folders/{deep}/items"), Some(BOB))
            .await
            .0,
        200
    );
    assert_eq!(
        get(&emu, &format!("/folders/{eng}"), Some(BOB)).await.0,
        404
    );
    let form = reqwest::multipart::Form::new()
        .text(
            "attributes",
            format!(r#"{{"name":"new.txt","parent":{{"id":"{view}"}}}}"#),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("new.txt"),
        );
    let upload = reqwest::Client::new()
        .post(format!("{}/files/content", emu.upload_url()))
        .bearer_auth("dev-token")
        .header("as-user", BOB)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(upload.status().as_u16(), 403, "a viewer cannot upload");

    // A second run makes no write at all.
    let before = writes(&emu);
    let out = migrate(&emu, src.path(), work.path(), &perms);
    assert_exit(&out, ExitCode::Success);
    assert_eq!(writes(&emu), before, "{}", out_text(&out));

    // verify --permissions passes, then names what changed in Box, with exit 1.
    let out = verify(&emu, work.path(), &perms);
    assert_exit(&out, ExitCode::Success);
    let added = reqwest::Client::new()
        .post(format!("{}/collaborations", emu.api_url()))
        .bearer_auth("dev-token")
        .json(&serde_json::json!({
            "item": {"type": "folder", "id": eng},
            "accessible_by": {"type": "user", "id": BOB},
            "role": "viewer"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(added.status().as_u16(), 201);
    let out = verify(&emu, work.path(), &perms);
    assert_exit(&out, ExitCode::SomeFailed);
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        text.contains("permission_extra") && text.contains("eng-share  bob@example.com"),
        "{}",
        out_text(&out)
    );
    // A grant Box lacks (missing) and another role (role).
    let other = work.path().join("other.csv");
    std::fs::write(
        &other,
        "path,collaborator,role\n\
         eng-share,group:Engineering,editor\n\
         eng-share,bob@example.com,viewer\n\
         view-share,bob@example.com,editor\n\
         view-share,ann@example.com,viewer\n",
    )
    .unwrap();
    let out = verify(&emu, work.path(), &other);
    assert_exit(&out, ExitCode::SomeFailed);
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with("permission_"))
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(
        lines,
        [
            "permission_role view-share bob@example.com",
            "permission_missing view-share ann@example.com",
        ],
        "{}",
        out_text(&out)
    );
}

#[test]
fn an_unknown_login_or_a_bad_row_stops_before_any_upload() {
    let emu = emulator();
    let src = tree();
    let work = tempfile::tempdir().unwrap();
    let perms = work.path().join("perms.csv");
    std::fs::write(
        &perms,
        "path,collaborator,role\n\
         eng-share,group:Engineering,editor\n\
         view-share,bobb@example.com,viewer\n\
         view-share,group:Enginering,viewer\n",
    )
    .unwrap();
    let out = migrate(&emu, src.path(), work.path(), &perms);
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("perms.csv:3: \"bobb@example.com\"")
            && err.contains("perms.csv:4: \"group:Enginering\""),
        "{err}"
    );
    assert_eq!(writes(&emu), BTreeMap::new(), "nothing was written to Box");
    assert!(
        emu.state()
            .tree
            .iter()
            .all(|e| e.path.is_empty() || e.kind != "file")
    );
}

/// `system.posix_acl_access` with the owner's, a named user's, the group's, mask and other
/// entries (Linux's layout; see `permissions::acl`).
fn set_acl(dir: &Path, named_user: u32, bits: u8) {
    use boxlift::permissions::acl::{GROUP_OBJ, MASK, OTHER, USER, USER_OBJ, encode};
    let none = u32::MAX;
    let raw = encode(&[
        (USER_OBJ, 7, none),
        (USER, bits, named_user),
        (GROUP_OBJ, 5, none),
        (MASK, 7, none),
        (OTHER, 0, none),
    ]);
    xattr::set(dir, "system.posix_acl_access", &raw).expect("this file system takes POSIX ACLs");
}

#[test]
fn the_proposal_from_a_chowned_tree_matches_exactly() {
    use std::os::unix::fs::chown;
    let t = tempfile::tempdir().unwrap();
    let root = t.path().join("share");
    let dir = |rel: &str, uid: u32, gid: u32, mode: u32| {
        let p = root.join(rel);
        std::fs::create_dir_all(&p).unwrap();
        chown(&p, Some(uid), Some(gid)).expect("the tests run as root");
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    };
    dir("", 41001, 42001, 0o750);
    dir("eng", 41001, 42001, 0o770);
    dir("private", 41001, 42001, 0o700);
    dir("drop", 41003, 42001, 0o753);
    let shared = dir("shared", 41001, 42001, 0o750);
    set_acl(&shared, 41002, 5);
    std::fs::write(root.join("eng/file.txt"), "files do not count").unwrap();
    let users = t.path().join("users.csv");
    std::fs::write(
        &users,
        "local,box\n41001,ann@example.com\n41002,bob@example.com\n",
    )
    .unwrap();
    let groups = t.path().join("groups.csv");
    std::fs::write(&groups, "local,box\n42001,Engineering\n").unwrap();
    let out_csv = t.path().join("perms.csv");
    let out = Command::new(boxlift_bin())
        .args(["permissions", root.to_str().unwrap()])
        .args(["--users", users.to_str().unwrap()])
        .args(["--groups", groups.to_str().unwrap()])
        .args(["-o", out_csv.to_str().unwrap()])
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    let got = std::fs::read_to_string(&out_csv).unwrap();
    let want = "\
path,collaborator,role,status,reason
.,ann@example.com,editor,grant,
.,group:Engineering,viewer,grant,
drop,ann@example.com,uploader,conflict,\"local bits -wx give uploader, but Box keeps editor from . below it (a parent's collaboration cannot be taken away)\"
drop,uid:41003,editor,unmapped,\"local user 41003 is not in the users map: add a line `41003,LOGIN` to grant it\"
drop,other,uploader,ignored,\"\"\"other\"\" bits -wx: boxlift never grants everyone; grant a group by hand if that was meant\"
eng,group:Engineering,editor,grant,
private,group:Engineering,,conflict,\"local bits --- give no access, but Box keeps viewer from . below it (a parent's collaboration cannot be taken away)\"
shared,bob@example.com,viewer,grant,
";
    assert_eq!(got, want);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("5 directories read"), "{err}");
}
