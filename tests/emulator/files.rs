//! Direct uploads, new versions, preflight, copy and the size/quota limits.
use boxlift::emulator::EmulatorConfig;

use crate::common::emu::{Emu, data, entry, form, send, sha1_hex};

#[tokio::test]
async fn direct_upload_keeps_content_times_and_conflicts_name_the_file() {
    let emu = Emu::start();
    let body = b"hello box";
    let attrs = serde_json::json!({
        "name": "a.txt", "parent": {"id": "0"},
        "content_created_at": "2020-01-02T03:04:05+00:00",
        "content_modified_at": "2021-01-02T03:04:05+00:00",
    });
    let f = reqwest::multipart::Form::new()
        .text("attributes", attrs.to_string())
        .part(
            "file",
            reqwest::multipart::Part::bytes(body.to_vec()).file_name("a.txt"),
        );
    let (status, files) = send(emu.post("/api/2.0/files/content").multipart(f)).await;
    assert_eq!(status, 201, "{files}");
    assert_eq!(files["total_count"], 1);
    let file = &files["entries"][0];
    assert_eq!(file["sha1"], sha1_hex(body));
    assert_eq!(file["size"], body.len());
    assert_eq!(file["file_version"]["sha1"], sha1_hex(body));
    assert_eq!(file["content_modified_at"], "2021-01-02T03:04:05+00:00");
    assert_eq!(file["content_created_at"], "2020-01-02T03:04:05+00:00");
    let id = file["id"].as_str().unwrap();
    let (status, got) = send(emu.get(&format!("/2.0/files/{id}"))).await;
    assert_eq!((status, &got["sha1"]), (200, &file["sha1"]));

    let (status, err) = emu.upload("0", "A.TXT", b"other").await;
    assert_eq!(
        (status, err["code"].as_str()),
        (409, Some("item_name_in_use"))
    );
    assert_eq!(err["context_info"]["conflicts"]["id"], id);
    assert_eq!(err["context_info"]["conflicts"]["sha1"], sha1_hex(body));
    assert_eq!(emu.upload("404404", "x.txt", b"x").await.0, 404);
    let c = emu.handle.state().counters;
    assert_eq!(
        (c.uploads, c.files_created, c.bytes_received),
        (1, 1, 9 + 5 + 1)
    );
}

#[tokio::test]
async fn file_part_first_and_bad_content_md5_store_nothing() {
    let emu = Emu::start();
    let f = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"abc".to_vec()).file_name("x"),
        )
        .text("attributes", r#"{"name":"x.txt","parent":{"id":"0"}}"#);
    let (status, body) = send(emu.post("/api/2.0/files/content").multipart(f)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("metadata_after_file_contents"))
    );
    let (status, body) = send(
        emu.post("/api/2.0/files/content")
            .header("content-md5", sha1_hex(b"not it"))
            .multipart(form("x.txt", Some("0"), b"abc")),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_digest")));
    assert!(emu.handle.state().tree.is_empty());
    // Without content-md5 the upload is accepted (the header is optional).
    let (status, _) = send(emu.post("/api/2.0/files/content").multipart(form(
        "x.txt",
        Some("0"),
        b"abc",
    )))
    .await;
    assert_eq!(status, 201);
}

#[tokio::test]
async fn size_limits_quota_and_preflight() {
    let emu = Emu::with(EmulatorConfig {
        quota_bytes: Some(1_000),
        max_file_size: 600,
        ..EmulatorConfig::default()
    });
    let (status, body) = emu.upload("0", "big.bin", &data(601, 1)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("file_size_limit_exceeded"))
    );
    emu.upload_ok("0", "a.bin", &data(600, 2)).await;
    let (status, body) = emu.upload("0", "b.bin", &data(500, 3)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("storage_limit_exceeded"))
    );

    let pre = |name: &str, size: u64| {
        emu.req(reqwest::Method::OPTIONS, "/2.0/files/content")
            .json(&serde_json::json!({"name": name, "size": size, "parent": {"id": "0"}}))
    };
    let (status, ok) = send(pre("c.bin", 10)).await;
    assert_eq!(status, 200, "{ok}");
    assert!(
        ok["upload_url"]
            .as_str()
            .unwrap()
            .ends_with("/api/2.0/files/content")
    );
    assert_eq!(send(pre("A.BIN", 10)).await.0, 409);
    assert_eq!(
        send(pre("c.bin", 601)).await.1["code"],
        "file_size_limit_exceeded"
    );
    assert_eq!(
        send(pre("c.bin", 401)).await.1["code"],
        "storage_limit_exceeded"
    );
    assert_eq!(
        send(pre("bad/name", 1)).await.1["code"],
        "item_name_invalid"
    );
    let state = emu.handle.state();
    assert_eq!(state.tree.len(), 1);
}

#[tokio::test]
async fn direct_upload_over_50_mb_is_refused() {
    let emu = Emu::with(EmulatorConfig {
        discard: true,
        ..EmulatorConfig::default()
    });
    let big = vec![7u8; 50 * 1024 * 1024 + 1];
    let (status, body) = emu.upload("0", "big.bin", &big).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (413, Some("request_entity_too_large"))
    );
    assert!(emu.handle.state().tree.is_empty());
}

#[tokio::test]
async fn new_version_honours_if_match_and_counts_versions() {
    let emu = Emu::start();
    let id = emu.upload_ok("0", "v.txt", b"one").await;
    let (_, file) = send(emu.get(&format!("/2.0/files/{id}"))).await;
    let etag = file["etag"].as_str().unwrap().to_string();
    let version = |body: &'static [u8], if_match: &str| {
        emu.post(&format!("/api/2.0/files/{id}/content"))
            .header("if-match", if_match)
            .header("content-md5", sha1_hex(body))
            .multipart(form("v.txt", None, body))
    };
    let (status, files) = send(version(b"two", &etag)).await;
    assert_eq!(status, 200, "{files}");
    assert_eq!(files["entries"][0]["sha1"], sha1_hex(b"two"));
    assert_ne!(
        files["entries"][0]["file_version"]["id"],
        file["file_version"]["id"]
    );
    let (status, body) = send(version(b"three", &etag)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (412, Some("precondition_failed"))
    );
    let state = emu.handle.state();
    let e = entry(&state, "v.txt").unwrap();
    assert_eq!(
        (e.versions, e.sha1.as_deref()),
        (2, Some(sha1_hex(b"two").as_str()))
    );
    assert_eq!(state.counters.versions_created, 1);
    let missing = emu
        .post("/api/2.0/files/777777/content")
        .multipart(form("v.txt", None, b"x"));
    assert_eq!(send(missing).await.0, 404);
}

#[tokio::test]
async fn copy_creates_a_file_with_the_same_content() {
    let emu = Emu::start();
    let dir = emu.mkdir_ok("0", "dst").await;
    let id = emu.upload_ok("0", "src.txt", b"copy me").await;
    let copy = |name: Option<&str>, parent: &str| {
        let mut body = serde_json::json!({"parent": {"id": parent}});
        if let Some(n) = name {
            body["name"] = n.into();
        }
        emu.post(&format!("/2.0/files/{id}/copy")).json(&body)
    };
    let (status, body) = send(copy(None, &dir)).await;
    assert_eq!(status, 201, "{body}");
    assert_ne!(body["id"], id.as_str());
    assert_eq!(body["sha1"], sha1_hex(b"copy me"));
    let (status, body) = send(copy(None, &dir)).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("item_name_in_use"))
    );
    assert_eq!(send(copy(Some("renamed.txt"), &dir)).await.0, 201);
    assert_eq!(send(copy(None, "999999")).await.0, 404);
    let state = emu.handle.state();
    assert_eq!(
        entry(&state, "dst/src.txt").unwrap().sha1,
        entry(&state, "src.txt").unwrap().sha1
    );
    assert!(entry(&state, "dst/renamed.txt").is_some());
}
