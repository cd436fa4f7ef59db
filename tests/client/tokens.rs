//! Credentials no retry can fix stop everything at once, with one token request at most: a
//! refresh Box refuses, a revoked developer token, a 401 right after a refresh; and a token
//! endpoint that cannot be reached names its host and the cause, warns after 5 s, and is a
//! job-class failure once the retry budget is spent.
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use boxlift::box_api::FailureClass;

use super::*;
use crate::common::boxlift_bin;
use crate::common::tls::{TestCa, tls_emulator};
use crate::common::tree::Tree;

fn ccg() -> AuthConfig {
    AuthConfig::ClientCredentials {
        client_id: "emu-client".into(),
        client_secret: Secret::new("emu-secret"),
        subject_type: "enterprise".into(),
        subject_id: "1".into(),
    }
}

/// `POST /oauth2/token` replies with this status so far.
fn token_requests(emu: &EmulatorHandle, status: &str) -> u64 {
    emu.state()
        .counters
        .requests
        .get("POST /oauth2/token")
        .and_then(|by| by.get(status))
        .copied()
        .unwrap_or(0)
}

/// A port nothing listens on: bound, then dropped.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_after_a_refused_refresh_make_one_token_request() {
    let emu = start(EmulatorConfig::default());
    let client = BoxClient::new(with_urls(&emu, ccg())).unwrap();
    client.get_folder("0").await.unwrap();
    assert_eq!(token_requests(&emu, "200"), 1);
    emu.revoke_tokens();
    emu.refuse_grants(true);
    let calls = (0..16).map(|_| {
        let c = client.clone();
        async move { c.get_folder("0").await }
    });
    let results = futures::future::join_all(calls).await;
    for r in results {
        let e = r.expect_err("refused");
        assert_eq!(e.class(), FailureClass::Job, "{e}");
        assert_eq!(e.kind, ErrorKind::Auth, "{e}");
        assert_eq!(e.code.as_deref(), Some("invalid_grant"), "{e}");
        assert!(e.to_string().contains("token request refused"), "{e}");
    }
    assert_eq!(
        token_requests(&emu, "400"),
        1,
        "one token request for 16 callers"
    );
    // Later callers fail at once: not a single request more.
    let before = emu.state().counters.total_requests();
    let e = client.get_folder("0").await.unwrap_err();
    assert_eq!(e.class(), FailureClass::Job);
    assert_eq!(emu.state().counters.total_requests(), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_developer_token_is_a_job_failure_without_a_token_request() {
    let emu = start(EmulatorConfig::default());
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    client.get_folder("0").await.unwrap();
    emu.revoke_tokens();
    let calls = (0..8).map(|_| {
        let c = client.clone();
        async move { c.get_folder("0").await }
    });
    for r in futures::future::join_all(calls).await {
        let e = r.expect_err("revoked");
        assert_eq!(e.class(), FailureClass::Job, "{e}");
        assert!(e.to_string().contains("developer token"), "{e}");
    }
    let state = emu.state();
    let unauthorized = state.counters.requests["GET /2.0/folders/{id}"]["401"];
    assert!((1..=8).contains(&unauthorized), "{unauthorized}");
    assert!(!state.counters.requests.contains_key("POST /oauth2/token"));
    // Nothing more goes out.
    let e = client.get_folder("0").await.unwrap_err();
    assert_eq!(e.class(), FailureClass::Job);
    assert_eq!(
        emu.state().counters.requests["GET /2.0/folders/{id}"]["401"],
        unauthorized
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_401_right_after_a_refresh_is_a_job_failure() {
    // Every token the emulator issues is dead on arrival (lifetime zero), while the client is
    // told it lives a second: the refresh after the first 401 gets a token refused again.
    let emu = start(EmulatorConfig {
        token_ttl: Duration::ZERO,
        ..EmulatorConfig::default()
    });
    let client = BoxClient::new(with_urls(&emu, ccg())).unwrap();
    let e = client.get_folder("0").await.unwrap_err();
    assert_eq!(e.class(), FailureClass::Job, "{e}");
    assert_eq!(e.status, Some(401), "{e}");
    assert_eq!(token_requests(&emu, "200"), 2);
    assert_eq!(
        emu.state().counters.requests["GET /2.0/folders/{id}"]["401"],
        2
    );
    let before = emu.state().counters.total_requests();
    let e = client.get_folder("0").await.unwrap_err();
    assert_eq!(e.class(), FailureClass::Job, "{e}");
    assert_eq!(emu.state().counters.total_requests(), before);
}

/// A client whose token endpoint is `oauth_url`, trying `attempts` times with short waits.
fn unreachable_oauth(emu: &EmulatorHandle, oauth_url: String, attempts: u32) -> BoxClient {
    let mut c = with_urls(emu, ccg());
    c.oauth_url = oauth_url;
    c.retry.max_attempts = attempts;
    c.retry.initial_backoff = Duration::from_millis(20);
    BoxClient::new(c).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_token_endpoint_names_host_and_cause_and_is_a_job_failure() {
    let emu = start(EmulatorConfig::default());
    let port = closed_port();
    let client = unreachable_oauth(&emu, format!("http://127.0.0.1:{port}/oauth2/token"), 3);
    let e = client.get_folder("0").await.unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "token request: no reply from 127.0.0.1:{port}: connection refused (gave up after 3 attempts)"
        )),
        "{msg}"
    );
    assert!(!msg.contains("error sending request"), "{msg}");
    assert_eq!(e.class(), FailureClass::Job, "{msg}");
    // The transport error is kept as the cause, not only printed.
    let cause = e.source.as_deref().expect("a cause");
    assert!(cause.is::<reqwest::Error>(), "{cause:?}");
    // Remembered: the next call does not wait through the retry budget again.
    let t = std::time::Instant::now();
    assert_eq!(
        client.get_folder("0").await.unwrap_err().class(),
        FailureClass::Job
    );
    assert!(t.elapsed() < Duration::from_millis(20), "{:?}", t.elapsed());

    let client = unreachable_oauth(&emu, "http://box-oauth.invalid/oauth2/token".into(), 1);
    let e = client.get_folder("0").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("token request: no reply from box-oauth.invalid: DNS lookup failed"),
        "{e}"
    );
    assert_eq!(e.class(), FailureClass::Job);
    assert_eq!(
        emu.state().counters.total_requests(),
        0,
        "no API call went out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untrusted_token_endpoint_certificate_is_named_and_stops_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "oauth");
    let (cert, key) = ca.server_cert("server", &["127.0.0.1"]);
    let tls = tls_emulator(&cert, &key);
    let emu = start(EmulatorConfig::default());
    let client = unreachable_oauth(&emu, tls.oauth_url(), 5);
    let e = client.get_folder("0").await.unwrap_err();
    assert!(
        e.to_string()
            .contains("token request: TLS: certificate of 127.0.0.1 not trusted"),
        "{e}"
    );
    assert_eq!(e.class(), FailureClass::Job);
    assert!(!e.to_string().contains("gave up"), "not retried: {e}");
}

/// The command line: an unreachable token endpoint is announced at the default verbosity after
/// 5 s, naming the host and the cause, instead of minutes of silence.
#[test]
fn an_unreachable_token_endpoint_is_announced_after_five_seconds() {
    let emu = start(EmulatorConfig::default());
    let t = Tree::new();
    t.file("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let port = closed_port();
    let mut child = Command::new(boxlift_bin())
        .args(["migrate", t.root().to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.path().join("r.csv").to_str().unwrap()])
        .args([
            "--api-url",
            &emu.api_url(),
            "--upload-url",
            &emu.upload_url(),
        ])
        .args([
            "--oauth-url",
            &format!("http://127.0.0.1:{port}/oauth2/token"),
        ])
        .args(["--client-id", "emu-client", "--client-secret", "emu-secret"])
        .args(["--subject-id", "1", "--max-attempts", "30"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env_remove("BOXLIFT_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = Vec::new();
    let mut warning = None;
    for line in stderr.lines() {
        let line = line.unwrap();
        if line.contains("failing for") {
            warning = Some(line);
            break;
        }
        seen.push(line);
    }
    let waited = started.elapsed();
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.unwrap_or_else(|| panic!("no warning; stderr: {seen:?}"));
    assert!(
        warning.contains(&format!("token requests to 127.0.0.1:{port} failing for "))
            && warning.contains(" s: connection refused; retrying")
            && warning.contains("WARN"),
        "{warning}"
    );
    assert!(waited >= Duration::from_secs(5), "{waited:?}");
    assert!(waited < Duration::from_secs(60), "{waited:?}");
    assert!(
        seen.iter().all(|l| !l.contains("error sending request")),
        "{seen:?}"
    );
}
