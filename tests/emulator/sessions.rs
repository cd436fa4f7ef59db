//! Chunked upload sessions: create, parts (layout, digest, overlap), list, status, commit
//! (digest, parts list, 202 loop, transient parts_mismatch), abort, expiry, new versions.
use std::time::Duration;

use boxlift::emulator::EmulatorConfig;
use serde_json::{Value, json};

use crate::common::emu::{Emu, data, digest_header, entry, send, sha1_hex};

/// 20,000,001 bytes: two 8 MiB parts and a shorter last part.
const SIZE: usize = 20_000_001;
const PART: usize = 8_388_608;

async fn create(emu: &Emu, name: &str, size: usize) -> (u16, Value) {
    send(emu.post("/api/2.0/files/upload_sessions").json(&json!({
        "folder_id": "0", "file_size": size, "file_name": name
    })))
    .await
}

async fn put_part(
    emu: &Emu,
    session: &str,
    file: &[u8],
    first: usize,
    last: usize,
) -> (u16, Value) {
    let body = file[first..=last].to_vec();
    send(
        emu.put(&format!("/api/2.0/files/upload_sessions/{session}"))
            .header("content-type", "application/octet-stream")
            .header("digest", digest_header(&body))
            .header(
                "content-range",
                format!("bytes {first}-{last}/{}", file.len()),
            )
            .body(body),
    )
    .await
}

/// Upload every part in order; returns the parts as the server described them.
async fn put_all(emu: &Emu, session: &str, file: &[u8]) -> Vec<Value> {
    let mut parts = Vec::new();
    for first in (0..file.len()).step_by(PART) {
        let last = (first + PART).min(file.len()) - 1;
        let (status, body) = put_part(emu, session, file, first, last).await;
        assert_eq!(status, 200, "{body}");
        parts.push(body["part"].clone());
    }
    parts
}

async fn commit(emu: &Emu, session: &str, parts: &[Value], whole: &[u8]) -> reqwest::Response {
    emu.post(&format!("/api/2.0/files/upload_sessions/{session}/commit"))
        .header("digest", digest_header(whole))
        .json(&json!({"parts": parts, "attributes": {"content_modified_at": "2022-02-02T02:02:02+00:00"}}))
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_session_uploads_lists_and_commits_a_file() {
    let emu = Emu::start();
    let file = data(SIZE, 11);
    let (status, small) = create(&emu, "small.bin", 19_999_999).await;
    assert_eq!(
        (status, small["code"].as_str()),
        (400, Some("file_size_too_small"))
    );
    let (status, s) = create(&emu, "big.bin", SIZE).await;
    assert_eq!(status, 201, "{s}");
    assert_eq!(s["type"], "upload_session");
    assert_eq!(s["part_size"], PART);
    assert_eq!(s["total_parts"], 3);
    assert!(
        s["session_endpoints"]["commit"]
            .as_str()
            .unwrap()
            .ends_with("/commit")
    );
    let id = s["id"].as_str().unwrap().to_string();

    // Misaligned, wrong size, bad digest: rejected, nothing kept.
    assert_eq!(put_part(&emu, &id, &file, 1, PART).await.0, 416);
    assert_eq!(put_part(&emu, &id, &file, 0, PART - 2).await.0, 416);
    let (status, body) = send(
        emu.put(&format!("/api/2.0/files/upload_sessions/{id}"))
            .header("digest", digest_header(b"wrong"))
            .header("content-range", format!("bytes 0-{}/{SIZE}", PART - 1))
            .body(file[..PART].to_vec()),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_digest")));

    let parts = put_all(&emu, &id, &file).await;
    assert_eq!(parts[0]["part_id"].as_str().unwrap().len(), 8);
    assert_eq!(parts[2]["size"], SIZE - 2 * PART);
    assert_eq!(parts[1]["sha1"], sha1_hex(&file[PART..2 * PART]));
    let (status, body) = put_part(&emu, &id, &file, PART, 2 * PART - 1).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (416, Some("range_overlaps_existing_part"))
    );

    let (_, page1) = send(emu.get(&format!(
        "/api/2.0/files/upload_sessions/{id}/parts?limit=2"
    )))
    .await;
    let (_, page2) = send(emu.get(&format!(
        "/api/2.0/files/upload_sessions/{id}/parts?limit=2&offset=2"
    )))
    .await;
    assert_eq!(page1["total_count"], 3);
    let listed: Vec<Value> = page1["entries"]
        .as_array()
        .unwrap()
        .iter()
        .chain(page2["entries"].as_array().unwrap())
        .cloned()
        .collect();
    assert_eq!(listed, parts);
    let (_, status_body) = send(emu.get(&format!("/api/2.0/files/upload_sessions/{id}"))).await;
    assert_eq!(status_body["num_parts_processed"], 3);

    // A wrong whole-file digest is Box's 400 `digest_mismatch` (box/box-java-sdk#701).
    let resp = commit(&emu, &id, &parts, b"not the file").await;
    assert_eq!(resp.status(), 400);
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "digest_mismatch"
    );
    let resp = commit(&emu, &id, &parts[..2], &file).await;
    assert_eq!(
        resp.json::<Value>().await.unwrap()["code"],
        "parts_mismatch"
    );
    let resp = commit(&emu, &id, &parts, &file).await;
    assert_eq!(resp.status(), 201);
    let files: Value = resp.json().await.unwrap();
    assert_eq!(files["entries"][0]["sha1"], sha1_hex(&file));
    assert_eq!(
        files["entries"][0]["content_modified_at"],
        "2022-02-02T02:02:02+00:00"
    );
    assert_eq!(
        send(emu.get(&format!("/api/2.0/files/upload_sessions/{id}")))
            .await
            .0,
        404
    );

    let state = emu.handle.state();
    assert_eq!(entry(&state, "big.bin").unwrap().size, SIZE as u64);
    let c = &state.counters;
    assert_eq!(
        (c.sessions_created, c.sessions_committed, c.parts_received),
        (1, 1, 3)
    );
    assert_eq!(
        c.requests["PUT /api/2.0/files/upload_sessions/{id}"]["416"],
        3
    );
    let (status, body) = create(&emu, "BIG.bin", SIZE).await;
    assert_eq!(
        (status, body["code"].as_str()),
        (409, Some("item_name_in_use"))
    );
}

#[tokio::test]
async fn commit_202_and_transient_parts_mismatch_then_success() {
    let emu = Emu::with(EmulatorConfig {
        commit_202: 2,
        discard: true,
        ..EmulatorConfig::default()
    });
    // Switched on at runtime over HTTP, as tests do mid-run.
    let resp = emu
        .http
        .put(emu.url("/_emulator/config"))
        .json(&json!({"parts_mismatch": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let file = data(SIZE, 12);
    let (_, s) = create(&emu, "slow.bin", SIZE).await;
    let id = s["id"].as_str().unwrap();
    // Out of order: the whole-file digest still comes out right.
    let mut parts = vec![Value::Null; 3];
    for (i, first) in [(2, 2 * PART), (0, 0), (1, PART)] {
        let last = (first + PART).min(SIZE) - 1;
        let (status, body) = put_part(&emu, id, &file, first, last).await;
        assert_eq!(status, 200);
        parts[i] = body["part"].clone();
    }
    let mut seen = Vec::new();
    loop {
        let resp = commit(&emu, id, &parts, &file).await;
        let status = resp.status().as_u16();
        if status == 202 {
            assert_eq!(resp.headers()["retry-after"], "1");
        }
        seen.push(status);
        if status == 201 || seen.len() > 5 {
            break;
        }
    }
    assert_eq!(seen, vec![202, 202, 400, 201]);
    let state = emu.handle.state();
    assert_eq!(
        entry(&state, "slow.bin").unwrap().sha1.as_deref(),
        Some(sha1_hex(&file).as_str())
    );
    assert_eq!(state.counters.faults["commit_202"], 2);
    assert_eq!(state.counters.faults["parts_mismatch"], 1);
}

// On a paused clock with the emulator on this runtime: the session TTL is measured on tokio's
// clock, moved by `advance`, not by sleeping past it.
#[tokio::test(start_paused = true)]
async fn abort_expiry_and_new_version_sessions() {
    let emu = Emu::here(EmulatorConfig {
        discard: true,
        ..EmulatorConfig::default()
    });
    let (_, s) = create(&emu, "gone.bin", SIZE).await;
    let id = s["id"].as_str().unwrap();
    assert_eq!(
        send(emu.delete(&format!("/api/2.0/files/upload_sessions/{id}")))
            .await
            .0,
        204
    );
    assert_eq!(
        send(emu.get(&format!("/api/2.0/files/upload_sessions/{id}")))
            .await
            .0,
        404
    );
    assert_eq!(emu.handle.state().counters.sessions_aborted, 1);

    emu.handle.set_switches(|s| s.session_ttl_secs = 0.2);
    let (_, s) = create(&emu, "late.bin", SIZE).await;
    let id = s["id"].as_str().unwrap();
    let file = data(SIZE, 13);
    // Just before the TTL the session takes a part; just after it, it is gone (404, as on Box).
    tokio::time::advance(Duration::from_millis(190)).await;
    assert_eq!(put_part(&emu, id, &file, 0, PART - 1).await.0, 200);
    tokio::time::advance(Duration::from_millis(20)).await;
    assert_eq!(put_part(&emu, id, &file, PART, 2 * PART - 1).await.0, 404);
    emu.handle.set_switches(|s| s.session_ttl_secs = 3600.0);

    let file_id = emu.upload_ok("0", "v.bin", b"first").await;
    let (status, s) = send(
        emu.post(&format!("/api/2.0/files/{file_id}/upload_sessions"))
            .json(&json!({"file_size": SIZE})),
    )
    .await;
    assert_eq!(status, 201, "{s}");
    let id = s["id"].as_str().unwrap();
    let parts = put_all(&emu, id, &file).await;
    let resp = commit(&emu, id, &parts, &file).await;
    assert_eq!(resp.status(), 201);
    let state = emu.handle.state();
    let e = entry(&state, "v.bin").unwrap();
    assert_eq!((e.versions, e.size), (2, SIZE as u64));
    let (status, _) = send(
        emu.post("/api/2.0/files/31337/upload_sessions")
            .json(&json!({"file_size": SIZE})),
    )
    .await;
    assert_eq!(status, 404);
}
