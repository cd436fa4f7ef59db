//! Issue 12, item 5: `migrate --repair VERIFY.csv` re-sends exactly what `verify` found missing
//! or different in Box: a deleted file comes back as a new file, a file whose content was
//! replaced in Box gets ours back as a new version (never a duplicate), nothing else is sent,
//! and `verify` passes afterwards.
use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::exit::ExitCode;
use boxlift::model::Action;

use super::{actions, migrate_cmd, report, run, verify_with};
use crate::common::assert_exit;
use crate::common::tree::Tree;

/// `DELETE /files/{id}` or `POST /files/{id}/content` straight to the emulator, behind
/// boxlift's back.
fn damage(emu: &EmulatorHandle, delete: &str, replace: &str) {
    let id = |path: &str| {
        emu.state()
            .tree
            .into_iter()
            .find(|e| e.path == path)
            .unwrap_or_else(|| panic!("{path} not in Box"))
            .id
    };
    let (gone, changed) = (id(delete), id(replace));
    let (api, upload) = (emu.api_url(), emu.upload_url());
    tokio::runtime::Runtime::new().unwrap().block_on(async {
        let http = reqwest::Client::new();
        let s = http
            .delete(format!("{api}/files/{gone}"))
            .bearer_auth("dev-token")
            .send()
            .await
            .unwrap()
            .status();
        assert!(s.is_success(), "{s}");
        let form = reqwest::multipart::Form::new()
            .text("attributes", "{}")
            .part(
                "file",
                reqwest::multipart::Part::bytes(b"garbled in Box".to_vec()).file_name("x"),
            );
        let s = http
            .post(format!("{upload}/files/{changed}/content"))
            .bearer_auth("dev-token")
            .multipart(form)
            .send()
            .await
            .unwrap()
            .status();
        assert!(s.is_success(), "{s}");
    });
}

#[test]
fn repair_resends_exactly_what_verify_found_missing_or_changed() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..40 {
        t.file(
            format!("d{}/f{i}.txt", i % 4),
            format!("file {i}").as_bytes(),
        );
    }
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    damage(&emu, "d1/f5.txt", "d2/f6.txt");

    let v1 = work.path().join("verify/before.csv");
    let out = verify_with(&emu, work.path(), &["--report", v1.to_str().unwrap()]);
    assert_exit(&out, ExitCode::SomeFailed);
    let text = std::fs::read_to_string(&v1).unwrap();
    assert!(text.contains("d1/f5.txt,missing"), "{text}");
    assert!(text.contains("d2/f6.txt,sha1_mismatch") || text.contains("d2/f6.txt,size_mismatch"));

    // A plain re-run trusts the journal: nothing is sent (the reason for --repair).
    let before = emu.state().counters;
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_eq!(emu.state().counters.uploads, before.uploads);

    let out = run(migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--repair", v1.to_str().unwrap()],
    ));
    assert_exit(&out, ExitCode::Success);
    let after = emu.state().counters;
    assert_eq!(
        after.files_created - before.files_created,
        1,
        "the deleted file"
    );
    assert_eq!(
        after.versions_created - before.versions_created,
        1,
        "the changed file"
    );
    assert_eq!(after.uploads - before.uploads, 2, "nothing else was sent");
    assert_eq!(after.sessions_created, before.sessions_created);
    let rows = report(work.path());
    let by = |p: &str| rows.iter().find(|r| r.path == p).unwrap().action();
    assert_eq!(by("d1/f5.txt"), Action::Uploaded);
    assert_eq!(by("d2/f6.txt"), Action::NewVersion);
    let acts = actions(&rows);
    assert_eq!(
        acts.get(&Action::SkippedDone),
        Some(&(rows.len() - 2)),
        "{acts:?}"
    );
    // One file per path (no duplicate), and the changed one keeps Box's history.
    let state = emu.state();
    assert_eq!(state.tree.iter().filter(|e| e.kind == "file").count(), 40);
    let e = state.tree.iter().find(|e| e.path == "d2/f6.txt").unwrap();
    assert_eq!(e.versions, 3);

    let v2 = work.path().join("verify/after.csv");
    let out = verify_with(&emu, work.path(), &["--report", v2.to_str().unwrap()]);
    assert_exit(&out, ExitCode::Success);
    // The repair is recorded: a plain re-run sends nothing again.
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    assert_eq!(emu.state().counters.uploads, after.uploads);
}

#[test]
fn repair_refuses_what_is_not_a_verify_report_and_policies_that_would_duplicate() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    run(migrate_cmd(&emu, t.root(), work.path(), &[]));
    let rep = work.path().join("report.csv");
    let copy = work.path().join("not-verify.csv");
    std::fs::copy(&rep, &copy).unwrap();
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--repair", copy.to_str().unwrap()],
    )
    .output()
    .unwrap();
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("is not a verify report"), "{err}");
    let v = work.path().join("v.csv");
    std::fs::write(
        &v,
        "path,problem,expected_size,box_size,expected_sha1,box_sha1,box_id\na.txt,missing,1,,x,,\n",
    )
    .unwrap();
    let out = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--repair", v.to_str().unwrap(), "--on-conflict", "rename"],
    )
    .output()
    .unwrap();
    assert_exit(&out, ExitCode::CouldNotRun);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--on-conflict rename"), "{err}");
}
