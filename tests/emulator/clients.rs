//! What real Box accepts from real clients, as those clients send it (issue 11): rclone 1.75's
//! Box backend sends `OPTIONS /2.0/files/content/` (trailing slash), names the file part
//! `contents`, reads a preflight conflict as one object, and skips listing entries whose
//! requested `item_status` is not `active`. Each was refused or missing here before.
use crate::common::emu::{Emu, send, sha1_hex};

/// rclone's preflight: `OPTIONS /2.0/files/content/` without `size`; a name in use is a 409
/// whose `context_info.conflicts` is the one conflicting item, even a folder.
#[tokio::test]
async fn preflight_accepts_a_trailing_slash_and_names_one_conflict() {
    let emu = Emu::start();
    let preflight = |name: &str| {
        send(
            emu.req(reqwest::Method::OPTIONS, "/2.0/files/content/")
                .json(&serde_json::json!({"name": name, "parent": {"id": "0"}})),
        )
    };
    let (status, body) = preflight("new.txt").await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["upload_url"]
            .as_str()
            .unwrap()
            .ends_with("/api/2.0/files/content")
    );
    let folder = emu.mkdir_ok("0", "dest").await;
    let (status, body) = preflight("dest").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("item_name_in_use"))
    );
    let conflict = &body["context_info"]["conflicts"];
    assert!(conflict.is_object(), "one item, not a list: {body}");
    assert_eq!(conflict["type"], "folder");
    assert_eq!(conflict["id"], folder.as_str());
    let file = emu.upload_ok("0", "a.txt", b"a").await;
    let (status, body) = preflight("A.TXT").await;
    assert_eq!(status, 409);
    assert_eq!(body["context_info"]["conflicts"]["id"], file.as_str());
    assert_eq!(body["context_info"]["conflicts"]["sha1"], sha1_hex(b"a"));
    // POST /folders keeps Box's list.
    let (_, body) = emu.mkdir("0", "dest").await;
    assert!(body["context_info"]["conflicts"].is_array(), "{body}");
}

/// Box reads the part after `attributes` whatever its form name (rclone: `contents`); a part
/// before `attributes` is still `metadata_after_file_contents`.
#[tokio::test]
async fn the_file_part_may_have_any_name_after_attributes() {
    let emu = Emu::start();
    let body = b"rclone names it contents";
    let attrs = serde_json::json!({"name": "c.txt", "parent": {"id": "0"}});
    let f = reqwest::multipart::Form::new()
        .text("attributes", attrs.to_string())
        .part(
            "contents",
            reqwest::multipart::Part::bytes(body.to_vec()).file_name("c.txt"),
        );
    let (status, reply) = send(
        emu.post("/api/2.0/files/content")
            .header("content-md5", sha1_hex(body))
            .multipart(f),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["entries"][0]["sha1"], sha1_hex(body));
    assert_eq!(reply["entries"][0]["size"], body.len());

    let f = reqwest::multipart::Form::new()
        .part("contents", reqwest::multipart::Part::bytes(b"x".to_vec()))
        .text("attributes", attrs.to_string());
    let (status, reply) = send(emu.post("/api/2.0/files/content").multipart(f)).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("metadata_after_file_contents"))
    );
}

/// `fields=` returns what it names: rclone asks for `item_status`, `created_at` and
/// `content_created_at` and drops entries that are not `active`.
#[tokio::test]
async fn listing_returns_the_requested_item_status_and_times() {
    let emu = Emu::start();
    emu.mkdir_ok("0", "sub").await;
    emu.upload_ok("0", "a.txt", b"a").await;
    let (status, page) = send(emu.get(
        "/2.0/folders/0/items?fields=type,id,sha1,name,size,created_at,modified_at,\
         content_created_at,content_modified_at,item_status,shared_link,owned_by\
         &limit=1000&usemarker=true",
    ))
    .await;
    assert_eq!(status, 200, "{page}");
    let entries = page["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    for e in entries {
        assert_eq!(e["item_status"], "active", "{e}");
        assert!(e["created_at"].as_str().is_some(), "{e}");
        assert!(e["shared_link"].is_null(), "{e}");
    }
    // Without `fields`, the mini item only.
    let (_, page) = send(emu.get("/2.0/folders/0/items")).await;
    assert!(page["entries"][0].get("item_status").is_none(), "{page}");
}
