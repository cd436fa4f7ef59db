//! Folders: create (409 with conflicts, case-insensitive), names, get, listing both ways,
//! rename/move, delete.
use crate::common::emu::{Emu, entry, send};

#[tokio::test]
async fn create_folder_conflicts_case_insensitively_with_the_existing_id() {
    let emu = Emu::start();
    let id = emu.mkdir_ok("0", "Docs").await;
    for clash in ["Docs", "docs", "DOCS"] {
        let (status, body) = emu.mkdir("0", clash).await;
        assert_eq!(status, 409, "{body}");
        assert_eq!(body["type"], "error");
        assert_eq!(body["code"], "item_name_in_use");
        assert!(!body["request_id"].as_str().unwrap().is_empty());
        let conflicts = body["context_info"]["conflicts"]
            .as_array()
            .expect("a list");
        assert_eq!(conflicts[0]["id"], id.as_str());
        assert_eq!(conflicts[0]["type"], "folder");
    }
    let (status, body) = emu.mkdir("987654", "x").await;
    assert_eq!((status, body["code"].as_str()), (404, Some("not_found")));
    let (status, body) = send(emu.get(&format!("/2.0/folders/{id}"))).await;
    assert_eq!(status, 200);
    assert_eq!(body["name"], "Docs");
    assert_eq!(body["path_collection"]["entries"][0]["id"], "0");
    let (_, root) = send(emu.get("/2.0/folders/0")).await;
    assert_eq!(root["name"], "All Files");
    assert_eq!(root["item_collection"]["total_count"], 1);
    let c = emu.handle.state().counters;
    assert_eq!(c.folders_created, 1);
    assert_eq!(c.requests["POST /2.0/folders"]["409"], 3);
}

#[tokio::test]
async fn invalid_names_are_rejected_with_box_codes() {
    let emu = Emu::start();
    let long = "x".repeat(256);
    let cases = [
        ("a/b", "item_name_invalid"),
        ("a\\b", "item_name_invalid"),
        (".", "item_name_invalid"),
        ("..", "item_name_invalid"),
        ("trail ", "item_name_invalid"),
        ("bell\u{7}", "item_name_invalid"),
        ("", "item_name_invalid"),
        (long.as_str(), "item_name_too_long"),
    ];
    for (name, code) in cases {
        let (status, body) = emu.mkdir("0", name).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{name:?}"
        );
        let (status, body) = emu.upload("0", name, b"x").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{name:?}"
        );
    }
    assert!(emu.handle.state().tree.is_empty());
    assert_eq!(emu.mkdir("0", &"é".repeat(255)).await.0, 201);
}

/// Issue 11: Box's name rule, edge by edge, for folders, direct uploads, preflight and upload
/// sessions over HTTP. Box: "Names containing non-printable ASCII characters, forward and
/// backward slashes (`/`, `\\`), as well as names with trailing spaces are prohibited.
/// Additionally, the names `.` and `..` are not allowed either." — and nothing else is.
#[tokio::test]
async fn box_name_edge_table_over_http() {
    let emu = Emu::start();
    let long255 = "a".repeat(255);
    let long256 = "a".repeat(256);
    let ok = [
        " leading space",
        "  two leading",
        "...",
        ".hidden",
        "next\u{85}line",
        "nbsp\u{a0}",
        "emoji 🎉",
        "中文文件名",
        long255.as_str(),
    ];
    let bad = [
        ("trailing ", "item_name_invalid"),
        (" ", "item_name_invalid"),
        ("tab\there", "item_name_invalid"),
        ("nul\u{0}", "item_name_invalid"),
        ("unit\u{1f}sep", "item_name_invalid"),
        ("del\u{7f}", "item_name_invalid"),
        ("a/b", "item_name_invalid"),
        ("a\\b", "item_name_invalid"),
        (".", "item_name_invalid"),
        ("..", "item_name_invalid"),
        (long256.as_str(), "item_name_too_long"),
    ];
    let preflight = |name: &str, parent: &str| {
        send(
            emu.req(reqwest::Method::OPTIONS, "/2.0/files/content")
                .json(&serde_json::json!({"name": name, "size": 1, "parent": {"id": parent}})),
        )
    };
    for (i, name) in ok.into_iter().enumerate() {
        assert_eq!(emu.mkdir("0", name).await.0, 201, "folder {name:?}");
        let sub = emu.mkdir_ok("0", &format!("files {i}")).await;
        let preflight = preflight(name, &sub).await;
        assert_eq!(preflight.0, 200, "preflight {name:?}: {}", preflight.1);
        let (status, body) = emu.upload(&sub, name, b"x").await;
        assert_eq!(status, 201, "upload {name:?}: {body}");
        assert_eq!(body["entries"][0]["name"], name);
    }
    for (name, code) in bad {
        let (status, body) = emu.mkdir("0", name).await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{name:?}"
        );
        let (status, body) = emu.upload("0", name, b"x").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{name:?}"
        );
        let (status, body) = preflight(name, "0").await;
        assert_eq!(
            (status, body["code"].as_str()),
            (400, Some(code)),
            "{name:?}"
        );
    }
}

#[tokio::test]
async fn listing_pages_by_offset_and_by_marker() {
    let emu = Emu::start();
    let dir = emu.mkdir_ok("0", "many").await;
    let mut names = Vec::new();
    for i in 0..7 {
        let name = format!("f{i}.txt");
        emu.upload_ok(&dir, &name, format!("content {i}").as_bytes())
            .await;
        names.push(name);
    }
    emu.mkdir_ok(&dir, "sub").await;
    names.push("sub".into());

    let mut seen = Vec::new();
    let mut offset = 0;
    loop {
        let (status, page) = send(emu.get(&format!(
            "/2.0/folders/{dir}/items?limit=3&offset={offset}&fields=name,size,sha1"
        )))
        .await;
        assert_eq!(status, 200);
        assert_eq!(page["total_count"], 8);
        let entries = page["entries"].as_array().unwrap();
        if entries.is_empty() {
            break;
        }
        for e in entries {
            if e["type"] == "file" {
                assert!(e["size"].as_u64().unwrap() > 0);
                assert_eq!(e["sha1"].as_str().unwrap().len(), 40);
            }
            seen.push(e["name"].as_str().unwrap().to_string());
        }
        offset += 3;
    }
    assert_eq!(seen, names);

    let mut seen = Vec::new();
    let mut marker = String::new();
    let mut pages = 0;
    loop {
        let (status, page) = send(emu.get(&format!(
            "/2.0/folders/{dir}/items?limit=3&usemarker=true&marker={marker}"
        )))
        .await;
        assert_eq!(status, 200);
        assert!(page.get("total_count").is_none());
        pages += 1;
        seen.extend(
            page["entries"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["name"].as_str().unwrap().to_string()),
        );
        match page["next_marker"].as_str() {
            Some(m) if !m.is_empty() => marker = m.to_string(),
            _ => break,
        }
    }
    assert_eq!((seen, pages), (names, 3));
    let (status, body) = send(emu.get(&format!("/2.0/folders/{dir}/items?limit=1001"))).await;
    assert_eq!((status, body["type"].as_str()), (400, Some("error")));
    assert_eq!(send(emu.get("/2.0/folders/424242/items")).await.0, 404);
}

#[tokio::test]
async fn rename_move_and_delete() {
    let emu = Emu::start();
    let a = emu.mkdir_ok("0", "a").await;
    let b = emu.mkdir_ok("0", "b").await;
    let file = emu.upload_ok(&a, "f.txt", b"hello").await;
    emu.upload_ok(&b, "F.TXT", b"other").await;

    let (status, body) = send(
        emu.put(&format!("/2.0/folders/{a}"))
            .json(&serde_json::json!({"name": "B"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("item_name_in_use"))
    );
    let (status, body) = send(
        emu.put(&format!("/2.0/folders/{a}"))
            .json(&serde_json::json!({"name": "a2"})),
    )
    .await;
    assert_eq!((status, body["name"].as_str()), (200, Some("a2")));
    let (status, body) = send(
        emu.put(&format!("/2.0/files/{file}"))
            .json(&serde_json::json!({"parent": {"id": b}})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("item_name_in_use")),
        "{body}"
    );
    let (status, body) = send(
        emu.put(&format!("/2.0/files/{file}"))
            .json(&serde_json::json!({"name": "g.txt", "parent": {"id": b}})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["parent"]["id"], b.as_str());
    let (status, _) = send(
        emu.put(&format!("/2.0/folders/{b}"))
            .json(&serde_json::json!({"parent": {"id": b}})),
    )
    .await;
    assert_eq!(status, 400);
    let state = emu.handle.state();
    assert_eq!(entry(&state, "b/g.txt").unwrap().id, file);
    assert!(entry(&state, "a2").is_some());

    let (status, body) = send(emu.delete(&format!("/2.0/folders/{b}"))).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (400, Some("folder_not_empty"))
    );
    assert_eq!(
        send(emu.delete(&format!("/2.0/folders/{b}?recursive=true")))
            .await
            .0,
        204
    );
    assert_eq!(send(emu.get(&format!("/2.0/files/{file}"))).await.0, 404);
    assert_eq!(send(emu.delete(&format!("/2.0/folders/{a}"))).await.0, 204);
    assert!(emu.handle.state().tree.is_empty());
}

/// Box's own Python SDKs send booleans as `True` (box-sdk-gen does: `usemarker=True`,
/// `recursive=True`), and Box accepts them; a strict `== "true"` silently fell back to offset
/// paging and refused recursive deletes. Found by tests/sdk/box_sdk_check.py.
#[tokio::test]
async fn boolean_query_values_are_case_insensitive() {
    let emu = Emu::start();
    let dir = emu.mkdir_ok("0", "bools").await;
    for i in 0..3 {
        emu.upload_ok(&dir, &format!("f{i}.txt"), b"x").await;
    }
    let (status, page) =
        send(emu.get(&format!("/2.0/folders/{dir}/items?limit=2&usemarker=True"))).await;
    assert_eq!(status, 200);
    assert!(page.get("total_count").is_none(), "marker paging: {page}");
    assert!(!page["next_marker"].as_str().unwrap_or("").is_empty());

    let (status, _) = send(emu.delete(&format!("/2.0/folders/{dir}?recursive=True"))).await;
    assert_eq!(status, 204);
    let (status, _) = send(emu.get(&format!("/2.0/folders/{dir}"))).await;
    assert_eq!(status, 404);
}
