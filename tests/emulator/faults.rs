//! Switchable faults: 429s, random 5xx and drops (same seed, same faults), lost replies, the
//! folder race.
use boxlift::emulator::EmulatorConfig;

use crate::common::emu::{Emu, entry, send, sha1_hex};

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after() {
    let emu = Emu::with(EmulatorConfig {
        rate_limit: Some(5.0),
        ..EmulatorConfig::default()
    });
    for _ in 0..8 {
        let resp = emu.get("/2.0/folders/0").send().await.unwrap();
        if resp.status() == 429 {
            let secs: u64 = resp.headers()["retry-after"]
                .to_str()
                .unwrap()
                .parse()
                .unwrap();
            assert!(secs >= 1);
            let body: serde_json::Value = resp.json().await.unwrap();
            assert_eq!(body["code"], "rate_limit_exceeded");
        }
    }
    let state = emu.handle.state();
    let counts = &state.counters.requests["GET /2.0/folders/{id}"];
    assert_eq!(counts["200"], 5);
    assert_eq!(counts["429"], 3);
    assert_eq!(state.counters.rate_limited, 3);
    // Acting as another user spends that user's budget.
    let as_user = emu.get("/2.0/folders/0").header("as-user", "777");
    assert_eq!(send(as_user).await.0, 200);

    // Uploads have their own, lower budget; other calls are not affected by it.
    emu.handle.set_switches(|s| {
        s.rate_limit = None;
        s.upload_rate_limit = Some(2.0);
    });
    let mut codes = Vec::new();
    for i in 0..3 {
        codes.push(emu.upload("0", &format!("u{i}.txt"), b"x").await.0);
    }
    assert_eq!(codes, vec![201, 201, 429]);
    assert_eq!(send(emu.get("/2.0/folders/0")).await.0, 200);
}

/// What each of `n` sequential requests got: a status, or 0 for a dropped connection.
async fn outcomes(emu: &Emu, n: usize) -> Vec<u16> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(match emu.get("/2.0/folders/0").send().await {
            Ok(resp) => resp.status().as_u16(),
            Err(_) => 0,
        });
    }
    out
}

#[tokio::test]
async fn fail_and_drop_faults_repeat_with_the_seed() {
    let config = || EmulatorConfig {
        fail_rate: 0.3,
        drop_rate: 0.2,
        seed: 42,
        ..EmulatorConfig::default()
    };
    let a = outcomes(&Emu::with(config()), 40).await;
    let b = outcomes(&Emu::with(config()), 40).await;
    assert_eq!(a, b);
    assert!(a.contains(&0), "{a:?}");
    assert!(a.iter().any(|s| [500, 502, 503].contains(s)), "{a:?}");
    assert!(a.contains(&200), "{a:?}");
    let other = outcomes(
        &Emu::with(EmulatorConfig {
            seed: 7,
            ..config()
        }),
        40,
    )
    .await;
    assert_ne!(a, other);
}

#[tokio::test]
async fn a_lost_reply_still_stores_the_upload() {
    let emu = Emu::with(EmulatorConfig {
        lost_reply_rate: 1.0,
        seed: 3,
        ..EmulatorConfig::default()
    });
    let mut outcomes = Vec::new();
    for i in 0..6 {
        let name = format!("f{i}.txt");
        let resp = emu
            .post("/api/2.0/files/content")
            .multipart(crate::common::emu::form(&name, Some("0"), name.as_bytes()))
            .send()
            .await;
        outcomes.push(match resp {
            Ok(r) => r.status().as_u16(),
            Err(_) => 0,
        });
    }
    assert!(
        outcomes.iter().all(|s| *s == 0 || *s >= 500),
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&0) && outcomes.iter().any(|s| *s >= 500),
        "{outcomes:?}"
    );
    let state = emu.handle.state();
    assert_eq!(state.tree.len(), 6);
    // The retry meets its own first attempt: 409 naming a file with the same SHA-1.
    emu.handle.set_switches(|s| s.lost_reply_rate = 0.0);
    let (status, body) = emu.upload("0", "f0.txt", b"f0.txt").await;
    assert_eq!(status, 409);
    assert_eq!(
        body["context_info"]["conflicts"]["sha1"],
        sha1_hex(b"f0.txt")
    );
    let faults = &state.counters.faults;
    assert_eq!(
        faults.get("lost_reply_5xx").unwrap_or(&0) + faults.get("lost_reply_drop").unwrap_or(&0),
        6
    );
}

#[tokio::test]
async fn the_folder_race_makes_a_duplicate_only_when_switched_on() {
    let emu = Emu::start();
    let (a, b) = tokio::join!(emu.mkdir("0", "twin"), emu.mkdir("0", "twin"));
    let mut codes = [a.0, b.0];
    codes.sort();
    assert_eq!(codes, [201, 409]);

    emu.handle.set_switches(|s| s.folder_race = true);
    let (a, b) = tokio::join!(emu.mkdir("0", "race"), emu.mkdir("0", "race"));
    assert_eq!((a.0, b.0), (201, 201));
    assert_ne!(a.1["id"], b.1["id"]);
    let state = emu.handle.state();
    assert_eq!(state.tree.iter().filter(|e| e.path == "race").count(), 2);
    assert_eq!(state.counters.faults["folder_race"], 2);
    // Alone, a creation under the race switch still gets Box's 409.
    assert_eq!(emu.mkdir("0", "race").await.0, 409);
    assert!(entry(&state, "twin").is_some());
}
