//! Scale bench (issue 13): every verb on a tree of N small files, with the release binary and
//! a separate `boxlift emulator --discard` process, pacing lifted. For each step: wall time,
//! files/s, Box requests (the emulator's counters), peak RSS of boxlift (wait4 `ru_maxrss`) and
//! of the emulator (`VmHWM`, reset before each step through `/proc/PID/clear_refs`).
//!
//! Steps at N: scan; migrate; an unchanged re-run; an incremental run with 1% of the files
//! changed; verify. Migrate and verify also run on a tree of N/10 in the same run, and the
//! files/s ratio shows whether the per-file cost stays flat as the tree grows. Wall time on a
//! shared machine moves with other work, so each step also reports CPU seconds (boxlift's from
//! wait4, the emulator's from `/proc/PID/stat`), and the ratios are given for both.
//!
//! `cargo bench --bench scale`. Env: `SCALE_FILES` (1000000), `SCALE_FOLDERS` (1000),
//! `SCALE_FILE_SIZE` (64 bytes), `SCALE_DIR` (where the trees go; default the temp dir; the
//! trees, ~5 GB of inodes at 1M, are removed at the end). Goals at 1,000,000 files: each verb
//! ≤ 150 MB, the emulator ≤ 300 MB, files/s at N within 15% of N/10, an unchanged re-run
//! under 1,000 Box requests.
use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::Instant;

use boxlift::emulator::EmulatorState;

const BIN: &str = env!("CARGO_BIN_EXE_boxlift");

mod common;
use common::env_u64;

/// `files` files of `size` bytes (distinct content) spread over `folders` folders under `root`.
fn make_tree(root: &Path, files: u64, folders: u64, size: u64) {
    let per = files.div_ceil(folders);
    let mut body = vec![b'.'; size.max(16) as usize];
    for i in 0..files {
        let dir = root.join(format!("d{:05}", i / per));
        if i % per == 0 {
            fs::create_dir_all(&dir).unwrap();
        }
        body[..16].copy_from_slice(format!("{i:015}\n").as_bytes());
        fs::write(dir.join(format!("f{i:08}.txt")), &body).unwrap();
    }
}

/// Change every 100th file (one byte longer, so size and mtime both move): 1% of the tree.
fn touch_one_percent(root: &Path, files: u64, folders: u64, size: u64) -> u64 {
    let per = files.div_ceil(folders);
    let mut changed = 0;
    for i in (0..files).step_by(100) {
        let p = root
            .join(format!("d{:05}", i / per))
            .join(format!("f{i:08}.txt"));
        let mut body = format!("{i:015}\nchanged").into_bytes();
        body.resize(size.max(16) as usize + 1, b'+');
        fs::write(p, body).unwrap();
        changed += 1;
    }
    changed
}

/// The emulator as its own process, and a small HTTP client for its counters.
struct Emulator {
    child: Child,
    /// Kept open so the emulator never writes to a closed pipe.
    _stdout: BufReader<ChildStdout>,
    base: String,
    rt: tokio::runtime::Runtime,
    http: reqwest::Client,
}

impl Emulator {
    fn start() -> Emulator {
        let mut child = Command::new(BIN)
            .args(["emulator", "--listen", "127.0.0.1:0", "--discard"])
            .env("BOXLIFT_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start boxlift emulator");
        // It prints "listening on http://ADDR" once bound: read that line, no polling.
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        stdout.read_line(&mut line).unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("unexpected emulator output {line:?}"))
            .to_string();
        Emulator {
            child,
            _stdout: stdout,
            base,
            rt: tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap(),
            http: reqwest::Client::new(),
        }
    }

    fn requests(&self) -> u64 {
        let url = format!("{}/_emulator/state?tree=false", self.base);
        let state: EmulatorState = self
            .rt
            .block_on(async { self.http.get(url).send().await?.json().await })
            .expect("emulator state");
        state.counters.total_requests()
    }

    fn mkdir(&self, name: &str) -> String {
        let url = format!("{}/2.0/folders", self.base);
        let body: serde_json::Value = self
            .rt
            .block_on(async {
                self.http
                    .post(url)
                    .bearer_auth("dev-token")
                    .json(&serde_json::json!({"name": name, "parent": {"id": "0"}}))
                    .send()
                    .await?
                    .json()
                    .await
            })
            .expect("create a destination folder");
        body["id"].as_str().expect("folder id").to_string()
    }

    /// Reset the peak RSS the kernel keeps for the emulator (`VmHWM`).
    fn reset_peak(&self) {
        fs::write(format!("/proc/{}/clear_refs", self.child.id()), "5").expect("clear_refs");
    }

    /// The emulator's CPU time so far (user + system), seconds.
    fn cpu(&self) -> f64 {
        let stat = fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap();
        // Fields after "(comm)": state is field 3, utime 14 and stime 15 (clock ticks).
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        let f: Vec<&str> = rest.split_whitespace().collect();
        let ticks: u64 = f[11].parse::<u64>().unwrap() + f[12].parse::<u64>().unwrap();
        // SAFETY: sysconf has no preconditions.
        ticks as f64 / unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64
    }

    /// The emulator's peak RSS since the last reset, bytes.
    fn peak(&self) -> u64 {
        let status = fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .expect("VmHWM")
            * 1024
    }

    fn box_args(&self) -> Vec<String> {
        [
            "--api-url",
            &format!("{}/2.0", self.base),
            "--upload-url",
            &format!("{}/api/2.0", self.base),
            "--oauth-url",
            &format!("{}/oauth2/token", self.base),
            "--developer-token",
            "dev-token",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What one boxlift process took.
struct Ran {
    secs: f64,
    cpu: f64,
    rss: u64,
    code: i32,
}

/// Run boxlift with `args` to the end.
fn run(args: &[String], log: &Path) -> Ran {
    let started = Instant::now();
    let child = Command::new(BIN)
        .args(args)
        .env("BOXLIFT_LOG", "warn")
        .stdout(fs::File::create(log).unwrap())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("run boxlift");
    let r = common::reap(child);
    Ran {
        secs: started.elapsed().as_secs_f64(),
        cpu: r.cpu,
        rss: r.rss,
        code: r.code.unwrap_or(-1),
    }
}

/// One line of the table.
struct Step {
    name: String,
    files: u64,
    secs: f64,
    requests: u64,
    rss: u64,
    emulator_rss: u64,
    cpu: f64,
    emulator_cpu: f64,
}

impl Step {
    fn rate(&self) -> f64 {
        self.files as f64 / self.secs
    }

    /// CPU microseconds per file, boxlift and emulator together.
    fn cpu_per_file(&self) -> f64 {
        (self.cpu + self.emulator_cpu) * 1e6 / self.files as f64
    }
}

struct Bench {
    emu: Emulator,
    work: PathBuf,
    steps: Vec<Step>,
}

impl Bench {
    /// Run one boxlift step; it must exit 0.
    fn step(&mut self, name: &str, files: u64, args: Vec<String>) -> &Step {
        let log = self
            .work
            .join(format!("{}.log", name.replace([' ', '/'], "_")));
        let before = self.emu.requests();
        self.emu.reset_peak();
        let emulator_cpu = self.emu.cpu();
        let Ran {
            secs,
            cpu,
            rss,
            code,
        } = run(&args, &log);
        let emulator_cpu = self.emu.cpu() - emulator_cpu;
        let emulator_rss = self.emu.peak();
        // Less the counters request that read `before` (the emulator counts it too).
        let requests = self.emu.requests() - before - 1;
        if code != 0 {
            eprintln!("{}", fs::read_to_string(&log).unwrap_or_default());
            panic!("{name}: boxlift exited {code}");
        }
        eprintln!("{name}: {secs:.1}s, {requests} requests");
        self.steps.push(Step {
            name: name.to_string(),
            files,
            secs,
            requests,
            rss,
            emulator_rss,
            cpu,
            emulator_cpu,
        });
        self.steps.last().unwrap()
    }

    fn migrate(&mut self, name: &str, files: u64, src: &Path, dest: &str, work: &str) -> Rates {
        let mut args: Vec<String> = ["migrate", src.to_str().unwrap(), "--dest", dest]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let report = self.work.join(work).join("report.csv");
        fs::create_dir_all(report.parent().unwrap()).unwrap();
        args.extend(
            [
                "--report",
                report.to_str().unwrap(),
                "--progress",
                "none",
                "--api-calls-per-minute",
                "100000000",
                "--uploads-per-minute",
                "100000000",
                "--concurrency",
                "32",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        args.extend(self.emu.box_args());
        Rates::of(self.step(name, files, args))
    }

    fn verify(&mut self, name: &str, files: u64, dest: &str, work: &str) -> Rates {
        let manifest = self.work.join(work).join("report.state/manifest.csv");
        let mut args: Vec<String> = [
            "verify",
            "--manifest",
            manifest.to_str().unwrap(),
            "--dest",
            dest,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        // verify paces its listings like any Box client: lifted here as for migrate.
        args.extend(
            ["--api-calls-per-minute", "100000000"]
                .iter()
                .map(|s| s.to_string()),
        );
        args.extend(self.emu.box_args());
        Rates::of(self.step(name, files, args))
    }
}

/// Files/s and CPU per file of one step, for the N vs N/10 ratios.
#[derive(Clone, Copy)]
struct Rates {
    files_per_s: f64,
    cpu_per_file: f64,
}

impl Rates {
    fn of(s: &Step) -> Rates {
        Rates {
            files_per_s: s.rate(),
            cpu_per_file: s.cpu_per_file(),
        }
    }
}

fn mb(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / 1e6)
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` would pass nothing: run only when
    // asked to bench, since the data set is millions of files.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let n = env_u64("SCALE_FILES", 1_000_000);
    let folders = env_u64("SCALE_FOLDERS", 1_000);
    let size = env_u64("SCALE_FILE_SIZE", 64);
    let base = std::env::var_os("SCALE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let tmp = tempfile::tempdir_in(base).expect("scale dir");
    let (small_n, small_folders) = (n / 10, (folders / 10).max(1));
    let small = tmp.path().join("small");
    let big = tmp.path().join("big");
    let started = Instant::now();
    make_tree(&small, small_n, small_folders, size);
    make_tree(&big, n, folders, size);
    eprintln!(
        "trees: {small_n} + {n} files of {size} B made in {:.0}s",
        started.elapsed().as_secs_f64()
    );
    let work = tmp.path().join("work");
    fs::create_dir_all(&work).unwrap();
    let emu = Emulator::start();
    let small_dest = emu.mkdir("small");
    let big_dest = emu.mkdir("big");
    let mut b = Bench {
        emu,
        work: work.clone(),
        steps: Vec::new(),
    };

    let scan_out = work.join("scan.csv");
    b.step(
        "scan",
        n,
        [
            "scan",
            big.to_str().unwrap(),
            "--output",
            scan_out.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect(),
    );
    let m_small = b.migrate("migrate N/10", small_n, &small, &small_dest, "small");
    let v_small = b.verify("verify N/10", small_n, &small_dest, "small");
    let m_big = b.migrate("migrate", n, &big, &big_dest, "big");
    b.migrate("re-run unchanged", n, &big, &big_dest, "big");
    let changed = touch_one_percent(&big, n, folders, size);
    b.migrate(
        &format!("re-run, {changed} changed"),
        n,
        &big,
        &big_dest,
        "big",
    );
    let v_big = b.verify("verify", n, &big_dest, "big");

    println!(
        "scale bench: {n} files of {size} B in {folders} folders (N/10: {small_n} in \
         {small_folders}); release binary; emulator process in --discard mode; pacing lifted"
    );
    println!(
        "{:<22}{:>10}{:>8}{:>9}{:>10}{:>10}{:>10}{:>11}{:>9}",
        "step", "files", "wall s", "files/s", "requests", "boxlift", "emulator", "CPU s", "CPU µs"
    );
    println!(
        "{:<22}{:>10}{:>8}{:>9}{:>10}{:>10}{:>10}{:>11}{:>9}",
        "", "", "", "", "(Box)", "peak MB", "peak MB", "(bl+emu)", "per file"
    );
    for s in &b.steps {
        println!(
            "{:<22}{:>10}{:>8.1}{:>9.0}{:>10}{:>10}{:>10}{:>11}{:>9.1}",
            s.name,
            s.files,
            s.secs,
            s.rate(),
            s.requests,
            mb(s.rss),
            mb(s.emulator_rss),
            format!("{:.1}+{:.1}", s.cpu, s.emulator_cpu),
            s.cpu_per_file()
        );
    }
    let worst = b.steps.iter().map(|s| s.rss).max().unwrap_or(0);
    let worst_emu = b.steps.iter().map(|s| s.emulator_rss).max().unwrap_or(0);
    let rerun = &b.steps[4];
    println!(
        "at N / at N/10: files/s migrate {:.2}, verify {:.2}; CPU per file migrate {:.2}, verify \
         {:.2} (goal: within 15%, 0.85..1.15)",
        m_big.files_per_s / m_small.files_per_s,
        v_big.files_per_s / v_small.files_per_s,
        m_big.cpu_per_file / m_small.cpu_per_file,
        v_big.cpu_per_file / v_small.cpu_per_file
    );
    println!(
        "peak RSS: boxlift {} MB (goal ≤ 150), emulator {} MB (goal ≤ 300); unchanged re-run \
         {} Box requests (goal < 1,000)",
        mb(worst),
        mb(worst_emu),
        rerun.requests
    );
}
