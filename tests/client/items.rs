//! Moves, renames and the trash through the client: `move_file`, `move_folder`, `trash_file`,
//! `trash_folder` against the emulator, with If-Match, name clashes, a blocked folder and lost
//! replies. Assertions are on the emulator's tree, trash and counters.
use super::*;

/// An emulator, a client, and folders `a` and `b` under the root with one file `a/f.txt`.
struct Scene {
    emu: EmulatorHandle,
    client: BoxClient,
    a: String,
    b: String,
    file: boxlift::box_api::File,
    _dir: tempfile::TempDir,
}

async fn scene() -> Scene {
    let emu = start(EmulatorConfig::default());
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let a = client.ensure_folder("0", "a").await.unwrap();
    let b = client.ensure_folder("0", "b").await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = make_file(dir.path(), "f.txt", 1000, 1);
    let file = client
        .upload_direct(&src, new_file(&a, "f.txt"))
        .await
        .unwrap()
        .file;
    Scene {
        emu,
        client,
        a,
        b,
        file,
        _dir: dir,
    }
}

/// `GET /2.0/folders/trash/items` straight from the emulator: (type, name) of each entry.
async fn trash(emu: &EmulatorHandle) -> Vec<(String, String)> {
    let body: serde_json::Value = reqwest::Client::new()
        .get(format!("{}/folders/trash/items", emu.api_url()))
        .bearer_auth("dev-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap().to_string(),
                e["name"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn route_count(emu: &EmulatorHandle, route: &str, status: &str) -> u64 {
    emu.state()
        .counters
        .requests
        .get(route)
        .and_then(|m| m.get(status))
        .copied()
        .unwrap_or(0)
}

#[tokio::test]
async fn a_file_moves_and_renames_in_one_call_and_its_etag_changes() {
    let s = scene().await;
    let etag = s.file.etag.clone().unwrap();
    let moved = s
        .client
        .move_file(&s.file.id, Some(&s.b), Some("g.txt"), Some(&etag))
        .await
        .unwrap();
    assert_eq!(moved.id, s.file.id);
    assert_eq!(moved.name.as_deref(), Some("g.txt"));
    assert_eq!(moved.parent.as_ref().map(|p| p.id.as_str()), Some(&*s.b));
    assert_ne!(
        moved.etag.as_deref(),
        Some(&*etag),
        "a move changes the etag"
    );
    let t = tree(&s.emu);
    assert!(
        t.contains_key("b/g.txt") && !t.contains_key("a/f.txt"),
        "{t:?}"
    );
    assert_eq!(route_count(&s.emu, "PUT /2.0/files/{id}", "200"), 1);
    // Rename only, in place.
    let renamed = s
        .client
        .move_file(&s.file.id, None, Some("h.txt"), None)
        .await
        .unwrap();
    assert_eq!(renamed.parent.as_ref().map(|p| p.id.as_str()), Some(&*s.b));
    assert!(tree(&s.emu).contains_key("b/h.txt"));
}

#[tokio::test]
async fn a_stale_etag_is_a_precondition_failure_and_nothing_moves() {
    let s = scene().await;
    let old = s.file.etag.clone().unwrap();
    // Someone renames it in Box: the etag boxlift holds is now stale.
    s.client
        .move_file(&s.file.id, None, Some("theirs.txt"), None)
        .await
        .unwrap();
    let e = s
        .client
        .move_file(&s.file.id, Some(&s.b), None, Some(&old))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Precondition, "{e}");
    assert_eq!(e.code.as_deref(), Some("precondition_failed"));
    let e = s
        .client
        .trash_file(&s.file.id, Some(&old))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Precondition, "{e}");
    assert!(tree(&s.emu).contains_key("a/theirs.txt"));
    assert!(trash(&s.emu).await.is_empty());
}

#[tokio::test]
async fn a_move_onto_a_taken_name_is_a_conflict_naming_the_holder() {
    let s = scene().await;
    let dir = tempfile::tempdir().unwrap();
    let other = make_file(dir.path(), "x.txt", 10, 2);
    let holder = s
        .client
        .upload_direct(&other, new_file(&s.b, "F.TXT"))
        .await
        .unwrap()
        .file;
    let e = s
        .client
        .move_file(&s.file.id, Some(&s.b), None, None)
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Conflict {
            existing: Some(holder.id.clone())
        }
    );
    assert_eq!(e.code.as_deref(), Some("item_name_in_use"));
    // A folder too.
    let e = s
        .client
        .move_folder(&s.a, None, Some("B"), None)
        .await
        .unwrap_err();
    assert!(matches!(e.kind, ErrorKind::Conflict { existing: Some(ref id) } if *id == s.b));
}

#[tokio::test]
async fn a_folder_moves_with_its_content_in_one_request() {
    let s = scene().await;
    let sub = s.client.ensure_path(&s.a, "deep/er").await.unwrap();
    let before = requests(&s.emu);
    let folder = s
        .client
        .move_folder(&s.a, Some(&s.b), Some("a2"), None)
        .await
        .unwrap();
    assert_eq!(
        requests(&s.emu) - before,
        1,
        "one call for the whole folder"
    );
    assert_eq!(folder.parent.as_ref().map(|p| p.id.as_str()), Some(&*s.b));
    let t = tree(&s.emu);
    assert!(
        t.contains_key("b/a2/f.txt") && t.contains_key("b/a2/deep/er"),
        "{t:?}"
    );
    // The folder cache follows the move: "a" under the root is new, the old id is not reused.
    let a_again = s.client.ensure_folder("0", "a").await.unwrap();
    assert_ne!(a_again, s.a);
    assert_eq!(s.client.ensure_path(&s.b, "a2/deep/er").await.unwrap(), sub);
}

#[tokio::test]
async fn trashing_keeps_items_in_the_trash_and_their_content_answers_trashed() {
    let s = scene().await;
    let etag = s.file.etag.clone().unwrap();
    s.client.trash_file(&s.file.id, Some(&etag)).await.unwrap();
    assert_eq!(route_count(&s.emu, "DELETE /2.0/files/{id}", "204"), 1);
    // A folder with content: refused without `recursive`, one call with it.
    let dir = tempfile::tempdir().unwrap();
    let src = make_file(dir.path(), "in.txt", 10, 3);
    let inner = s
        .client
        .upload_direct(&src, new_file(&s.b, "in.txt"))
        .await
        .unwrap()
        .file;
    let e = s.client.trash_folder(&s.b, false, None).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("folder_not_empty"), "{e}");
    assert_eq!(e.kind, ErrorKind::Invalid);
    s.client.trash_folder(&s.b, true, None).await.unwrap();
    let t = tree(&s.emu);
    assert!(!t.contains_key("b") && !t.contains_key("b/in.txt"), "{t:?}");
    // The trash lists what was deleted, top-level only (not b's content beside b), by id.
    let want = [("folder", "b"), ("file", "f.txt")].map(|(k, n)| (k.to_string(), n.to_string()));
    assert_eq!(trash(&s.emu).await, want);
    let paths: Vec<String> = s.emu.trashed_items().into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["b", "a/f.txt"]);
    // Nothing moves into a trashed folder.
    let e = s
        .client
        .move_folder(&s.a, Some(&s.b), None, None)
        .await
        .unwrap_err();
    assert_eq!(e.code.as_deref(), Some("trashed"), "{e}");
    // What was inside the trashed folder answers 404 `trashed`.
    let e = s.client.get_file(&inner.id).await.unwrap_err();
    assert_eq!(
        (e.kind, e.code.as_deref()),
        (ErrorKind::NotFound, Some("trashed"))
    );
    // Nothing is purged, and trashing again is done, not an error (the item is in the trash).
    s.client.trash_file(&inner.id, None).await.unwrap();
    s.client.trash_folder(&s.b, true, None).await.unwrap();
    assert_eq!(trash(&s.emu).await.len(), 2);
    // A plain 404 (an id that never existed) on a first attempt is an error.
    let e = s.client.trash_file("987654321", None).await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("not_found"));
}

#[tokio::test]
async fn a_blocked_folder_operation_is_retried_until_box_lets_it_through() {
    let s = scene().await;
    s.emu.block_operations(2);
    s.client
        .move_folder(&s.a, Some(&s.b), None, None)
        .await
        .unwrap();
    assert_eq!(route_count(&s.emu, "PUT /2.0/folders/{id}", "409"), 2);
    assert_eq!(route_count(&s.emu, "PUT /2.0/folders/{id}", "200"), 1);
    assert_eq!(s.client.stats().retries, 2);
    s.emu.block_operations(1);
    s.client.trash_folder(&s.a, true, None).await.unwrap();
    assert_eq!(route_count(&s.emu, "DELETE /2.0/folders/{id}", "409"), 1);
    assert_eq!(route_count(&s.emu, "DELETE /2.0/folders/{id}", "204"), 1);
    assert!(!tree(&s.emu).contains_key("b/a"));
    // Blocked past the retry budget: a transient error, not a name clash.
    let mut cfg = dev_config(&s.emu);
    cfg.retry.max_attempts = 2;
    let impatient = BoxClient::new(cfg).unwrap();
    s.emu.block_operations(5);
    let e = impatient
        .move_folder(&s.b, None, Some("c"), None)
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert_eq!(e.code.as_deref(), Some("operation_blocked_temporary"));
    assert!(e.message.contains("gave up after 2 attempts"), "{e}");
    s.emu.block_operations(0);
}

/// Every reply of a stored move or trash is lost: the repeat meets the etag its own first
/// attempt changed (412) or the item already in the trash (404), and both count as done.
#[tokio::test]
async fn moves_and_trash_whose_replies_are_lost_are_done_once() {
    let s = scene().await;
    s.emu.set_switches(|sw| sw.lost_reply_rate = 1.0);
    let etag = s.file.etag.clone().unwrap();
    let moved = s
        .client
        .move_file(&s.file.id, Some(&s.b), Some("g.txt"), Some(&etag))
        .await
        .unwrap();
    assert_eq!(moved.name.as_deref(), Some("g.txt"));
    assert_eq!(route_count(&s.emu, "PUT /2.0/files/{id}", "412"), 1);
    s.client
        .trash_file(&s.file.id, moved.etag.as_deref())
        .await
        .unwrap();
    let a_etag = s.client.get_folder(&s.a).await.unwrap().etag.unwrap();
    let a2 = s
        .client
        .move_folder(&s.a, None, Some("a2"), Some(&a_etag))
        .await
        .unwrap();
    assert_eq!(a2.name.as_deref(), Some("a2"));
    assert_eq!(route_count(&s.emu, "PUT /2.0/folders/{id}", "412"), 1);
    s.client.trash_folder(&s.a, true, None).await.unwrap();
    s.emu.set_switches(|sw| sw.lost_reply_rate = 0.0);
    let lost = s.emu.state().counters.faults;
    let lost: u64 = ["lost_reply_5xx", "lost_reply_drop"]
        .iter()
        .filter_map(|k| lost.get(*k))
        .sum();
    assert_eq!(lost, 4, "each call's first reply was lost");
    assert_eq!(route_count(&s.emu, "DELETE /2.0/files/{id}", "404"), 1);
    assert_eq!(route_count(&s.emu, "DELETE /2.0/folders/{id}", "404"), 1);
    let t = tree(&s.emu);
    assert_eq!(t.keys().collect::<Vec<_>>(), ["b"], "{t:?}");
    let paths: Vec<String> = s.emu.trashed_items().into_iter().map(|e| e.path).collect();
    assert_eq!(paths, ["a2", "b/g.txt"], "each item trashed once");
}
