//! Requests per change of a mirror run (`migrate --track-moves --delete-missing`): a renamed
//! folder of N files must cost O(1) Box requests, not O(N) (N = 100 and 1,000), and a single
//! moved file a few. Each line: the Box requests of the mirror run beside those of an
//! unchanged re-run of the same tree (the fixed cost every run pays), and their difference.
//!
//! `cargo bench --bench mirror` (small: seconds).
use std::path::Path;
use std::process::Command;

use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};

/// Box requests so far (not OAuth, not the emulator's own routes).
fn box_requests(emu: &EmulatorHandle) -> u64 {
    emu.state()
        .counters
        .requests
        .iter()
        .filter(|(route, _)| !route.contains("/oauth2/") && !route.contains("/_emulator"))
        .flat_map(|(_, m)| m.values())
        .sum()
}

/// Run `boxlift migrate src` to completion; the Box requests it made.
fn migrate(emu: &EmulatorHandle, src: &Path, work: &Path, extra: &[&str]) -> u64 {
    let before = box_requests(emu);
    let status = Command::new(env!("CARGO_BIN_EXE_boxlift"))
        .args(["migrate", src.to_str().unwrap(), "--dest", "0"])
        .args(["--report", work.join("report.csv").to_str().unwrap()])
        .args(["--progress", "none"])
        .args(["--api-url", &emu.api_url()])
        .args(["--upload-url", &emu.upload_url()])
        .args(["--oauth-url", &emu.oauth_url()])
        .args(["--developer-token", "dev-token"])
        .args(["--api-calls-per-minute", "10000000"])
        .args(["--uploads-per-minute", "10000000"])
        .args(extra)
        .env("BOXLIFT_LOG", "warn")
        .status()
        .expect("run boxlift");
    assert!(status.success(), "boxlift migrate: {status}");
    box_requests(emu) - before
}

fn main() {
    println!("change                         files  requests  unchanged re-run  per change");
    for n in [100usize, 1_000] {
        let emu = Emulator::start(EmulatorConfig::default()).unwrap();
        let src = tempfile::tempdir().unwrap();
        let work = tempfile::tempdir().unwrap();
        for i in 0..n {
            let p = src.path().join(format!("folder/sub{}/f{i}.txt", i % 10));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, format!("file {i}")).unwrap();
        }
        std::fs::write(src.path().join("single.txt"), "one file").unwrap();
        migrate(&emu, src.path(), work.path(), &[]);
        let flags = ["--track-moves", "--delete-missing"];
        let base = migrate(&emu, src.path(), work.path(), &flags);
        std::fs::rename(src.path().join("folder"), src.path().join("renamed")).unwrap();
        let renamed = migrate(&emu, src.path(), work.path(), &flags);
        println!(
            "folder renamed                 {n:>5}  {renamed:>8}  {base:>16}  {:>10}",
            renamed.saturating_sub(base)
        );
        std::fs::create_dir(src.path().join("elsewhere")).unwrap();
        std::fs::rename(
            src.path().join("single.txt"),
            src.path().join("elsewhere/single-moved.txt"),
        )
        .unwrap();
        let moved = migrate(&emu, src.path(), work.path(), &flags);
        println!(
            "one file moved (new folder)    {:>5}  {moved:>8}  {base:>16}  {:>10}",
            1,
            moved.saturating_sub(base)
        );
    }
}
