//! Direct uploads meeting conflicts, new versions, server-side copies and changed sources.
use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_versions_copies_and_changed_sources() {
    let emu = start(EmulatorConfig::default());
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = make_file(dir.path(), "a.txt", 100, 1);
    let first = client
        .upload_direct(&a, new_file("0", "a.txt"))
        .await
        .unwrap();
    assert!(!first.already_there);
    // Same name, same content: already there, nothing stored.
    let again = client
        .upload_direct(&a, new_file("0", "A.TXT"))
        .await
        .unwrap();
    assert!(again.already_there);
    assert_eq!(again.file.id, first.file.id);
    // Same name, other content: a conflict naming the existing file.
    let b = make_file(dir.path(), "b.txt", 120, 2);
    let e = client
        .upload_direct(&b, new_file("0", "a.txt"))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Conflict {
            existing: Some(first.file.id.clone())
        }
    );
    // New version guarded by a stale etag: 412.
    let e = client
        .upload_direct(
            &b,
            UploadTarget::NewVersion {
                file_id: first.file.id.clone(),
                if_match: Some("stale".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Precondition, "{e}");
    let v = client
        .upload_direct(
            &b,
            UploadTarget::NewVersion {
                file_id: first.file.id.clone(),
                if_match: first.file.etag.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(v.file.sha1.as_deref(), Some(b.sha1_hex.as_str()));
    // Server-side copy.
    let folder = client.ensure_path("0", "copies").await.unwrap();
    let copy = client
        .copy_file(&first.file.id, &folder, Some("c.txt"))
        .await
        .unwrap();
    assert_eq!(copy.sha1.as_deref(), Some(b.sha1_hex.as_str()));
    // A source changed since the scan is refused, naming the file, before any byte is sent.
    let mut stale = make_file(dir.path(), "d.txt", 50, 3);
    stale.size = 49;
    let sent = emu.state().counters.bytes_received;
    let e = upload(&client, &stale, new_file("0", "d.txt"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(
        e.to_string().contains("d.txt") && e.to_string().contains("changed since scan"),
        "{e}"
    );
    assert_eq!(emu.state().counters.bytes_received, sent);
    // A wrong SHA-1 claim is refused by Box (content-md5), never stored.
    let mut lie = make_file(dir.path(), "e.txt", 50, 4);
    lie.sha1_hex = "0".repeat(40);
    assert!(upload(&client, &lie, new_file("0", "e.txt")).await.is_err());
    assert!(!tree(&emu).contains_key("e.txt"));
    // Listing pages through everything.
    for i in 0..5 {
        client
            .ensure_folder(&folder, &format!("sub{i}"))
            .await
            .unwrap();
    }
    let items = client
        .list_folder(&folder, &["name", "sha1"])
        .await
        .unwrap();
    assert_eq!(items.len(), 6);
}
