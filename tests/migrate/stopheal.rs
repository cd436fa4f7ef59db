//! Errors no retry fixes: stop the job (the destination trashed), drop an identity (Box
//! refuses its writes), or heal (a subfolder trashed): each through the emulator, with the
//! event made to happen mid-run by an observer of the run's own events.
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle, EmulatorState, UserAccess};
use boxlift::migrate::{Cancel, MigrateError, Observer};
use boxlift::model::{Action, Event};

use super::{
    assert_tree_landed, boxlift, manifest, migrate_cmd, migrate_config, report, report_rows_so_far,
    verify,
};
use crate::common::tree::Tree;

/// Replies with status 404, whatever the route.
fn not_found_replies(state: &EmulatorState) -> u64 {
    state
        .counters
        .requests
        .values()
        .filter_map(|by_status| by_status.get("404"))
        .sum()
}

/// A folder named `name` in the root, made through Box's API: its id.
fn make_folder(emu: &EmulatorHandle, name: &str) -> String {
    let url = format!("{}/folders", emu.api_url());
    let body: serde_json::Value = tokio::runtime::Runtime::new().unwrap().block_on(async {
        reqwest::Client::new()
            .post(url)
            .bearer_auth("dev-token")
            .json(&serde_json::json!({"name": name, "parent": {"id": "0"}}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    body["id"].as_str().expect("a folder id").to_string()
}

/// `dirs` × `subdirs` × `files` small files: `d{i}/s{j}/f{k}.txt`.
fn nested_tree(t: &Tree, dirs: usize, subdirs: usize, files: usize) {
    for i in 0..dirs {
        for j in 0..subdirs {
            for k in 0..files {
                t.file(
                    format!("d{i}/s{j}/f{k}.txt"),
                    format!("{i}/{j}/{k}\n").repeat(1 + k % 5).as_bytes(),
                );
            }
        }
    }
}

/// What the observer saw when it made the event happen.
#[derive(Debug, Clone, Copy)]
struct Moment {
    at: Instant,
    requests: u64,
    not_found: u64,
}

/// The destination folder trashed mid-run: the job stops (exit 2 from the CLI: an `Err`),
/// within seconds, with the rows in flight failed and hardly a 404 after the trash; nothing
/// new starts.
#[test]
fn a_destination_trashed_mid_run_stops_the_job_at_once() {
    let emu = Arc::new(Emulator::start(EmulatorConfig::default()).unwrap());
    let dest = make_folder(&emu, "dest");
    let t = Tree::new();
    nested_tree(&t, 10, 4, 50);
    let work = tempfile::tempdir().unwrap();
    let concurrency = 8;
    let mut config = migrate_config(&emu, t.root(), work.path(), concurrency);
    config.dest = dest.clone();
    let moment = Arc::new(Mutex::new(None::<Moment>));
    let (seen, handle) = (moment.clone(), emu.clone());
    let mut uploaded = 0;
    config.observer = Some(Observer::new(move |ev| {
        if let Event::FileDone(r) = ev
            && r.action() == Action::Uploaded
        {
            uploaded += 1;
            if uploaded == 100 {
                handle.trash(&dest).unwrap();
                let state = handle.state();
                *seen.lock().unwrap() = Some(Moment {
                    at: Instant::now(),
                    requests: state.counters.total_requests(),
                    not_found: not_found_replies(&state),
                });
            }
        }
    }));
    let err = boxlift::migrate::run(config, Cancel::new()).unwrap_err();
    let m = moment.lock().unwrap().expect("the destination was trashed");
    let seconds = m.at.elapsed().as_secs_f64();
    let msg = err.to_string();
    assert!(matches!(err, MigrateError::Stopped { .. }), "{err:?}");
    assert!(
        msg.contains("trashed") && msg.contains("the destination folder is gone"),
        "{msg}"
    );
    let rep = report(work.path());
    let failed = rep.iter().filter(|r| r.action() == Action::Failed).count();
    let state = emu.state();
    // Nothing new starts: what reaches Box after the trash is what was in flight, and the
    // look that found the destination gone.
    let after = state.counters.total_requests() - m.requests;
    let not_found = not_found_replies(&state) - m.not_found;
    eprintln!(
        "destination trashed (--concurrency {concurrency}): {failed} rows failed, {after} \
         requests after the trash, {not_found} of them answered 404, stopped {seconds:.2} s \
         after it"
    );
    assert!(failed <= concurrency + 8, "{failed} rows failed");
    assert!(
        after <= concurrency as u64 + 8,
        "{after} requests after the trash"
    );
    assert!(not_found <= 10, "{not_found} requests answered 404");
    assert!(seconds < 10.0, "{seconds} s");
}

/// The same through the CLI: exit 2 within 10 s of the trash, and one message that says what
/// happened and what to do.
#[test]
fn the_cli_exits_2_with_one_message_when_the_destination_is_trashed_mid_run() {
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 2,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let dest = make_folder(&emu, "dest");
    let t = Tree::new();
    nested_tree(&t, 10, 4, 50);
    let work = tempfile::tempdir().unwrap();
    let report = work.path().join("report.csv");
    let mut child = boxlift(
        &emu,
        &[
            "migrate",
            t.root().to_str().unwrap(),
            "--dest",
            &dest,
            "--report",
            report.to_str().unwrap(),
            "--progress",
            "none",
            "--concurrency",
            "4",
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until the run has finished 200 rows (the report is flushed row by row).
    while report_rows_so_far(work.path()) < 200 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    emu.trash(&dest).unwrap();
    let trashed = Instant::now();
    let not_found_before = not_found_replies(&emu.state());
    let out = child.wait_with_output().unwrap();
    let seconds = trashed.elapsed().as_secs_f64();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let rows = report_rows_so_far(work.path());
    let not_found = not_found_replies(&emu.state()) - not_found_before;
    eprintln!(
        "CLI, destination trashed after 200 rows: exit {:?} after {seconds:.2} s, {} rows in \
         all, {not_found} replies 404 after it",
        out.status.code(),
        rows
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(seconds < 10.0, "{seconds} s");
    assert!(not_found <= 10, "{not_found} requests answered 404");
    assert_eq!(stderr.matches("the job stopped").count(), 1, "{stderr}");
    assert!(
        stderr.contains("restore it from Box's trash or give another --dest"),
        "{stderr}"
    );
    assert!(rows < 200 + 4 + 8, "{rows} rows");
}

/// 4 identities, one of which Box refuses writes for from the start: the check before the run
/// drops it, every file lands, exit 0, and stderr names it once.
#[test]
fn an_identity_refused_before_the_run_is_dropped_and_named_once() {
    let emu = Emulator::start(EmulatorConfig {
        access: vec![("13".into(), UserAccess::Viewer)],
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    nested_tree(&t, 4, 2, 25);
    let work = tempfile::tempdir().unwrap();
    let out = migrate_cmd(&emu, t.root(), work.path(), &["--as-user", "11,12,13,14"])
        .env("BOXLIFT_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("As-User 13").count(), 1, "{stderr}");
    assert_tree_landed(&emu, &manifest(work.path()));
    let rep = report(work.path());
    assert!(rep.iter().all(|r| r.as_user != "13"), "13 got files");
    for u in ["11", "12", "14"] {
        assert!(rep.iter().any(|r| r.as_user == u), "{u} got no file");
    }
}

/// 4 identities, one of which Box starts refusing mid-run (403 on its uploads): it is dropped
/// at its first refusal, its refused files go to the others, every file lands, no row fails.
#[test]
fn an_identity_refused_mid_run_is_dropped_and_its_files_go_to_the_others() {
    let emu = Arc::new(Emulator::start(EmulatorConfig::default()).unwrap());
    let t = Tree::new();
    nested_tree(&t, 8, 2, 25);
    let work = tempfile::tempdir().unwrap();
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    config.client.as_users = ["11", "12", "13", "14"].map(String::from).to_vec();
    let handle = emu.clone();
    let mut by_13 = 0;
    let refused_at = Arc::new(Mutex::new(None::<usize>));
    let seen = refused_at.clone();
    let mut rows = 0;
    config.observer = Some(Observer::new(move |ev| {
        if let Event::FileDone(r) = ev {
            rows += 1;
            if r.as_user == "13" && r.action() == Action::Uploaded {
                by_13 += 1;
                if by_13 == 20 {
                    handle.refuse_writes(&["13"]);
                    *seen.lock().unwrap() = Some(rows);
                }
            }
        }
    }));
    let summary = boxlift::migrate::run(config, Cancel::new()).unwrap();
    let at = refused_at.lock().unwrap().expect("13 was refused mid-run");
    assert_eq!(summary.rows.failures(), 0);
    assert_eq!(summary.exit_code().code(), 0);
    assert_tree_landed(&emu, &manifest(work.path()));
    let rep = report(work.path());
    // Rows finished after the refusal: at most those already in flight as 13 (which got it
    // once each and went to another identity) may still say 13, and only as uploaded before.
    let late_13 = rep[at..].iter().filter(|r| r.as_user == "13").count();
    let refused = emu
        .state()
        .counters
        .requests
        .get("POST /api/2.0/files/content")
        .and_then(|m| m.get("403").copied())
        .unwrap_or(0);
    eprintln!("identity refused mid-run: {refused} uploads refused, {late_13} rows as 13 after");
    assert!((1..=4).contains(&refused), "{refused} refused uploads");
    assert!(late_13 <= 4, "{late_13}");
}

/// A subfolder trashed mid-run: the run finds it gone at its next 404, creates it again and
/// sends the rest of its files there (no row fails), the report says so, and one plain re-run
/// sends again what had gone into the trash: Box is complete and `verify` finds nothing.
#[test]
fn a_subfolder_trashed_mid_run_is_recreated_and_one_plain_rerun_completes_it() {
    let emu = Arc::new(Emulator::start(EmulatorConfig::default()).unwrap());
    let t = Tree::new();
    nested_tree(&t, 6, 4, 25);
    let work = tempfile::tempdir().unwrap();
    let mut config = migrate_config(&emu, t.root(), work.path(), 8);
    let handle = emu.clone();
    let trashed = Arc::new(Mutex::new(None::<String>));
    let seen = trashed.clone();
    let mut uploaded = 0;
    config.observer = Some(Observer::new(move |ev| {
        if let Event::FileDone(r) = ev
            && r.action() == Action::Uploaded
        {
            uploaded += 1;
            if uploaded == 250 {
                // The top folder of the file just done (its subfolders are being filled).
                let top = r.path.split('/').next().unwrap().to_string();
                let id = handle
                    .state()
                    .tree
                    .iter()
                    .find(|e| e.path == top)
                    .unwrap()
                    .id
                    .clone();
                handle.trash(&id).unwrap();
                *seen.lock().unwrap() = Some(top);
            }
        }
    }));
    let summary = boxlift::migrate::run(config, Cancel::new()).unwrap();
    let top = trashed
        .lock()
        .unwrap()
        .clone()
        .expect("a folder was trashed");
    let rep = report(work.path());
    let healed: Vec<_> = rep
        .iter()
        .filter(|r| r.error_code == "subtree_recreated")
        .collect();
    let failed: Vec<_> = rep
        .iter()
        .filter(|r| r.action() == Action::Failed)
        .collect();
    eprintln!(
        "subfolder {top} trashed: {} rows failed in the run {failed:?}, heal rows {healed:?}",
        summary.rows.failures()
    );
    assert_eq!(healed.len(), 1, "{healed:?}");
    assert_eq!(healed[0].path, top);
    assert_eq!(healed[0].action(), Action::FolderCreated);
    assert_eq!(summary.rows.failures(), 0);

    // One plain re-run: what went into the trash is sent again.
    let before = emu.state().counters.uploads;
    let out = migrate_cmd(&emu, t.root(), work.path(), &[])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let resent = emu.state().counters.uploads - before;
    eprintln!("the re-run sent {resent} files again");
    assert!(resent > 0);
    assert_tree_landed(&emu, &manifest(work.path()));
    let v = verify(&emu, work.path());
    assert_eq!(
        v.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&v.stdout)
    );
}

/// Files appended to as their upload starts (one direct, one chunked): each row either says
/// `changed_during_upload`, or is a success whose SHA-1 is the content Box holds, which is the
/// content read (as scanned, or re-read after the change was seen). Never a success row with
/// other content.
#[test]
fn a_file_appended_to_while_it_uploads_never_lands_under_another_sha1() {
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 5,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    let direct = t.file_sized("grow/direct.bin", 3_000_000);
    let chunked = t.file_sized("grow/chunked.bin", 21_000_000);
    for i in 0..20 {
        t.file(format!("other/f{i}.txt"), format!("{i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    config.chunked_threshold = 20_000_000;
    let (d, c) = (direct.clone(), chunked.clone());
    config.observer = Some(Observer::new(move |ev| {
        if let Event::FileStarted { path, .. } = ev {
            let file = match path.as_str() {
                "grow/direct.bin" => &d,
                "grow/chunked.bin" => &c,
                _ => return,
            };
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(file).unwrap();
            f.write_all(b"appended while it uploads").unwrap();
        }
    }));
    let summary = boxlift::migrate::run(config, Cancel::new()).unwrap();
    let rep = report(work.path());
    let state = emu.state();
    let scanned = manifest(work.path());
    for (path, abs) in [("grow/direct.bin", &direct), ("grow/chunked.bin", &chunked)] {
        let r = rep.iter().find(|r| r.path == path).unwrap();
        let now = crate::common::emu::sha1_hex(&std::fs::read(abs).unwrap());
        let was = &scanned.iter().find(|m| m.path == path).unwrap().sha1;
        eprintln!(
            "{path}: {} {} (scanned {was}, now {now}, row {}), attempts {}",
            r.action(),
            r.error_code,
            r.sha1,
            r.attempts
        );
        assert_ne!(&now, was, "the file was appended to after its scan");
        if r.action() == Action::Failed {
            assert_eq!(r.error_code, "changed_during_upload", "{r:?}");
            continue;
        }
        assert_eq!(r.action(), Action::Uploaded, "{r:?}");
        let in_box = state.tree.iter().find(|e| e.path == path).unwrap();
        assert_eq!(in_box.sha1.as_deref(), Some(r.sha1.as_str()), "{r:?}");
        assert_eq!(r.box_sha1, r.sha1, "{r:?}");
        assert_eq!(r.size, in_box.size, "{r:?}");
        // The content read: as scanned (sent before the append reached it; the next run sees
        // the new mtime), or as re-read after the change was seen.
        assert!(r.sha1 == *was || r.sha1 == now, "{r:?}");
    }
    assert!(summary.rows.failures() <= 2);
}

/// The emulator's switches these tests use answer as Box does: a trashed folder and what was in
/// it answer 404 `trashed` (to a read, a folder creation in it, an upload into it), and a user
/// whose writes are refused gets 403 `access_denied_insufficient_permissions` on an upload and a
/// folder creation As-User, and reads `can_upload: false`; lifting it restores the writes.
#[tokio::test]
async fn the_trash_and_refuse_writes_switches_answer_as_box_does() {
    use crate::common::emu::{Emu, form, send};
    let emu = Emu::start();
    let dir = emu.mkdir_ok("0", "dir").await;
    let sub = emu.mkdir_ok(&dir, "sub").await;
    let file = emu.upload_ok(&sub, "a.txt", b"a").await;
    let (status, _) = send(emu.post(&format!("/_emulator/trash/{dir}"))).await;
    assert_eq!(status, 204);
    for path in [
        format!("/2.0/folders/{dir}"),
        format!("/2.0/folders/{sub}"),
        format!("/2.0/folders/{sub}/items"),
        format!("/2.0/files/{file}"),
    ] {
        let (status, body) = send(emu.get(&path)).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (404, Some("trashed")),
            "{path}"
        );
    }
    let (status, body) = emu.mkdir(&sub, "new").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("trashed")));
    let (status, body) = emu.upload(&dir, "b.txt", b"b").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("trashed")));
    // Never existed: still `not_found`.
    let (status, body) = send(emu.get("/2.0/folders/987654")).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    // The name is free again in the parent.
    emu.mkdir_ok("0", "dir").await;

    let refuse = |users: serde_json::Value| {
        emu.put("/_emulator/refuse_writes")
            .json(&serde_json::json!({ "users": users }))
    };
    assert_eq!(send(refuse(serde_json::json!(["13"]))).await.0, 204);
    let as_user = |user: &str| {
        emu.post("/api/2.0/files/content")
            .header("As-User", user)
            .multipart(form(&format!("by-{user}.txt"), Some("0"), user.as_bytes()))
    };
    let (status, body) = send(as_user("13")).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("access_denied_insufficient_permissions"))
    );
    let (status, body) = send(
        emu.post("/2.0/folders")
            .header("As-User", "13")
            .json(&serde_json::json!({"name": "x", "parent": {"id": "0"}})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("access_denied_insufficient_permissions"))
    );
    let (status, body) = send(
        emu.get("/2.0/folders/0?fields=permissions")
            .header("As-User", "13"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(body["permissions"]["can_upload"], false, "{body}");
    assert_eq!(
        send(as_user("12")).await.0,
        201,
        "another user still writes"
    );
    assert_eq!(send(refuse(serde_json::json!([]))).await.0, 204);
    assert_eq!(send(as_user("13")).await.0, 201, "lifted");
}

/// The same through the CLI, Box starting to refuse one of 4 identities mid-run: exit 0, every
/// file in Box, and stderr names the refused identity once.
#[test]
fn the_cli_names_an_identity_refused_mid_run_once_and_lands_every_file() {
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 2,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    nested_tree(&t, 8, 2, 40);
    let work = tempfile::tempdir().unwrap();
    let mut child = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &["--as-user", "11,12,13,14", "--concurrency", "8"],
    )
    .env("BOXLIFT_LOG", "warn")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until the run has finished 100 rows (the report is flushed row by row).
    while report_rows_so_far(work.path()) < 100 && child.try_wait().unwrap().is_none() {
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    emu.refuse_writes(&["13"]);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let refused = emu
        .state()
        .counters
        .requests
        .get("POST /api/2.0/files/content")
        .and_then(|m| m.get("403").copied())
        .unwrap_or(0);
    eprintln!("CLI, 13 refused after 100 rows: {refused} uploads answered 403\n{stderr}");
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr.matches("--as-user 13").count(), 1, "{stderr}");
    assert!(refused >= 1, "13 was refused mid-run");
    assert_tree_landed(&emu, &manifest(work.path()));
}

/// A chunked upload that fails after Box accepted a part: its failed row carries the bytes
/// that went out and the requests it made, not 0 and 0.
#[test]
fn a_failed_chunked_row_carries_its_attempts_and_the_bytes_sent() {
    let emu = Arc::new(Emulator::start(EmulatorConfig::default()).unwrap());
    let t = Tree::new();
    t.file_sized("big.bin", 21_000_000);
    let work = tempfile::tempdir().unwrap();
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    config.chunked_threshold = 20_000_000;
    config.part_concurrency = 1;
    config.client.retry.max_attempts = 1;
    let handle = emu.clone();
    config.observer = Some(Observer::new(move |ev| {
        // The first part accepted: from now on every request fails (5xx).
        if let Event::BytesSent { bytes } = ev
            && *bytes > 0
        {
            handle.set_switches(|s| s.fail_rate = 1.0);
        }
    }));
    let summary = boxlift::migrate::run(config, Cancel::new()).unwrap();
    assert_eq!(summary.rows.failures(), 1);
    let rep = report(work.path());
    let r = rep.iter().find(|r| r.path == "big.bin").unwrap();
    let part = emu.state().counters.bytes_received;
    eprintln!(
        "failed chunked row: {} attempts, {} bytes sent; Box received {part}",
        r.attempts, r.bytes_sent
    );
    assert_eq!(r.action(), Action::Failed, "{r:?}");
    assert!(part > 0 && r.bytes_sent >= part, "{r:?}");
    assert!(r.attempts >= 1, "{r:?}");
}
