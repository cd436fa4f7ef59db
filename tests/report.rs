//! `boxlift report merge` and `boxlift report html` on real reports: each made by running the
//! built `boxlift migrate` against an in-process emulator. The HTML page is opened in headless
//! Chromium; its rendered DOM is checked and a screenshot lands in `target/report-screenshot.png`.
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::report::{ReportRow, read_report};

use crate::common::boxlift_bin;
use crate::common::tree::Tree;

/// `boxlift migrate SRC --dest 0 --report REPORT` against `emu`, without client-side pacing.
fn migrate(emu: &EmulatorHandle, src: &Path, report: &Path) -> Output {
    let out = Command::new(boxlift_bin())
        .args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", report.to_str().unwrap(), "--progress", "none"])
        .args(["--api-calls-per-minute", "10000000"])
        .args(["--uploads-per-minute", "10000000"])
        // Merging stories: every report holds every path (`skipped_done` rows too).
        .arg("--report-all")
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_LOG", "warn")
        .output()
        .expect("run boxlift migrate");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "migrate failed: {:?}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `boxlift report ARGS...`.
fn report_cmd(args: &[&str]) -> Output {
    Command::new(boxlift_bin())
        .arg("report")
        .args(args)
        .env("BOXLIFT_LOG", "warn")
        .output()
        .expect("run boxlift report")
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn by_path(rows: &[ReportRow]) -> BTreeMap<&str, &ReportRow> {
    rows.iter().map(|r| (r.path.as_str(), r)).collect()
}

/// Two shards of one tree: `root/one` holds `alpha/...`, `root/two` holds `beta/...` and a
/// name Box refuses, so each shard's report has its own paths.
fn two_shards(t: &Tree) {
    for i in 0..40 {
        t.file(
            format!("one/alpha/a{}/f{i}.txt", i % 4),
            format!("alpha {i}\n").repeat(i + 1).as_bytes(),
        );
    }
    for i in 0..25 {
        t.file(
            format!("two/beta/f{i}.bin"),
            format!("beta {i}\n").repeat(3 * i + 1).as_bytes(),
        );
    }
    t.file("two/beta/back\\slash.txt", b"refused by Box");
}

#[test]
fn merge_of_two_shards_has_one_row_per_path_and_a_summary_across_them() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    two_shards(&t);
    let work = tempfile::tempdir().unwrap();
    let (r1, r2) = (work.path().join("r1.csv"), work.path().join("r2.csv"));
    migrate(&emu, &t.path("one"), &r1);
    migrate(&emu, &t.path("two"), &r2);
    let (rows1, rows2) = (read_report(&r1).unwrap(), read_report(&r2).unwrap());
    assert_eq!(rows1.len(), 40 + 5); // 40 files, alpha and its 4 folders
    assert_eq!(rows2.len(), 25 + 1 + 1); // 25 files, the refused one, beta

    let all = work.path().join("all.csv");
    let out = report_cmd(&[
        "merge",
        r1.to_str().unwrap(),
        r2.to_str().unwrap(),
        "-o",
        all.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    // The refused name is an `invalid` row: exit 1, as for the migration itself.
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(!stderr.contains("more than one row"), "{stderr}");
    let merged = read_report(&all).unwrap();
    assert_eq!(merged.len(), rows1.len() + rows2.len());
    let m = by_path(&merged);
    assert_eq!(m.len(), merged.len(), "one row per path");
    // Every row is copied verbatim, finished_at included.
    for r in rows1.iter().chain(&rows2) {
        assert_eq!(m.get(r.path.as_str()), Some(&r), "{}", r.path);
        assert!(r.finished_at.is_some(), "{:?}", r.finished_at);
    }
    // The summary: a line per input (rows, failed), the total, and the actions.
    let line = |name: &str| {
        stdout
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("no {name} line:\n{stdout}"))
            .split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(line("r1.csv")[1..3], ["45", "0"], "{stdout}");
    assert_eq!(line("r2.csv")[1..3], ["27", "1"], "{stdout}");
    assert_eq!(line("all inputs")[2..4], ["72", "1"], "{stdout}");
    assert_eq!(line("uploaded")[1], "65", "{stdout}");
    assert_eq!(line("invalid")[1], "1", "{stdout}");
    assert!(
        stdout.contains("merged report: 72 rows, one per path"),
        "{stdout}"
    );

    // Shard one alone merges clean: exit 0.
    let solo = work.path().join("solo.csv");
    let out = report_cmd(&["merge", r1.to_str().unwrap(), "-o", solo.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    assert_eq!(read_report(&solo).unwrap(), rows1);
}

#[test]
fn a_path_in_two_inputs_keeps_the_later_row_and_exits_1() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..12 {
        t.file(format!("docs/f{i}.txt"), format!("v1 {i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let (first, rerun) = (work.path().join("first.csv"), work.path().join("rerun.csv"));
    migrate(&emu, t.root(), &first);
    // A re-run after one file changed: its report has every path again.
    t.file("docs/f3.txt", b"v2, changed");
    std::fs::rename(
        work.path().join("first.state"),
        work.path().join("rerun.state"),
    )
    .unwrap();
    migrate(&emu, t.root(), &rerun);
    let (a, b) = (read_report(&first).unwrap(), read_report(&rerun).unwrap());
    assert_eq!(a.len(), 13);
    assert_eq!(b.len(), 13);
    let changed = by_path(&b)["docs/f3.txt"];
    assert_eq!(changed.action().to_string(), "new_version");

    let all = work.path().join("all.csv");
    let out = report_cmd(&[
        "merge",
        first.to_str().unwrap(),
        rerun.to_str().unwrap(),
        "-o",
        all.to_str().unwrap(),
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(1), "{stdout}{stderr}");
    assert!(
        stderr.contains("13 path(s) appear in more than one row")
            && stderr.contains("left out 13 row(s)"),
        "{stderr}"
    );
    // A few examples, each naming the path, the input and line it lost, and the winner.
    let examples: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains("superseded by"))
        .collect();
    assert_eq!(examples.len(), 5, "{stderr}");
    assert!(examples[0].contains("first.csv line 2") && examples[0].ends_with("rerun.csv"));
    let merged = read_report(&all).unwrap();
    assert_eq!(merged, b, "the later input's rows, one per path");
    assert_eq!(
        stdout
            .lines()
            .find(|l| l.contains("first.csv"))
            .unwrap()
            .split_whitespace()
            .last(),
        Some("13")
    );

    // The same report twice is a conflict too.
    let out = report_cmd(&[
        "merge",
        rerun.to_str().unwrap(),
        rerun.to_str().unwrap(),
        "-o",
        all.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out)
            .1
            .contains("13 path(s) appear in more than one row")
    );
    assert_eq!(read_report(&all).unwrap(), b);
}

#[test]
fn bad_inputs_exit_2_naming_the_file_and_line_and_write_nothing() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..5 {
        t.file(format!("f{i}.txt"), format!("{i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let good = work.path().join("good.csv");
    migrate(&emu, t.root(), &good);
    let body = std::fs::read_to_string(&good).unwrap();
    let mut lines: Vec<String> = body.lines().map(str::to_string).collect();
    lines[3] = lines[3].replacen(",uploaded,", ",uplaoded,", 1);
    let typo = work.path().join("typo.csv");
    std::fs::write(&typo, lines.join("\n") + "\n").unwrap();
    let manifest = work.path().join("good.state/manifest.csv");
    let missing = work.path().join("missing.csv");
    let out_csv = work.path().join("out.csv");
    for (input, want) in [
        (&missing, "missing.csv: No such file".to_string()),
        (
            &manifest,
            "manifest.csv: line 1 is not a boxlift report header".to_string(),
        ),
        (
            &typo,
            "typo.csv: line 4: unknown report action \"uplaoded\"".to_string(),
        ),
    ] {
        let out = report_cmd(&[
            "merge",
            good.to_str().unwrap(),
            input.to_str().unwrap(),
            "-o",
            out_csv.to_str().unwrap(),
        ]);
        let (stdout, stderr) = text(&out);
        assert_eq!(out.status.code(), Some(2), "{stdout}{stderr}");
        assert!(stderr.contains(&want), "wanted {want:?} in:\n{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert!(!out_csv.exists() && !work.path().join("out.csv.partial").exists());
        let html = work.path().join("x.html");
        let out = report_cmd(&[
            "html",
            input.to_str().unwrap(),
            "-o",
            html.to_str().unwrap(),
        ]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out).1.contains(&want), "{:?}", text(&out));
    }
    // The output may not be an input.
    let out = report_cmd(&[
        "merge",
        good.to_str().unwrap(),
        "-o",
        good.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out).1.contains("is also an input"),
        "{:?}",
        text(&out)
    );
    assert_eq!(std::fs::read_to_string(&good).unwrap(), body);
}

#[test]
fn reports_without_finished_at_still_merge_and_render() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..6 {
        t.file(format!("d/f{i}.txt"), format!("{i}").as_bytes());
    }
    let work = tempfile::tempdir().unwrap();
    let new = work.path().join("new.csv");
    migrate(&emu, t.root(), &new);
    // An older boxlift's report: the same rows without the last columns (`finished_at`,
    // `queued_ms` and `old_path` came later).
    let mut rd = csv::Reader::from_path(&new).unwrap();
    let old = work.path().join("old.csv");
    let mut w = csv::Writer::from_path(&old).unwrap();
    let h = rd.headers().unwrap().clone();
    assert_eq!(h.iter().nth(h.len() - 3), Some("finished_at"));
    assert_eq!(h.iter().nth(h.len() - 2), Some("queued_ms"));
    assert_eq!(h.iter().next_back(), Some("old_path"));
    w.write_record(h.iter().take(h.len() - 3)).unwrap();
    for rec in rd.records() {
        let rec = rec.unwrap();
        w.write_record(rec.iter().take(h.len() - 3)).unwrap();
    }
    w.flush().unwrap();
    let all = work.path().join("all.csv");
    let out = report_cmd(&["merge", old.to_str().unwrap(), "-o", all.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let merged = read_report(&all).unwrap();
    assert_eq!(merged.len(), 7);
    assert!(
        merged.iter().all(|r| r.finished_at.is_none()),
        "merge adds no times"
    );
    let html = work.path().join("old.html");
    let out = report_cmd(&["html", old.to_str().unwrap(), "-o", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("no finished_at column"));
    assert!(page.contains("id=\"total-rows\" data-value=\"7\""));
}

/// Chromium on PATH, or `None` after a loud message when not in CI (in CI it must be there).
fn chromium() -> Option<PathBuf> {
    let found = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if found {
        return Some(PathBuf::from("chromium"));
    }
    if std::env::var_os("CI").is_some() {
        panic!(
            "chromium is not installed, and CI is set: the HTML report must be rendered in CI (.ci/run installs Debian's chromium)"
        );
    }
    eprintln!(
        "\n\n*** SKIPPED: the HTML report was NOT rendered: chromium is not installed \
         (apt-get install chromium). In CI (CI set) this is a failure. ***\n\n"
    );
    None
}

/// Run headless Chromium on `page` with `args`, killed after two minutes.
fn run_chromium(bin: &Path, page: &Path, args: &[String]) -> Output {
    let profile = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(format!("file://{}", page.display()))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chromium");
    let deadline = Instant::now() + Duration::from_secs(120);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 120 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

/// The value of `attr="..."` on the element with `id="id"` in serialized HTML.
fn attr_of(dom: &str, id: &str, attr: &str) -> String {
    let at = dom
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element {id}"));
    let tag_start = dom[..at].rfind('<').unwrap();
    let tag = &dom[tag_start..tag_start + dom[tag_start..].find('>').unwrap()];
    let key = format!("{attr}=\"");
    let v = &tag[tag
        .find(&key)
        .unwrap_or_else(|| panic!("{id} has no {attr}: {tag}"))
        + key.len()..];
    v[..v.find('"').unwrap()].to_string()
}

#[test]
fn html_page_of_a_real_migration_renders_in_headless_chromium() {
    let emu = Emulator::start(EmulatorConfig {
        latency_ms: 3,
        ..EmulatorConfig::default()
    })
    .unwrap();
    let t = Tree::new();
    for i in 0..60u64 {
        t.file_sized(
            format!("data/d{}/f{i}.bin", i % 5),
            [0, 7, 900, 15_000, 240_000, 3_100_000][i as usize % 6] + i,
        );
    }
    // Box refuses the backslash: an `invalid` row whose path needs escaping in HTML.
    t.file(
        "data/we<ird> & \"q\" 'x' back\\slash.txt",
        b"refused, escaped",
    );
    t.file("data/bad\\name.txt", b"refused");
    t.file("data/also\\bad.txt", b"refused too");
    let work = tempfile::tempdir().unwrap();
    let rep = work.path().join("report.csv");
    migrate(&emu, t.root(), &rep);
    let rows = read_report(&rep).unwrap();
    let files = rows.iter().filter(|r| r.kind.as_str() == "file").count();
    assert_eq!(files, 63);
    assert_eq!(rows.iter().filter(|r| r.action().is_failure()).count(), 3);
    let sent: u64 = rows.iter().map(|r| r.bytes_sent).sum();
    assert!(sent > 10_000_000);

    let page = work.path().join("report.html");
    let out = report_cmd(&["html", rep.to_str().unwrap(), "-o", page.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let html = std::fs::read_to_string(&page).unwrap();
    // Self-contained: nothing that could load from anywhere.
    for needle in [
        "http:", "https:", "src=", "href=", "url(", "@import", "<link", "<iframe", "<img",
    ] {
        assert!(
            !html.to_lowercase().contains(needle),
            "the page holds {needle:?}"
        );
    }
    // Text from the CSV is escaped.
    assert!(!html.contains("we<ird>"));
    assert!(html.contains("we&lt;ird&gt; &amp; &quot;q&quot; &#39;x&#39; back\\slash.txt"));

    let Some(chromium) = chromium() else { return };
    let window = "--window-size=1280,2000".to_string();
    let out = run_chromium(
        &chromium,
        &page,
        &["--dump-dom".to_string(), window.clone()],
    );
    let dom = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success() && dom.contains("</html>"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The inline script ran after layout and measured the chart it found.
    let size = dom
        .split("data-rendered=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("the page's script ran");
    let (w, h) = size.split_once('x').unwrap();
    let (w, h): (u32, u32) = (w.parse().unwrap(), h.parse().unwrap());
    assert!(w > 800 && h > 100, "chart rendered at {w}x{h}");
    // Totals show the report's numbers.
    assert_eq!(
        attr_of(&dom, "total-rows", "data-value"),
        rows.len().to_string()
    );
    assert_eq!(
        attr_of(&dom, "total-files", "data-value"),
        files.to_string()
    );
    assert_eq!(attr_of(&dom, "bytes-sent", "data-value"), sent.to_string());
    assert_eq!(attr_of(&dom, "failures", "data-value"), "3");
    let fps: f64 = attr_of(&dom, "files-per-sec", "data-value")
        .parse()
        .unwrap();
    let span: f64 = attr_of(&dom, "wall-span", "data-value").parse().unwrap();
    assert!(
        (fps * span / 1000.0 - files as f64).abs() < 0.5,
        "{fps} files/s over {span} ms"
    );
    // The charts have bars, and the bars add up to the report.
    let bars: usize = attr_of(&dom, "throughput-bytes", "data-bars")
        .parse()
        .unwrap();
    assert!(bars >= 1);
    let svg = &dom[dom.find("id=\"throughput-files\"").unwrap()..];
    let svg = &svg[..svg.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<rect class=\"bar files\"").count(), bars);
    let hist = &dom[dom.find("id=\"size-histogram\"").unwrap()..];
    let hist = &hist[..hist.find("</svg>").unwrap()];
    let counted: f64 = hist
        .split("data-value=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(counted as usize, files);
    // Failures by code, with an example path each; the slowest files.
    let codes: BTreeSet<String> = dom
        .split("<tr class=\"failure\" data-code=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect();
    let expected: BTreeSet<String> = rows
        .iter()
        .filter(|r| !r.error_code.is_empty())
        .map(|r| r.error_code.clone())
        .collect();
    assert_eq!(codes, expected);
    assert!(dom.contains("data/bad\\name.txt") || dom.contains("data/also\\bad.txt"));
    assert_eq!(dom.matches("<tr class=\"slow\"").count(), 20);
    let slowest = rows
        .iter()
        .filter(|r| r.kind.as_str() == "file")
        .map(|r| r.duration_ms)
        .max()
        .unwrap();
    assert!(dom.contains(&format!(
        "<tr class=\"slow\" data-ms=\"{slowest}\"><td class=\"n\">1</td>"
    )));
    assert!(
        dom.contains("we&lt;ird&gt; &amp; \"q\" 'x' back\\slash.txt"),
        "the name renders as text"
    );

    // A screenshot for people: a real PNG of the requested size with varied pixels.
    let target = boxlift_bin()
        .parent()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let shot = target.join("report-screenshot.png");
    let _ = std::fs::remove_file(&shot);
    let out = run_chromium(
        &chromium,
        &page,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,2000".to_string(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(&shot).unwrap()));
    let mut reader = decoder.read_info().expect("a PNG");
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (1280, 2000));
    let px = info.color_type.samples();
    let pixels = &buf[..info.buffer_size()];
    let colours: BTreeSet<&[u8]> = pixels.chunks(px).step_by(7).collect();
    assert!(colours.len() > 50, "only {} colours", colours.len());
    // The page's blue header and bars are there, not only background.
    let blue = pixels
        .chunks(px)
        .filter(|p| p[2] > 150 && p[0] < 40 && p[1] > 70 && p[1] < 110)
        .count();
    assert!(blue > 1280 * 40, "{blue} blue pixels");
    eprintln!("screenshot: {}", shot.display());
}

/// The slowest table of a paced run: small files wait their turn for upload permits, and that
/// wait (`queued_ms`) is shown apart and does not rank them; they rank by time sending.
#[test]
fn a_paced_runs_slowest_table_ranks_by_time_sending_not_time_queued() {
    let emu = Emulator::start(EmulatorConfig::default()).unwrap();
    let t = Tree::new();
    for i in 0..40u64 {
        t.file_sized(format!("small/f{i:02}.bin"), 500 + i);
    }
    let work = tempfile::tempdir().unwrap();
    let rep = work.path().join("paced.csv");
    // 8 uploads a second with 20 files in flight: most of a file's time is its turn coming.
    let out = Command::new(boxlift_bin())
        .args(["migrate", t.root().to_str().unwrap(), "--dest", "0"])
        .args(["--report", rep.to_str().unwrap(), "--progress", "none"])
        .args(["--api-calls-per-minute", "10000000"])
        .args(["--uploads-per-minute", "480", "--concurrency", "20"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .env_remove("BOX_DEVELOPER_TOKEN")
        .env("BOXLIFT_LOG", "warn")
        .output()
        .expect("run boxlift migrate");
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let rows = read_report(&rep).unwrap();
    let files: Vec<&ReportRow> = rows.iter().filter(|r| r.kind.as_str() == "file").collect();
    assert_eq!(files.len(), 40);
    assert!(files.iter().all(|r| r.queued_ms <= r.duration_ms));
    let most_queued = files.iter().map(|r| r.queued_ms).max().unwrap();
    // 40 files at 8 a second: the last ones wait seconds for their permit.
    assert!(most_queued >= 1_500, "most queued {most_queued} ms");

    let html = work.path().join("paced.html");
    let out = report_cmd(&["html", rep.to_str().unwrap(), "-o", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{:?}", text(&out));
    let page = std::fs::read_to_string(&html).unwrap();
    // (path, sending ms, queued ms) of each slowest-table row, in page order.
    let table: Vec<(String, u64, u64)> = page
        .split("<tr class=\"slow\"")
        .skip(1)
        .map(|tr| {
            let cell = |start: &str| {
                let rest = &tr[tr.find(start).expect(start) + start.len()..];
                rest[..rest.find('"').unwrap_or(rest.len())].to_string()
            };
            let path = tr.split("<td class=\"p\">").nth(1).unwrap();
            let path = path[..path.find("</td>").unwrap()].to_string();
            let sending = cell("<td class=\"n sending\" data-ms=\"").parse().unwrap();
            let queued = cell("<td class=\"n queued\" data-ms=\"").parse().unwrap();
            (path, sending, queued)
        })
        .collect();
    assert_eq!(table.len(), 20);
    let by = by_path(&rows);
    for (path, sending, queued) in &table {
        let r = by[path.as_str()];
        assert_eq!(*queued, r.queued_ms, "{path}");
        assert_eq!(*sending, r.duration_ms - r.queued_ms, "{path}");
    }
    // Ranked by time sending, and the top 20 are the 20 longest senders.
    let sending: Vec<u64> = table.iter().map(|t| t.1).collect();
    assert!(sending.windows(2).all(|w| w[0] >= w[1]), "{sending:?}");
    let mut all: Vec<u64> = files.iter().map(|r| r.duration_ms - r.queued_ms).collect();
    all.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(sending, all[..20]);
    // The file that waited longest is not ranked by its wait: its queue time is not in its
    // sending column, whatever its rank.
    let longest = files.iter().max_by_key(|r| r.duration_ms).unwrap();
    assert!(longest.queued_ms * 2 > longest.duration_ms, "{longest:?}");
    if let Some((_, s, q)) = table.iter().find(|t| t.0 == longest.path) {
        assert_eq!(
            (*s, *q),
            (longest.duration_ms - longest.queued_ms, longest.queued_ms)
        );
    }
}
