//! Issue 12 item 6: when Box never answers, the error names the host and the cause in words
//! (refused, DNS, timeout, TLS), says it once, and the command line prints it without ANSI
//! escapes; requests failing for more than a few seconds are announced at the default
//! verbosity instead of minutes of silence.
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Command, Stdio};

use super::*;
use crate::common::boxlift_bin;
use crate::common::tls::{TestCa, tls_emulator};
use crate::common::tree::Tree;

/// A client of `base` (`http://host:port`) that tries once.
fn once(base: &str) -> ClientConfig {
    let mut c = ClientConfig::new(AuthConfig::DeveloperToken(Secret::new("dev-token")));
    c.api_url = format!("{base}/2.0");
    c.upload_url = format!("{base}/api/2.0");
    c.oauth_url = format!("{base}/oauth2/token");
    c.retry.max_attempts = 1;
    c
}

fn get_folder_error(config: ClientConfig) -> ApiError {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let client = BoxClient::new(config).unwrap();
        client.get_folder("0").await.unwrap_err()
    })
}

/// A port nothing listens on: bound, then dropped.
fn closed_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// No piece of a `a: b: c` message appears twice.
fn assert_said_once(msg: &str) {
    let parts: Vec<&str> = msg.split(": ").map(str::trim).collect();
    for (i, p) in parts.iter().enumerate() {
        assert!(!parts[i + 1..].contains(p), "{p:?} is said twice in: {msg}");
    }
    assert!(
        !msg.contains("error sending request"),
        "reqwest's words: {msg}"
    );
}

#[test]
fn a_closed_port_says_connection_refused_and_the_host() {
    let port = closed_port();
    let e = get_folder_error(once(&format!("http://127.0.0.1:{port}")));
    let msg = e.to_string();
    assert!(
        msg.contains(&format!(
            "no reply from 127.0.0.1:{port}: connection refused"
        )),
        "{msg}"
    );
    assert_said_once(&msg);
}

#[test]
fn an_unknown_host_says_dns() {
    let e = get_folder_error(once("http://box-api.invalid"));
    let msg = e.to_string();
    assert!(
        msg.contains("no reply from box-api.invalid: DNS lookup failed"),
        "{msg}"
    );
    assert_said_once(&msg);
}

#[test]
fn a_server_that_never_answers_says_timed_out_after_the_timeout() {
    // Accepts connections (the kernel's backlog does) and never answers.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let mut config = once(&format!("http://127.0.0.1:{port}"));
    config.read_timeout = Some(Duration::from_millis(300));
    let msg = get_folder_error(config).to_string();
    assert!(
        msg.contains(&format!(
            "no reply from 127.0.0.1:{port}: timed out after 300 ms"
        )),
        "{msg}"
    );
    assert_said_once(&msg);
    drop(l);
}

#[test]
fn an_untrusted_certificate_says_tls_and_the_host() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "net");
    let (cert, key) = ca.server_cert("server", &["127.0.0.1"]);
    let emu = tls_emulator(&cert, &key);
    // No --ca-cert: the emulator's certificate is not trusted.
    let msg = get_folder_error(once(&emu.base_url())).to_string();
    assert!(
        msg.contains("TLS: certificate of 127.0.0.1 not trusted"),
        "{msg}"
    );
    assert_said_once(&msg);
}

fn migrate_to(base: &str, src: &Path, work: &Path, attempts: &str) -> Command {
    let mut c = Command::new(boxlift_bin());
    c.args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--api-url", &format!("{base}/2.0")])
        .args(["--upload-url", &format!("{base}/api/2.0")])
        .args(["--oauth-url", &format!("{base}/oauth2/token")])
        .args(["--developer-token", "dev-token", "--max-attempts", attempts])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env_remove("BOXLIFT_LOG")
        .stdin(Stdio::null());
    c
}

#[test]
fn the_command_line_says_host_and_cause_once_without_ansi() {
    let t = Tree::new();
    t.file("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let port = closed_port();
    let out = migrate_to(
        &format!("http://127.0.0.1:{port}"),
        t.root(),
        work.path(),
        "1",
    )
    .output()
    .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    let line = err
        .lines()
        .find(|l| l.starts_with("boxlift: error: "))
        .unwrap_or_else(|| panic!("no error line: {err}"));
    assert!(
        line.contains(&format!(
            "destination folder 0: get folder /folders/{{id}}: no reply from 127.0.0.1:{port}: connection refused"
        )),
        "{line}"
    );
    assert_said_once(line.trim_start_matches("boxlift: error: "));
    assert!(!err.contains('\x1b'), "ANSI escapes on a pipe: {err:?}");
}

#[test]
fn requests_failing_for_seconds_are_announced_at_the_default_verbosity() {
    let t = Tree::new();
    t.file("a.txt", b"a");
    let work = tempfile::tempdir().unwrap();
    let port = closed_port();
    // Enough attempts that the backoff outlasts the 5 s before the warning, whatever the
    // jitter draws; the test ends at the warning line.
    let mut child = migrate_to(
        &format!("http://127.0.0.1:{port}"),
        t.root(),
        work.path(),
        "30",
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
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
    let _ = child.kill();
    let _ = child.wait();
    let warning = warning.unwrap_or_else(|| panic!("no warning; stderr: {seen:?}"));
    assert!(
        warning.contains(&format!("requests to 127.0.0.1:{port} failing for ")),
        "{warning}"
    );
    assert!(
        warning.contains(" s: connection refused; retrying"),
        "{warning}"
    );
    assert!(warning.contains("WARN"), "{warning}");
    assert!(
        !warning.contains('\x1b'),
        "ANSI escapes on a pipe: {warning:?}"
    );
}

/// File content (direct uploads, session parts) goes over HTTP/1.1 connections of its own;
/// API calls share HTTP/2. Over one HTTP/2 connection every part in flight shares one
/// congestion window, one flow-control window and one TLS stream (`VERSUS_ROWS=big cargo
/// bench --bench versus`: 12.0–12.5 s over HTTP/2 against 7.7–8.1 s over HTTP/1.1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_content_goes_over_http1_and_api_calls_over_http2() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new(dir.path(), "versions");
    let (cert, key) = ca.server_cert("server", &["127.0.0.1"]);
    let emu = tls_emulator(&cert, &key);
    let mut config = dev_config(&emu);
    config.ca_cert = Some(ca.ca_pem.clone());
    let client = BoxClient::new(config).unwrap();
    let big = make_file(dir.path(), "big.bin", 3 * PART + 5, 7);
    let small = make_file(dir.path(), "small.bin", 1000, 8);
    let folder = client.ensure_path("0", "v").await.unwrap();
    let (a, b) = tokio::join!(
        client.upload_chunked(
            &big,
            new_file(&folder, "big.bin"),
            ChunkedOptions::default()
        ),
        upload(&client, &small, new_file(&folder, "small.bin")),
    );
    assert_eq!(a.unwrap().file.size, Some(big.size));
    assert_eq!(b.unwrap().file.size, Some(small.size));
    let versions = emu.state().counters.versions;
    let on = |version: &str, route: &str| {
        versions
            .get(version)
            .and_then(|by_route| by_route.get(route))
            .copied()
            .unwrap_or(0)
    };
    let part = "PUT /api/2.0/files/upload_sessions/{id}";
    assert_eq!(on("HTTP/1.1", part), 4, "{versions:?}");
    assert_eq!(
        on("HTTP/1.1", "POST /api/2.0/files/content"),
        1,
        "{versions:?}"
    );
    assert_eq!(
        on("HTTP/2.0", "POST /api/2.0/files/upload_sessions"),
        1,
        "{versions:?}"
    );
    assert_eq!(on("HTTP/2.0", part), 0, "{versions:?}");
    assert!(
        versions["HTTP/2.0"].keys().any(|r| r.contains("folders")),
        "{versions:?}"
    );
}
