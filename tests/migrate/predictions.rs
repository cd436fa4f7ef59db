//! A dry run's plan comes true: `--dry-run` then the real run over the same Box states, under
//! every `--on-conflict` policy, through the binary against the emulator. Each row the dry run
//! predicts as `would_X` is `X` in the real run; each row it settles (skipped, conflict,
//! failed) the real run settles the same way.
use std::collections::BTreeMap;

use boxlift::emulator::{EmulatorConfig, EmulatorState};
use boxlift::exit::ExitCode;
use boxlift::model::Action;

use super::{migrate_cmd, report, touched_later};
use crate::common::assert_exit;
use crate::common::emu::{Emu, form, send};
use crate::common::tree::Tree;

/// The Box states a file (or a directory) can meet at its name, one each.
const ABSENT: &str = "absent.txt";
/// Box holds our content (put there by someone else).
const SAME: &str = "same.txt";
/// Box holds someone else's file with other content; boxlift never uploaded it.
const OTHERS: &str = "others.txt";
/// boxlift uploaded it; then it changed locally (Box still holds our upload).
const CHANGED_LOCALLY: &str = "changed-locally.txt";
/// boxlift uploaded it; then it changed locally and someone uploaded a new version in Box.
const CHANGED_IN_BOX: &str = "changed-in-box.txt";
/// Box holds a folder of the file's name.
const FOLDER: &str = "folder.txt";
/// A local (empty) directory where Box holds a file of its name.
const DIR: &str = "notes";

/// What the real run must do, per state, under (skip, version, rename, fail): the table of
/// `plan::conflict`, seen from outside.
fn expected(policy: &str) -> BTreeMap<&'static str, Action> {
    use Action::*;
    let i = ["skip", "version", "rename", "fail"]
        .iter()
        .position(|p| *p == policy)
        .expect("a policy");
    let row = |acts: [Action; 4]| acts[i];
    BTreeMap::from([
        (ABSENT, Uploaded),
        (SAME, SkippedExists),
        (OTHERS, row([SkippedConflict, NewVersion, Renamed, Failed])),
        (
            CHANGED_LOCALLY,
            row([SkippedConflict, NewVersion, Renamed, Failed]),
        ),
        (
            CHANGED_IN_BOX,
            row([SkippedConflict, Conflict, Renamed, Conflict]),
        ),
        (FOLDER, Conflict),
        (DIR, Conflict),
    ])
}

/// The real action a dry run's action predicts.
fn predicted(dry: Action) -> Action {
    match dry {
        Action::WouldUpload => Action::Uploaded,
        Action::WouldVersion => Action::NewVersion,
        Action::WouldRename => Action::Renamed,
        Action::WouldCopy => Action::Copied,
        Action::WouldCreate => Action::FolderCreated,
        settled => settled,
    }
}

/// Actions by path, parsed from the report's action column.
fn actions(work: &std::path::Path) -> BTreeMap<String, (Action, String)> {
    report(work)
        .into_iter()
        .map(|r| (r.path.clone(), (r.action(), r.error_code.clone())))
        .collect()
}

/// Box's tree as (path, kind, SHA-1, versions), for "the dry run changed nothing".
fn tree(state: &EmulatorState) -> Vec<(String, String, Option<String>, u32)> {
    let mut t: Vec<_> = state
        .tree
        .iter()
        .map(|e| (e.path.clone(), e.kind.clone(), e.sha1.clone(), e.versions))
        .collect();
    t.sort();
    t
}

/// Set up the seven states for one policy, then dry run, then real run; check the prediction.
fn dry_run_comes_true(policy: &str) {
    let emu = Emu::with(EmulatorConfig::default());
    let rt = tokio::runtime::Runtime::new().unwrap();
    let t = Tree::new();
    let work = tempfile::tempdir().unwrap();
    // boxlift's earlier run: the two files it will later meet again, in its journal.
    t.file(CHANGED_LOCALLY, b"ours, first");
    t.file(CHANGED_IN_BOX, b"ours, first too");
    let out = migrate_cmd(&emu.handle, t.root(), work.path(), &[])
        .output()
        .unwrap();
    assert_exit(&out, ExitCode::Success);
    // Others' doings in Box: the same content, another file, a folder, a newer version.
    let state = rt.block_on(emu.state());
    let id_of = |path: &str| {
        state
            .tree
            .iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} is in Box"))
            .id
            .clone()
    };
    let in_box = id_of(CHANGED_IN_BOX);
    rt.block_on(async {
        emu.upload_ok("0", SAME, b"same bytes").await;
        emu.upload_ok("0", OTHERS, b"someone else's").await;
        emu.mkdir_ok("0", FOLDER).await;
        emu.upload_ok("0", DIR, b"a file where a folder goes").await;
        let (status, body) = send(
            emu.post(&format!("/api/2.0/files/{in_box}/content"))
                .multipart(form(CHANGED_IN_BOX, None, b"a colleague's edit")),
        )
        .await;
        // Box answers a new version with 200 (OpenAPI: `POST /files/{file_id}/content`).
        assert_eq!(status, 200, "{body}");
    });
    // The local side.
    t.file(ABSENT, b"new here");
    t.file(SAME, b"same bytes");
    t.file(OTHERS, b"ours, not theirs");
    t.file(FOLDER, b"a file where Box has a folder");
    t.dir(DIR);
    touched_later(&t.file(CHANGED_LOCALLY, b"ours, second"));
    touched_later(&t.file(CHANGED_IN_BOX, b"ours, second too"));

    let args = ["--on-conflict", policy];
    let before = tree(&rt.block_on(emu.state()));
    let dry_args = ["--on-conflict", policy, "--dry-run"];
    let dry_out = migrate_cmd(&emu.handle, t.root(), work.path(), &dry_args)
        .output()
        .unwrap();
    let dry = actions(work.path());
    assert_eq!(
        tree(&rt.block_on(emu.state())),
        before,
        "the dry run changed Box"
    );
    let real_out = migrate_cmd(&emu.handle, t.root(), work.path(), &args)
        .output()
        .unwrap();
    let real = actions(work.path());

    let want = expected(policy);
    assert_eq!(real.len(), want.len(), "{policy}: {real:?}");
    for (path, want) in want {
        let (dry, dry_code) = &dry[path];
        let (real, real_code) = &real[path];
        assert_eq!(*real, want, "{policy}: the real run at {path}");
        assert_eq!(
            predicted(*dry),
            *real,
            "{policy}: the dry run predicted {dry} at {path}, the real run did {real}"
        );
        assert_eq!(dry_code, real_code, "{policy}: error codes at {path}");
    }
    // Both runs have failure rows (the folder is a conflict under every policy).
    assert_exit(&dry_out, ExitCode::SomeFailed);
    assert_exit(&real_out, ExitCode::SomeFailed);
}

#[test]
fn dry_run_predictions_come_true_with_on_conflict_skip() {
    dry_run_comes_true("skip");
}

#[test]
fn dry_run_predictions_come_true_with_on_conflict_version() {
    dry_run_comes_true("version");
}

#[test]
fn dry_run_predictions_come_true_with_on_conflict_rename() {
    dry_run_comes_true("rename");
}

#[test]
fn dry_run_predictions_come_true_with_on_conflict_fail() {
    dry_run_comes_true("fail");
}
