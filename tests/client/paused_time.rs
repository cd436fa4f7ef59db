//! Waits measured on tokio's paused clock: `Retry-After`, the 202 commit wait and token expiry
//! take the time Box asks for, to within 50 ms, and cost no real time.
//!
//! Server and client share one current-thread runtime whose clock is paused, so the clock moves
//! only when nothing can run, straight to the next timer. Tokio also moves a paused clock while
//! tasks wait on sockets (tokio-rs/tokio#4522), so these clients run without connect, read or
//! pool-idle timers: the only timers left are the waits under test.
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use boxlift::emulator::EmulatorState;
use serde_json::json;
use tokio::time::Instant;

use super::*;

/// A client for `base` with no timer of its own and a fixed jitter seed.
fn paused_config(base: &str, auth: AuthConfig) -> ClientConfig {
    let mut c = ClientConfig::new(auth);
    c.api_url = format!("{base}/2.0");
    c.upload_url = format!("{base}/api/2.0");
    c.oauth_url = format!("{base}/oauth2/token");
    c.connect_timeout = None;
    c.read_timeout = None;
    c.pool_idle_timeout = None;
    c.retry.jitter_seed = Some(7);
    c.api_calls_per_minute = 600_000;
    c.uploads_per_minute = 600_000;
    c
}

/// The emulator on this (paused) runtime; returns its base URL.
async fn serve_here(config: EmulatorConfig) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(boxlift::emulator::serve(
        listener,
        config,
        std::future::pending(),
    ));
    base
}

/// `/_emulator/state`, read by a plain client that has no pool timer either.
async fn state_of(base: &str) -> EmulatorState {
    let http = reqwest::Client::builder()
        .pool_idle_timeout(None)
        .build()
        .unwrap();
    http.get(format!("{base}/_emulator/state"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// When each request reached the stub, on tokio's clock and on the OS clock.
#[derive(Clone, Default)]
struct Arrivals(Arc<Mutex<Vec<(Instant, std::time::Instant)>>>);

/// `GET /folders/{id}`: 429 with `Retry-After: 7` the first time, the folder after.
async fn folder_after_a_429(State(arrivals): State<Arrivals>) -> Response {
    let mut a = arrivals.0.lock().unwrap();
    a.push((Instant::now(), std::time::Instant::now()));
    if a.len() == 1 {
        let body = json!({"type": "error", "status": 429, "code": "rate_limit_exceeded",
            "message": "Request rate limit exceeded", "request_id": "r429"});
        (
            StatusCode::TOO_MANY_REQUESTS,
            [("retry-after", "7")],
            axum::Json(body),
        )
            .into_response()
    } else {
        axum::Json(json!({"type": "folder", "id": "0", "name": "All Files"})).into_response()
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_7_is_waited_on_tokios_clock_not_the_os_clock() {
    let arrivals = Arrivals::default();
    let app = axum::Router::new()
        .route("/2.0/folders/{id}", axum::routing::get(folder_after_a_429))
        .with_state(arrivals.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = BoxClient::new(paused_config(
        &base,
        AuthConfig::DeveloperToken(Secret::new("t")),
    ))
    .unwrap();

    let folder = client.get_folder("0").await.unwrap();
    assert_eq!(folder.id, "0");
    let a = arrivals.0.lock().unwrap().clone();
    assert_eq!(a.len(), 2, "one 429, one retry");
    // The jittered backoff of a first retry is at most 500 ms: only Retry-After makes it 7 s.
    let waited = a[1].0 - a[0].0;
    assert!(
        waited >= Duration::from_secs(7) && waited < Duration::from_millis(7050),
        "retried after {waited:?} of tokio time"
    );
    let real = a[1].1 - a[0].1;
    assert!(
        real < Duration::from_millis(100),
        "the wait took {real:?} of real time"
    );
    assert_eq!(client.stats().rate_limited, 1);
}

#[tokio::test(start_paused = true)]
async fn commit_202_retry_after_is_waited_on_tokios_clock() {
    let base = serve_here(EmulatorConfig {
        commit_202: 4,
        ..Default::default()
    })
    .await;
    let client = BoxClient::new(paused_config(
        &base,
        AuthConfig::DeveloperToken(Secret::new("dev-token")),
    ))
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // Box's smallest session: 3 parts of 8 MiB.
    let src = make_file(dir.path(), "s.bin", 20_000_000, 5);

    let (t, real) = (Instant::now(), std::time::Instant::now());
    let up = client
        .upload_chunked(&src, new_file("0", "s.bin"), ChunkedOptions::default())
        .await
        .unwrap();
    let (waited, real) = (t.elapsed(), real.elapsed());
    // Four 202s with `Retry-After: 1`, then the commit: 4 s of tokio time, and no other wait
    // (create, parts and commits take none on a paused clock).
    assert!(
        waited >= Duration::from_secs(4) && waited < Duration::from_millis(4050),
        "committed after {waited:?} of tokio time"
    );
    assert!(real < Duration::from_secs(2), "took {real:?} of real time");
    assert_eq!(up.file.sha1.as_deref(), Some(src.sha1_hex.as_str()));
    let c = state_of(&base).await.counters;
    assert_eq!(c.faults.get("commit_202"), Some(&4));
    assert_eq!((c.sessions_committed, c.files_created), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn a_token_is_refreshed_before_it_expires_on_tokios_clock() {
    let base = serve_here(EmulatorConfig {
        token_ttl: Duration::from_secs(3600),
        ..Default::default()
    })
    .await;
    let client = BoxClient::new(paused_config(
        &base,
        AuthConfig::ClientCredentials {
            client_id: "emu-client".into(),
            client_secret: Secret::new("emu-secret"),
            subject_type: "enterprise".into(),
            subject_id: "1".into(),
        },
    ))
    .unwrap();
    let grants = || async {
        state_of(&base).await.counters.requests["POST /oauth2/token"]
            .get("200")
            .copied()
            .unwrap_or(0)
    };
    client.get_folder("0").await.unwrap();
    assert_eq!(grants().await, 1);
    // A 3600 s token is replaced a tenth of its life (at most a minute) early: at 3540 s.
    tokio::time::sleep(Duration::from_secs(3539)).await;
    client.get_folder("0").await.unwrap();
    assert_eq!(grants().await, 1, "refreshed too early");
    tokio::time::sleep(Duration::from_secs(2)).await;
    client.get_folder("0").await.unwrap();
    assert_eq!(grants().await, 2, "not refreshed at 3541 s");
    assert_eq!(client.stats().unauthorized, 0);
}
