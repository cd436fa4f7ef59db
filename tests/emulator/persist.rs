//! `--data DIR` keeps the tree across restarts; `boxlift emulator` on the command line.
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use boxlift::emulator::EmulatorConfig;

use crate::common::boxlift_bin;
use crate::common::emu::{Emu, data, entry, send, sha1_hex};

#[tokio::test]
async fn a_restarted_emulator_keeps_its_tree() {
    let dir = tempfile::tempdir().unwrap();
    let config = || EmulatorConfig {
        data_dir: Some(dir.path().to_path_buf()),
        ..EmulatorConfig::default()
    };
    let body = data(5000, 9);
    let (folder, file) = {
        let emu = Emu::with(config());
        let folder = emu.mkdir_ok("0", "kept").await;
        let file = emu.upload_ok(&folder, "k.bin", &body).await;
        (folder, file)
    };
    let blob = dir.path().join("blobs").join(sha1_hex(&body));
    assert_eq!(std::fs::read(&blob).unwrap(), body);
    let emu = Emu::with(config());
    let state = emu.handle.state();
    assert_eq!(entry(&state, "kept").unwrap().id, folder);
    let e = entry(&state, "kept/k.bin").unwrap();
    assert_eq!(
        (e.id.as_str(), e.size, e.sha1.clone()),
        (file.as_str(), 5000, Some(sha1_hex(&body)))
    );
    assert_eq!(emu.upload(&folder, "K.BIN", b"x").await.0, 409);
    let other = emu.mkdir_ok("0", "new").await;
    assert!(other != folder && other != file);
}

#[tokio::test]
async fn the_cli_prints_its_url_and_writes_the_port_file() {
    let dir = tempfile::tempdir().unwrap();
    let port_file = dir.path().join("port");
    let mut child = Command::new(boxlift_bin())
        .args([
            "emulator",
            "--listen",
            "127.0.0.1:0",
            "--developer-token",
            "cli-token",
            "--port-file",
        ])
        .arg(&port_file)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = std::fs::read_to_string(&port_file).unwrap();
    assert_eq!(line.trim(), format!("listening on http://127.0.0.1:{port}"));
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/2.0/folders/0");
    let (status, body) = send(http.get(&url).bearer_auth("cli-token")).await;
    assert_eq!((status, body["id"].as_str()), (200, Some("0")));
    assert_eq!(send(http.get(&url).bearer_auth("dev-token")).await.0, 401);
    child.kill().unwrap();
    child.wait().unwrap();
}
