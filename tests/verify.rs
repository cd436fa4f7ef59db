//! `boxlift verify` gives the same report and exit code whatever the order of the manifest's
//! rows (issue 13: verify now reads the manifest through an on-disk index keyed by folder, so
//! its result must not depend on the order rows arrive in), with every kind of difference.
use std::path::Path;
use std::process::Output;

use boxlift::emulator::EmulatorConfig;
use boxlift::manifest::write::Writer;
use boxlift::manifest::{Kind, ManifestRow, Status};
use rand::SeedableRng;
use rand::seq::SliceRandom;

use crate::common::boxlift_bin;
use crate::common::emu::{Emu, sha1_hex};

fn row(path: &str, kind: Kind, size: u64, sha1: &str) -> ManifestRow {
    ManifestRow {
        path: path.into(),
        kind,
        size,
        mtime: None,
        sha1: sha1.into(),
        status: Status::Ok,
        detail: String::new(),
    }
}

fn write_manifest(path: &Path, rows: &[ManifestRow]) {
    let mut w = Writer::new(std::fs::File::create(path).unwrap()).unwrap();
    for r in rows {
        w.write(r).unwrap();
    }
    w.flush().unwrap();
}

fn verify(emu: &Emu, manifest: &Path, report: Option<&Path>) -> Output {
    let mut c = std::process::Command::new(boxlift_bin());
    c.args([
        "verify",
        "--manifest",
        manifest.to_str().unwrap(),
        "--dest",
        "0",
    ])
    .args(["--api-url", &emu.handle.api_url()])
    .args(["--upload-url", &emu.handle.upload_url()])
    .args(["--oauth-url", &emu.handle.oauth_url()])
    .args(["--developer-token", "dev-token"])
    .env_remove("BOX_DEVELOPER_TOKEN")
    .env("BOXLIFT_LOG", "warn");
    if let Some(r) = report {
        c.args(["--report", r.to_str().unwrap()]);
    }
    c.output().unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn verify_reports_the_same_differences_whatever_the_manifest_order() {
    let emu = Emu::with(EmulatorConfig::default());
    // Box: docs/ with 30 matching files and three that differ, a twin folder, an extra file.
    let docs = emu.mkdir_ok("0", "Docs").await;
    let sub = emu.mkdir_ok(&docs, "sub").await;
    let mut rows = vec![
        row("docs", Kind::Dir, 0, ""),
        row("docs/sub", Kind::Dir, 0, ""),
    ];
    for i in 0..30 {
        let body = format!("file {i}");
        let (parent, dir) = if i % 2 == 0 {
            (&docs, "docs")
        } else {
            (&sub, "docs/sub")
        };
        emu.upload_ok(parent, &format!("f{i}.txt"), body.as_bytes())
            .await;
        rows.push(row(
            &format!("{dir}/F{i}.txt"),
            Kind::File,
            body.len() as u64,
            &sha1_hex(body.as_bytes()),
        ));
    }
    emu.upload_ok(&docs, "short.txt", b"abc").await;
    rows.push(row("docs/short.txt", Kind::File, 4, &sha1_hex(b"abcd")));
    emu.upload_ok(&docs, "other.txt", b"abc").await;
    rows.push(row("docs/other.txt", Kind::File, 3, &sha1_hex(b"xyz")));
    emu.upload_ok("0", "stray.txt", b"stray").await;
    rows.push(row("docs/gone.txt", Kind::File, 5, &sha1_hex(b"gone!")));
    rows.push(row("lost", Kind::Dir, 0, ""));
    rows.push(row("lost/deeper", Kind::Dir, 0, ""));
    rows.push(row("lost/deeper/x.bin", Kind::File, 1, &sha1_hex(b"x")));
    emu.handle.set_switches(|s| s.folder_race = true);
    let (a, b) = tokio::join!(emu.mkdir("0", "race"), emu.mkdir("0", "race"));
    assert_eq!((a.0, b.0), (201, 201), "the race makes twin folders");
    emu.handle.set_switches(|s| s.folder_race = false);
    rows.push(row("race", Kind::Dir, 0, ""));
    // Not `ok`: not expected in Box, never reported.
    let mut skipped = row("docs/link", Kind::File, 0, "");
    skipped.status = Status::skipped("symlink");
    rows.push(skipped);

    let work = tempfile::tempdir().unwrap();
    let mut baseline: Option<(Option<i32>, String, String)> = None;
    for seed in 0..5u64 {
        let mut order = rows.clone();
        match seed {
            0 => {}
            1 => order.reverse(),
            _ => order.shuffle(&mut rand::rngs::StdRng::seed_from_u64(seed)),
        }
        let m = work.path().join(format!("manifest-{seed}.csv"));
        write_manifest(&m, &order);
        let listed = verify(&emu, &m, None);
        let report = work.path().join(format!("verify-{seed}.csv"));
        let csv = verify(&emu, &m, Some(&report));
        assert_eq!(listed.status.code(), csv.status.code());
        let got = (
            listed.status.code(),
            String::from_utf8(listed.stdout).unwrap(),
            std::fs::read_to_string(&report).unwrap(),
        );
        match &baseline {
            None => baseline = Some(got),
            Some(b) => assert_eq!(&got, b, "order {seed} changed verify's result"),
        }
    }
    let (code, stdout, report) = baseline.unwrap();
    assert_eq!(code, Some(1), "{stdout}");
    let problems: Vec<(String, String)> = report
        .lines()
        .skip(1)
        .map(|l| {
            let mut f = l.split(',');
            (f.next().unwrap().to_string(), f.next().unwrap().to_string())
        })
        .collect();
    let want = [
        ("docs/gone.txt", "missing"),
        ("docs/other.txt", "sha1_mismatch"),
        ("docs/short.txt", "size_mismatch"),
        ("lost", "missing"),
        ("lost/deeper", "missing"),
        ("lost/deeper/x.bin", "missing"),
        ("race", "extra"),
        ("race", "duplicate_folder"),
        ("stray.txt", "extra"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(p, k)| (p.to_string(), k.to_string()))
        .collect();
    assert_eq!(problems, want, "{report}");
    assert!(
        stdout.contains("verify: 39 manifest rows; 30 files and 3 folders match; 9 differences"),
        "{stdout}"
    );
}
