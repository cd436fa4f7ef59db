//! No token or secret reaches the logs, even at TRACE.
use super::*;

const LOG_CHILD: &str = "BOXLIFT_TEST_LOG_CHILD";
const DEV_TOKEN: &str = "DEVTOKEN-do-not-print-4242";
const CLIENT_SECRET: &str = "CLIENTSECRET-do-not-print";

/// Runs the client at TRACE with a global subscriber in a child process of this test binary
/// (a scoped subscriber would miss events of callsites other tests registered first), then
/// greps everything the child wrote.
#[test]
fn no_token_or_secret_in_logs_at_trace() {
    if std::env::var_os(LOG_CHILD).is_some() {
        log_scenario();
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "client::logs::no_token_or_secret_in_logs_at_trace",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(LOG_CHILD, "1")
        .output()
        .unwrap();
    let log = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "child failed: {log}");
    assert!(log.contains("box call"), "nothing was logged: {log}");
    assert!(log.contains("TRACE") || log.contains("DEBUG"));
    for secret in [DEV_TOKEN, CLIENT_SECRET] {
        assert!(!log.contains(secret), "{secret} leaked into the log");
    }
    assert!(
        !log.to_lowercase().contains("bearer"),
        "an Authorization header was logged"
    );
    // The emulator's access tokens are 32 lowercase hex characters (its session ids are
    // uppercase, and may be logged): no token may appear.
    for word in log.split(|c: char| !c.is_ascii_alphanumeric()) {
        let token_like = word.len() == 32
            && word
                .chars()
                .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c));
        assert!(!token_like, "token-like word logged: {word}");
    }
}

/// Every path that touches credentials: dev token and CCG, token refresh, 409, chunked
/// upload, 404, 5xx retries; then the client and its config formatted with `{:?}`.
fn log_scenario() {
    // Everything at TRACE except the emulator's own server-side lines (not the client's logs).
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(
            "trace,boxlift::emulator=off",
        ))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .init();
    let dir = tempfile::tempdir().unwrap();
    // One current-thread runtime on a paused clock, the emulator on it: the token's expiry is
    // reached with `advance`, not by sleeping past it. No client timers (connect, read, pool
    // idle): tokio moves a paused clock to the next timer while tasks wait on sockets
    // (tokio-rs/tokio#4522), so the only timers left are the retries' backoffs.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    let _on_rt = rt.enter();
    let emu = Emulator::spawn(EmulatorConfig {
        developer_tokens: vec![DEV_TOKEN.into()],
        clients: vec![("emu-client".into(), CLIENT_SECRET.into())],
        token_ttl: Duration::from_secs(1),
        fail_rate: 0.1,
        seed: 9,
        ..Default::default()
    })
    .expect("emulator starts");
    let untimed = |auth| {
        let mut c = with_urls(&emu, auth);
        c.connect_timeout = None;
        c.read_timeout = None;
        c.pool_idle_timeout = None;
        c
    };
    rt.block_on(async {
        let dev =
            BoxClient::new(untimed(AuthConfig::DeveloperToken(Secret::new(DEV_TOKEN)))).unwrap();
        let ccg = BoxClient::new(untimed(AuthConfig::ClientCredentials {
            client_id: "emu-client".into(),
            client_secret: Secret::new(CLIENT_SECRET),
            subject_type: "enterprise".into(),
            subject_id: "1".into(),
        }))
        .unwrap();
        for (i, c) in [dev, ccg].iter().enumerate() {
            let folder = c.ensure_path("0", &format!("logs{i}/x")).await.unwrap();
            let small = make_file(dir.path(), &format!("l{i}.txt"), 10, i as u64);
            upload(c, &small, new_file(&folder, "l.txt")).await.unwrap();
            upload(c, &small, new_file(&folder, "l.txt")).await.unwrap(); // 409 path
            let big = make_file(dir.path(), &format!("L{i}.bin"), 3 * PART, i as u64);
            c.upload_chunked(&big, new_file(&folder, "L.bin"), ChunkedOptions::default())
                .await
                .unwrap();
            // Past the token's 1 s life: the next call refreshes it.
            tokio::time::advance(Duration::from_millis(1100)).await;
            let _ = c.get_folder("does-not-exist").await.unwrap_err();
            tracing::debug!(client = ?c, config = ?c.config(), "client");
        }
    });
}
