//! What an operator sees of a long job that is not on a terminal: status lines from `scan` and
//! `migrate` on a pipe, the same lines, the summary and the exit reason in a text
//! `--log-file`, and Prometheus metrics at `--metrics-listen`.
//!
//! A run is held at its start without a timer: `--files-from` names a FIFO, which the scan
//! reads before its first row, so the test waits for a status line (or a scrape) and only
//! then writes the list and lets the run go on.
use std::io::Write;
use std::sync::mpsc;

use boxlift::metrics::Metrics;
use boxlift::progress::eta::EtaLimits;

use super::*;

/// A FIFO at `path` (mkfifo(1)).
fn fifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap();
    assert!(ok.success(), "mkfifo {}", path.display());
}

/// Write the file list into the FIFO (opening it blocks until the scan opens it to read).
fn release(fifo: &Path, files: &[&str]) {
    let mut f = std::fs::OpenOptions::new().write(true).open(fifo).unwrap();
    for p in files {
        writeln!(f, "{p}").unwrap();
    }
}

/// Read `child`'s stderr on a thread: each line goes to the channel.
fn stderr_lines(child: &mut std::process::Child) -> mpsc::Receiver<String> {
    let err = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The first line matching `want` (waiting as long as the child writes), or a panic with
/// what came instead.
fn wait_for(rx: &mpsc::Receiver<String>, want: impl Fn(&str) -> bool) -> String {
    let mut seen = Vec::new();
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(60)) {
        if want(&line) {
            return line;
        }
        seen.push(line);
    }
    panic!("no such line; stderr had: {seen:#?}");
}

#[test]
fn scan_on_a_pipe_prints_status_lines_and_the_log_file_keeps_them_with_the_exit() {
    let t = Tree::new();
    t.file("a.txt", b"a");
    t.file("d/b.txt", b"bb");
    let work = tempfile::tempdir().unwrap();
    let list = work.path().join("list");
    fifo(&list);
    let log = work.path().join("scan.log");
    let mut child = Command::new(boxlift_bin())
        .args(["scan", t.root().to_str().unwrap(), "-o"])
        .arg(work.path().join("m.csv"))
        .arg("--files-from")
        .arg(&list)
        .args(["--status-interval", "1", "--log-file"])
        .arg(&log)
        .env_remove("BOXLIFT_LOG")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    // The scan waits on the list: a status line comes while it does.
    let status = wait_for(&rx, |l| l.starts_with("boxlift: walked "));
    assert!(status.contains("hashed 0 files"), "{status}");
    release(&list, &["a.txt", "d/b.txt"]);
    let summary = wait_for(&rx, |l| l.contains("scanned "));
    assert!(summary.contains("scanned 2 files"), "{summary}");
    assert_eq!(child.wait().unwrap().code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("boxlift::status: walked "), "{text}");
    assert!(text.contains("scanned 2 files"), "{text}");
    assert!(text.contains("exit 0: success"), "{text}");
}

#[test]
fn migrate_log_file_in_text_holds_status_lines_the_summary_and_the_exit_reason() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("a.txt", b"alpha");
    t.file("d/b.txt", b"bravo");
    let work = tempfile::tempdir().unwrap();
    let list = work.path().join("list");
    fifo(&list);
    let log = work.path().join("logs/run.log");
    let mut c = boxlift(
        &emu,
        &[
            "migrate",
            t.root().to_str().unwrap(),
            "--dest",
            "0",
            "--report",
            work.path().join("report.csv").to_str().unwrap(),
            "--progress",
            "lines",
            "--status-interval",
            "1",
            "--files-from",
            list.to_str().unwrap(),
            "--log-file",
            log.to_str().unwrap(),
        ],
    );
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    // The counting pass knows the tree before the scan has read the list: a total at once.
    let status = wait_for(&rx, |l| l.starts_with("boxlift: 0/"));
    assert!(status.contains("0/~2 files"), "{status}");
    release(&list, &["a.txt", "d/b.txt"]);
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(text.contains("boxlift::status: 0/~2 files"), "{text}");
    // The summary (stdout) is in the log file too.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let first = stdout.lines().next().expect("a summary");
    assert!(text.contains(first), "{first:?} not in:\n{text}");
    assert!(text.contains("exit 0: success"), "{text}");

    // A run that cannot start (no such destination) leaves the error and the exit reason.
    let bad = work.path().join("logs/bad.log");
    let mut c = boxlift(
        &emu,
        &[
            "migrate",
            t.root().to_str().unwrap(),
            "--dest",
            "999999",
            "--report",
            work.path().join("bad.csv").to_str().unwrap(),
            "--log-file",
            bad.to_str().unwrap(),
        ],
    );
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let text = std::fs::read_to_string(&bad).unwrap();
    assert!(text.contains("error: "), "{text}");
    assert!(text.contains("exit 2: could not run"), "{text}");
}

/// One `GET /metrics` over plain HTTP/1.0.
fn scrape(addr: std::net::SocketAddr) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut body = String::new();
    s.read_to_string(&mut body).unwrap();
    assert!(
        body.starts_with("HTTP/1.0 200") || body.starts_with("HTTP/1.1 200"),
        "{body}"
    );
    body
}

/// `series value` from a scrape.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[test]
fn metrics_scraped_mid_run_show_files_done_rising_to_the_final_count() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..40 {
        t.file(format!("d{}/f{i}.txt", i % 3), format!("{i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let mut config = migrate_config(&emu, t.root(), work.path(), 4);
    // 20 uploads a second: the run lasts about 2 s, scraped all along.
    config.client.uploads_per_minute = 1200;
    let limits = EtaLimits::for_run(&config.client, config.chunked_threshold, false);
    let metrics = Metrics::new(limits);
    let addr = metrics
        .serve(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .unwrap();
    let m = metrics.clone();
    config.observer = Some(Observer::new(move |e| m.on_event(e)));
    let run = std::thread::spawn(move || boxlift::migrate::run(config, Cancel::new()));
    let mut seen = Vec::new();
    while !run.is_finished() {
        if let Some(v) = value(&scrape(addr), "boxlift_files_done_total") {
            seen.push(v);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let summary = run.join().unwrap().unwrap();
    assert_eq!(summary.exit_code(), ExitCode::Success);
    let last = scrape(addr);
    assert_eq!(
        value(&last, "boxlift_files_done_total"),
        Some(40.0),
        "{last}"
    );
    assert_eq!(
        value(&last, "boxlift_bytes_sent_total"),
        Some(70.0),
        "{last}"
    );
    assert_eq!(value(&last, "boxlift_eta_seconds"), Some(0.0), "{last}");
    assert!(
        value(&last, "boxlift_requests_total{status=\"ok\"}").is_some_and(|n| n >= 40.0),
        "{last}"
    );
    assert!(
        seen.windows(2).all(|w| w[0] <= w[1]),
        "never goes back: {seen:?}"
    );
    assert!(
        seen.iter().any(|v| *v > 0.0 && *v < 40.0),
        "a scrape mid-run: {seen:?}"
    );
}

#[test]
fn metrics_listen_serves_while_the_binary_runs() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    t.file("a.txt", b"alpha");
    let work = tempfile::tempdir().unwrap();
    let list = work.path().join("list");
    fifo(&list);
    let mut c = migrate_cmd(
        &emu,
        t.root(),
        work.path(),
        &[
            "--metrics-listen",
            "127.0.0.1:0",
            "--files-from",
            list.to_str().unwrap(),
        ],
    );
    c.env("BOXLIFT_LOG", "warn");
    let mut child = c
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let rx = stderr_lines(&mut child);
    let line = wait_for(&rx, |l| l.contains("metrics at http://"));
    let addr: std::net::SocketAddr = line
        .split("http://")
        .nth(1)
        .and_then(|r| r.strip_suffix("/metrics"))
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    // Held at the start by the list: nothing done, and soon the counting pass's total.
    let mut text = scrape(addr);
    for _ in 0..600 {
        if value(&text, "boxlift_files_expected") == Some(1.0) {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        text = scrape(addr);
    }
    assert_eq!(value(&text, "boxlift_files_expected"), Some(1.0), "{text}");
    assert_eq!(
        value(&text, "boxlift_files_done_total"),
        Some(0.0),
        "{text}"
    );
    release(&list, &["a.txt"]);
    assert_eq!(child.wait().unwrap().code(), Some(0));
}
