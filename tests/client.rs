//! The Box client against the emulator over HTTP: faults, rate limits, races, lost replies,
//! auth (JWT, CCG, 401 refresh, short-lived tokens), part boundaries, resume, and logs free of
//! secrets. Assertions are on the emulator's state and counters, not on the client's word.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxlift::box_api::{
    ApiError, AuthConfig, BoxClient, ChunkedOptions, ClientConfig, ErrorKind, Secret, UploadSource,
    UploadTarget,
};
use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use futures::StreamExt;
use sha1::{Digest, Sha1};

const PART: u64 = 8 * 1024 * 1024;

fn dev_config(emu: &EmulatorHandle) -> ClientConfig {
    with_urls(emu, AuthConfig::DeveloperToken(Secret::new("dev-token")))
}

fn with_urls(emu: &EmulatorHandle, auth: AuthConfig) -> ClientConfig {
    let mut c = ClientConfig::new(auth);
    c.api_url = emu.api_url();
    c.upload_url = emu.upload_url();
    c.oauth_url = emu.oauth_url();
    // Same policy shape as production, shorter first waits so CI stays quick.
    c.retry.initial_backoff = Duration::from_millis(100);
    c.retry.max_backoff = Duration::from_secs(5);
    c.retry.parts_mismatch_wait = Duration::from_millis(200);
    c.api_calls_per_minute = 600_000;
    c.uploads_per_minute = 600_000;
    c
}

fn start(cfg: EmulatorConfig) -> EmulatorHandle {
    Emulator::start(cfg).expect("emulator starts")
}

/// Write `size` bytes of seeded pseudo-random data; returns the source with its SHA-1.
fn make_file(dir: &Path, name: &str, size: u64, seed: u64) -> UploadSource {
    let path = dir.join(name);
    let mut f = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut h = Sha1::new();
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut left = size;
    let mut buf = vec![0u8; 1 << 20];
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        f.write_all(&buf[..n]).unwrap();
        h.update(&buf[..n]);
        left -= n as u64;
    }
    f.flush().unwrap();
    drop(f);
    source(&path, hex::encode(h.finalize()))
}

fn source(path: &Path, sha1_hex: String) -> UploadSource {
    let md = std::fs::metadata(path).unwrap();
    UploadSource {
        path: path.to_owned(),
        size: md.len(),
        sha1_hex,
        modified: Some(md.modified().unwrap().into()),
    }
}

fn new_file(parent: &str, name: &str) -> UploadTarget {
    UploadTarget::NewFile {
        parent_id: parent.to_owned(),
        name: name.to_owned(),
    }
}

/// The emulator's tree as path → (kind, sha1, size, versions); panics on a duplicate path
/// (case-insensitive), which is exactly what must never exist.
fn tree(emu: &EmulatorHandle) -> BTreeMap<String, (String, Option<String>, u64, u32)> {
    let mut out = BTreeMap::new();
    let mut seen = HashSet::new();
    for e in emu.state().tree {
        assert!(
            seen.insert(e.path.to_lowercase()),
            "duplicate item in Box: {}",
            e.path
        );
        out.insert(e.path, (e.kind, e.sha1, e.size, e.versions));
    }
    out
}

fn requests(emu: &EmulatorHandle) -> u64 {
    emu.state().counters.total_requests()
}

fn status_count(emu: &EmulatorHandle, status: &str) -> u64 {
    emu.state()
        .counters
        .requests
        .values()
        .filter_map(|m| m.get(status))
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_lands_once_under_5xx_drops_and_a_rate_limit() {
    let emu = start(EmulatorConfig {
        discard: true,
        fail_rate: 0.05,
        drop_rate: 0.02,
        rate_limit: Some(20.0),
        seed: 11,
        ..Default::default()
    });
    let mut cfg = dev_config(&emu);
    // Above the server's 20/s, so the client must find the real limit by itself.
    cfg.api_calls_per_minute = 1800;
    let client = BoxClient::new(cfg).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let root = client.ensure_path("0", "migrated").await.unwrap();

    let small: Vec<(String, UploadSource)> = (0..500)
        .map(|i| {
            (
                format!("d{}", i % 10),
                make_file(
                    dir.path(),
                    &format!("f{i:03}.bin"),
                    100 + (i * 37) % 5000,
                    i,
                ),
            )
        })
        .collect();
    let big: Vec<UploadSource> = [60u64, 90, 120, 150, 200]
        .iter()
        .enumerate()
        .map(|(i, mb)| {
            make_file(
                dir.path(),
                &format!("big{i}.bin"),
                mb * 1_000_000 + i as u64,
                1000 + i as u64,
            )
        })
        .collect();

    let upload_small = |batch: Vec<(String, UploadSource)>| {
        let client = client.clone();
        let root = root.clone();
        async move {
            futures::stream::iter(batch)
                .map(|(d, src)| {
                    let client = client.clone();
                    let root = root.clone();
                    async move {
                        let parent = client.ensure_path(&root, &d).await?;
                        let name = src.path.file_name().unwrap().to_string_lossy().into_owned();
                        client.upload_file(&src, new_file(&parent, &name)).await
                    }
                })
                .buffer_unordered(16)
                .collect::<Vec<Result<_, ApiError>>>()
                .await
        }
    };
    // Phase 1: the chunked files and 100 small ones, while the rate adapts.
    let chunked = futures::stream::iter(big.clone())
        .map(|src| {
            let client = client.clone();
            let root = root.clone();
            async move {
                let name = src.path.file_name().unwrap().to_string_lossy().into_owned();
                client
                    .upload_chunked(&src, new_file(&root, &name), ChunkedOptions::default())
                    .await
            }
        })
        .buffer_unordered(2)
        .collect::<Vec<_>>();
    let (big_results, first) = tokio::join!(chunked, upload_small(small[..100].to_vec()));
    for r in big_results.into_iter().chain(first) {
        r.expect("upload lands despite faults");
    }
    // Phase 2: the rate has adapted; count 429s from here.
    let (req0, limited0) = (requests(&emu), emu.state().counters.rate_limited);
    for r in upload_small(small[100..].to_vec()).await {
        r.expect("upload lands despite faults");
    }
    let (req1, limited1) = (requests(&emu), emu.state().counters.rate_limited);
    let share = (limited1 - limited0) as f64 / (req1 - req0) as f64;
    let stats = client.stats();
    eprintln!(
        "phase 2: {} requests, {} 429s; client stats {stats:?}; rates {:?}",
        req1 - req0,
        limited1 - limited0,
        client.current_rates()
    );
    assert!(
        emu.state().counters.rate_limited > 0,
        "the limit was never hit: the test proves nothing"
    );
    assert!(
        share < 0.02,
        "{:.1}% of requests got 429 after adapting",
        share * 100.0
    );
    assert!(
        stats.server_errors > 0 && stats.transport_errors > 0,
        "faults were injected: {stats:?}"
    );

    let t = tree(&emu);
    for (d, src) in &small {
        let name = src.path.file_name().unwrap().to_string_lossy();
        let (_, sha, size, versions) = &t[&format!("migrated/{d}/{name}")];
        assert_eq!(sha.as_deref(), Some(src.sha1_hex.as_str()));
        assert_eq!((*size, *versions), (src.size, 1));
    }
    for src in &big {
        let name = src.path.file_name().unwrap().to_string_lossy();
        let (_, sha, size, _) = &t[&format!("migrated/{name}")];
        assert_eq!(
            (sha.as_deref(), *size),
            (Some(src.sha1_hex.as_str()), src.size)
        );
    }
    let counters = emu.state().counters;
    assert_eq!(counters.files_created, 505, "no file stored twice");
    assert_eq!(counters.folders_created, 11, "no folder created twice");
    assert_eq!(t.len(), 505 + 11);
}

/// 10 top folders × 9 children = 100 folders.
fn hundred_folder_paths() -> Vec<String> {
    let mut v = Vec::new();
    for a in 0..10 {
        for b in 0..9 {
            v.push(format!("top{a}/sub{b}"));
        }
    }
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_two_tasks_create_each_folder_once() {
    let emu = start(EmulatorConfig {
        discard: true,
        ..Default::default()
    });
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let paths = hundred_folder_paths();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..32 {
        let client = client.clone();
        let mut paths = paths.clone();
        let n = paths.len();
        paths.rotate_left(t * 3 % n);
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for p in paths {
                ids.push((p.clone(), client.ensure_path("0", &p).await.unwrap()));
            }
            ids
        });
    }
    let mut seen: HashMap<String, String> = HashMap::new();
    while let Some(r) = tasks.join_next().await {
        for (p, id) in r.unwrap() {
            assert_eq!(
                seen.entry(p).or_insert_with(|| id.clone()),
                &id,
                "one id per folder"
            );
        }
    }
    let c = emu.state().counters;
    assert_eq!(c.folders_created, 100);
    assert_eq!(
        c.requests
            .get("POST /2.0/folders")
            .and_then(|m| m.get("201"))
            .copied(),
        Some(100)
    );
    assert_eq!(tree(&emu).len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_processes_end_with_each_folder_once_and_every_file() {
    let emu = start(EmulatorConfig {
        folder_race: true,
        seed: 5,
        ..Default::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let paths: Vec<String> = hundred_folder_paths()
        .into_iter()
        .filter(|p| p.starts_with("top0") || p.starts_with("top1"))
        .collect();
    // Four independent clients stand for four boxlift processes: their single-flight caches
    // do not see each other, so Box's own race can produce twins.
    let mut tasks = tokio::task::JoinSet::new();
    let mut expected = Vec::new();
    for k in 0..4 {
        let client = BoxClient::new(dev_config(&emu)).unwrap();
        let src = make_file(dir.path(), &format!("p{k}.txt"), 1000 + k, k);
        for p in &paths {
            expected.push((format!("{p}/p{k}.txt"), src.sha1_hex.clone()));
        }
        let paths = paths.clone();
        tasks.spawn(async move {
            futures::stream::iter(paths)
                .map(|p| {
                    let client = client.clone();
                    let src = src.clone();
                    async move {
                        let id = client.ensure_path("0", &p).await?;
                        client
                            .upload_file(&src, new_file(&id, &format!("p{k}.txt")))
                            .await
                    }
                })
                .buffer_unordered(8)
                .collect::<Vec<_>>()
                .await
        });
    }
    while let Some(r) = tasks.join_next().await {
        for u in r.unwrap() {
            u.unwrap();
        }
    }
    assert!(
        emu.state()
            .counters
            .faults
            .get("folder_race")
            .copied()
            .unwrap_or(0)
            > 0,
        "no race happened"
    );
    let healer = BoxClient::new(dev_config(&emu)).unwrap();
    let healed = healer.heal_tree("0").await.unwrap();
    assert!(healed > 0);
    let t = tree(&emu); // panics on any duplicate path
    for p in &paths {
        assert_eq!(t[p].0, "folder");
    }
    for (p, sha) in &expected {
        assert_eq!(
            t.get(p).and_then(|e| e.1.as_deref()),
            Some(sha.as_str()),
            "{p}"
        );
    }
    assert_eq!(t.len(), 2 + paths.len() + expected.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_replies_and_parts_mismatch_leave_every_file_exactly_once() {
    let emu = start(EmulatorConfig {
        lost_reply_rate: 0.05,
        parts_mismatch: 2,
        commit_202: 1,
        seed: 3,
        ..Default::default()
    });
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut srcs: Vec<UploadSource> = (0..150)
        .map(|i| make_file(dir.path(), &format!("s{i}.bin"), 200 + i * 11, i))
        .collect();
    for i in 0..3u64 {
        srcs.push(make_file(
            dir.path(),
            &format!("c{i}.bin"),
            3 * PART + 1000 * i + 1,
            500 + i,
        ));
    }
    let results: Vec<_> = futures::stream::iter(srcs.clone())
        .map(|src| {
            let client = client.clone();
            async move {
                let name = src.path.file_name().unwrap().to_string_lossy().into_owned();
                let r = if src.size > 20_000_000 {
                    client
                        .upload_chunked(&src, new_file("0", &name), ChunkedOptions::default())
                        .await
                } else {
                    client.upload_file(&src, new_file("0", &name)).await
                };
                (name, r)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    let mut ids = HashMap::new();
    for (name, r) in results {
        ids.insert(name, r.unwrap().file.id.clone());
    }
    // The id each upload reported is the id Box holds under that name.
    let by_path: HashMap<String, String> = emu
        .state()
        .tree
        .into_iter()
        .map(|e| (e.path, e.id))
        .collect();
    for (name, id) in &ids {
        assert_eq!(&by_path[name], id, "{name}");
    }
    // New versions with lost replies: exactly one new version each.
    let versions: Vec<UploadSource> = (0..30)
        .map(|i| make_file(dir.path(), &format!("v{i}.bin"), 300 + i, 9000 + i))
        .collect();
    for (i, v) in versions.iter().enumerate() {
        let id = &ids[&format!("s{i}.bin")];
        let u = client
            .upload_direct(
                v,
                UploadTarget::NewVersion {
                    file_id: id.clone(),
                    if_match: None,
                },
            )
            .await
            .unwrap();
        assert_eq!(&u.file.id, id);
        let now: HashMap<String, (String, Option<String>)> = emu
            .state()
            .tree
            .into_iter()
            .map(|e| (e.id.clone(), (e.path, e.sha1)))
            .collect();
        assert_eq!(
            now[id].1.as_deref(),
            Some(v.sha1_hex.as_str()),
            "v{i} -> {:?} attempts {}",
            now[id],
            u.attempts
        );
    }
    let c = emu.state().counters;
    assert!(
        c.faults.keys().any(|k| k.starts_with("lost_reply")),
        "no reply was lost: {:?}",
        c.faults
    );
    assert!(c.faults.get("parts_mismatch").copied().unwrap_or(0) >= 3);
    assert_eq!(c.files_created, 153);
    assert_eq!(c.versions_created, 30);
    let t = tree(&emu);
    assert_eq!(t.len(), 153);
    for (i, src) in srcs.iter().enumerate() {
        let name = src.path.file_name().unwrap().to_string_lossy().into_owned();
        let (_, sha, size, n) = &t[&name];
        let (want_sha, want_size, want_n) = match versions.get(i) {
            Some(v) if i < 30 => (&v.sha1_hex, v.size, 2),
            _ => (&src.sha1_hex, src.size, 1),
        };
        assert_eq!(
            (sha.as_ref(), *size, *n),
            (Some(want_sha), want_size, want_n),
            "{name}"
        );
    }
}

/// A 2048-bit key, its Box-style config JSON (encrypted PKCS#8 + passphrase) and public PEM.
fn jwt_app(dir: &Path) -> (std::path::PathBuf, String) {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let mut rng = rand::thread_rng();
    let key = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
    let public = key
        .to_public_key()
        .to_public_key_pem(LineEnding::LF)
        .unwrap();
    let encrypted = key
        .to_pkcs8_encrypted_pem(&mut rng, "pass phrase 1", LineEnding::LF)
        .unwrap();
    let json = serde_json::json!({
        "boxAppSettings": {
            "clientID": "jwt-client",
            "clientSecret": "jwt-secret",
            "appAuth": {"publicKeyID": "kid-1", "privateKey": encrypted.as_str(), "passphrase": "pass phrase 1"}
        },
        "enterpriseID": "777"
    });
    let path = dir.join("config.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&json).unwrap()).unwrap();
    (path, public)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jwt_from_a_console_config_file_authenticates() {
    let dir = tempfile::tempdir().unwrap();
    let (config_path, public) = jwt_app(dir.path());
    let emu = start(EmulatorConfig {
        developer_tokens: vec![],
        clients: vec![("jwt-client".into(), "jwt-secret".into())],
        jwt_public_keys: vec![("kid-1".into(), public)],
        ..Default::default()
    });
    let args = boxlift::cli::BoxArgs {
        api_url: emu.api_url(),
        upload_url: emu.upload_url(),
        oauth_url: emu.oauth_url(),
        jwt_config: Some(config_path.clone()),
        ..Default::default()
    };
    let cfg = args.to_client_config().unwrap();
    assert!(
        matches!(&cfg.auth, AuthConfig::Jwt { subject_id, subject_type, .. } if subject_id == "777" && subject_type == "enterprise")
    );
    let client = BoxClient::new(cfg).unwrap();
    let src = make_file(dir.path(), "a.txt", 1234, 1);
    let u = client
        .upload_file(&src, new_file("0", "a.txt"))
        .await
        .unwrap();
    assert_eq!(u.file.sha1.as_deref(), Some(src.sha1_hex.as_str()));
    assert_eq!(
        tree(&emu)["a.txt"].1.as_deref(),
        Some(src.sha1_hex.as_str())
    );

    // A wrong passphrase is a config error naming the file, not a panic or a leaked key.
    let text = std::fs::read_to_string(&config_path)
        .unwrap()
        .replace("\"pass phrase 1\"", "\"wrong\"");
    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, text).unwrap();
    let err = boxlift::cli::BoxArgs {
        jwt_config: Some(bad.clone()),
        ..args
    }
    .to_client_config()
    .unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains("bad.json") && msg.contains("passphrase"),
        "{msg}"
    );
    assert!(!msg.contains("PRIVATE KEY"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ccg_tokens_expiring_every_second_lose_nothing() {
    // Scaled-down version of "tokens expire every 20 s over several minutes" (say so in the
    // report): tokens live 1 s and uploads run for ~10 s. 300 ms of server latency before its
    // auth check, and a random pause before each upload so requests do not move in lockstep,
    // make some requests sent just before the client's early refresh (at 0.9 s) reach the check
    // after the token died (at 1 s): the 401 → refresh → re-send path runs many times. Content
    // is stored (no discard) and checked, so a body re-sent empty after a refresh would show.
    let emu = start(EmulatorConfig {
        token_ttl: Duration::from_secs(1),
        latency_ms: 300,
        ..Default::default()
    });
    let auth = AuthConfig::ClientCredentials {
        client_id: "emu-client".into(),
        client_secret: Secret::new("emu-secret"),
        subject_type: "enterprise".into(),
        subject_id: "1".into(),
    };
    let client = BoxClient::new(with_urls(&emu, auth)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let srcs: Vec<UploadSource> = (0..200)
        .map(|i| make_file(dir.path(), &format!("t{i}.bin"), 50_000 + i * 1000, i))
        .collect();
    let results: Vec<_> = futures::stream::iter(srcs.clone())
        .map(|src| {
            let client = client.clone();
            async move {
                let pause = rand::Rng::gen_range(&mut rand::thread_rng(), 0..200);
                tokio::time::sleep(Duration::from_millis(pause)).await;
                let name = src.path.file_name().unwrap().to_string_lossy().into_owned();
                client.upload_file(&src, new_file("0", &name)).await
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;
    for r in results {
        r.unwrap();
    }
    let stats = client.stats();
    assert!(stats.unauthorized > 0, "the 401 path never ran: {stats:?}");
    assert!(status_count(&emu, "401") > 0);
    let t = tree(&emu);
    for src in &srcs {
        let name = src.path.file_name().unwrap().to_string_lossy().into_owned();
        let (_, sha, size, versions) = &t[&name];
        assert_eq!(
            (sha.as_deref(), *size, *versions),
            (Some(src.sha1_hex.as_str()), src.size, 1),
            "{name}"
        );
    }
    assert_eq!(emu.state().counters.files_created, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_auth_errors() {
    let emu = start(EmulatorConfig::default());
    let bad_ccg = AuthConfig::ClientCredentials {
        client_id: "emu-client".into(),
        client_secret: Secret::new("not-the-secret"),
        subject_type: "enterprise".into(),
        subject_id: "1".into(),
    };
    let e = BoxClient::new(with_urls(&emu, bad_ccg))
        .unwrap()
        .get_folder("0")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains("not-the-secret"));
    let bad_dev = AuthConfig::DeveloperToken(Secret::new("expired-token"));
    let e = BoxClient::new(with_urls(&emu, bad_dev))
        .unwrap()
        .get_folder("0")
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Auth, "{e}");
    assert!(!e.to_string().contains("expired-token"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_boundaries_and_a_sparse_4_gib_file_land_intact() {
    let emu = start(EmulatorConfig {
        discard: true,
        ..Default::default()
    });
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for (i, size) in [3 * PART, 3 * PART + 1, 3 * PART - 1]
        .into_iter()
        .enumerate()
    {
        let src = make_file(dir.path(), &format!("k{i}.bin"), size, 40 + i as u64);
        let u = client
            .upload_chunked(
                &src,
                new_file("0", &format!("k{i}.bin")),
                ChunkedOptions::default(),
            )
            .await
            .unwrap();
        assert_eq!(u.file.size, Some(size));
    }
    // A sparse file of exactly 4 GiB: the last content-range ends at 4294967295.
    let path = dir.path().join("four.bin");
    let f = std::fs::File::create(&path).unwrap();
    f.set_len(4 << 30).unwrap();
    drop(f);
    let mut h = Sha1::new();
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..4096 {
        h.update(&zeros);
    }
    let src = source(&path, hex::encode(h.finalize()));
    let u = client
        .upload_file(&src, new_file("0", "four.bin"))
        .await
        .unwrap();
    assert_eq!(u.file.size, Some(4 << 30));
    let t = tree(&emu);
    assert_eq!(t["four.bin"].1.as_deref(), Some(src.sha1_hex.as_str()));
    assert_eq!(t["four.bin"].2, 4 << 30);
    assert_eq!(t["k1.bin"].2, 3 * PART + 1);
    assert_eq!(t["k2.bin"].2, 3 * PART - 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_chunked_upload_resumes_sending_only_missing_parts() {
    let emu = start(EmulatorConfig::default());
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = make_file(dir.path(), "r.bin", 6 * PART + 12345, 77);
    let target = new_file("0", "r.bin");
    // The "first run": a session and half its parts, then the process dies.
    let session = client
        .create_upload_session(src.size, &target)
        .await
        .unwrap();
    assert_eq!(session.total_parts, 7);
    for i in 0..3 {
        client.upload_part(&session, &src, i).await.unwrap();
    }
    let before = emu.state().counters;
    assert_eq!(before.bytes_received, 3 * session.part_size);
    // The "second run" knows only the journaled session id.
    let told = Arc::new(Mutex::new(Vec::new()));
    let told2 = told.clone();
    let opts = ChunkedOptions {
        resume_session: Some(session.id.clone()),
        on_session: Some(Arc::new(move |s| told2.lock().unwrap().push(s.id.clone()))),
        ..Default::default()
    };
    let u = client.upload_chunked(&src, target, opts).await.unwrap();
    let after = emu.state().counters;
    assert_eq!(
        after.bytes_received - before.bytes_received,
        src.size - 3 * session.part_size
    );
    assert_eq!(after.parts_received, 7);
    assert_eq!(u.bytes_sent, src.size - 3 * session.part_size);
    assert_eq!(*told.lock().unwrap(), vec![session.id.clone()]);
    assert_eq!(
        tree(&emu)["r.bin"].1.as_deref(),
        Some(src.sha1_hex.as_str())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_id_is_reported_before_any_part_is_sent() {
    let emu = start(EmulatorConfig {
        discard: true,
        ..Default::default()
    });
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let src = make_file(dir.path(), "s.bin", 3 * PART, 5);
    let seen = Arc::new(Mutex::new(Vec::<(String, u64)>::new()));
    let (s1, s2) = (seen.clone(), seen.clone());
    let opts = ChunkedOptions {
        part_concurrency: 2,
        on_session: Some(Arc::new(move |s| {
            s1.lock().unwrap().push((format!("session {}", s.id), 0))
        })),
        on_part: Some(Arc::new(move |p| {
            s2.lock().unwrap().push(("part".into(), p.offset))
        })),
        ..Default::default()
    };
    client
        .upload_chunked(&src, new_file("0", "s.bin"), opts)
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    assert!(seen[0].0.starts_with("session "));
    assert_eq!(seen.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicts_versions_copies_and_changed_sources() {
    let emu = start(EmulatorConfig::default());
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let a = make_file(dir.path(), "a.txt", 100, 1);
    let first = client
        .upload_direct(&a, new_file("0", "a.txt"))
        .await
        .unwrap();
    assert!(!first.already_there);
    // Same name, same content: already there, nothing stored.
    let again = client
        .upload_direct(&a, new_file("0", "A.TXT"))
        .await
        .unwrap();
    assert!(again.already_there);
    assert_eq!(again.file.id, first.file.id);
    // Same name, other content: a conflict naming the existing file.
    let b = make_file(dir.path(), "b.txt", 120, 2);
    let e = client
        .upload_direct(&b, new_file("0", "a.txt"))
        .await
        .unwrap_err();
    assert_eq!(
        e.kind,
        ErrorKind::Conflict {
            existing: Some(first.file.id.clone())
        }
    );
    // New version guarded by a stale etag: 412.
    let e = client
        .upload_direct(
            &b,
            UploadTarget::NewVersion {
                file_id: first.file.id.clone(),
                if_match: Some("stale".into()),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Precondition, "{e}");
    let v = client
        .upload_direct(
            &b,
            UploadTarget::NewVersion {
                file_id: first.file.id.clone(),
                if_match: first.file.etag.clone(),
            },
        )
        .await
        .unwrap();
    assert_eq!(v.file.sha1.as_deref(), Some(b.sha1_hex.as_str()));
    // Server-side copy.
    let folder = client.ensure_path("0", "copies").await.unwrap();
    let copy = client
        .copy_file(&first.file.id, &folder, Some("c.txt"))
        .await
        .unwrap();
    assert_eq!(copy.sha1.as_deref(), Some(b.sha1_hex.as_str()));
    // A source changed since the scan is refused, naming the file, before any byte is sent.
    let mut stale = make_file(dir.path(), "d.txt", 50, 3);
    stale.size = 49;
    let sent = emu.state().counters.bytes_received;
    let e = client
        .upload_file(&stale, new_file("0", "d.txt"))
        .await
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::Io);
    assert!(
        e.to_string().contains("d.txt") && e.to_string().contains("changed since scan"),
        "{e}"
    );
    assert_eq!(emu.state().counters.bytes_received, sent);
    // A wrong SHA-1 claim is refused by Box (content-md5), never stored.
    let mut lie = make_file(dir.path(), "e.txt", 50, 4);
    lie.sha1_hex = "0".repeat(40);
    assert!(
        client
            .upload_file(&lie, new_file("0", "e.txt"))
            .await
            .is_err()
    );
    assert!(!tree(&emu).contains_key("e.txt"));
    // Listing pages through everything.
    for i in 0..5 {
        client
            .ensure_folder(&folder, &format!("sub{i}"))
            .await
            .unwrap();
    }
    let items = client
        .list_folder(&folder, &["name", "sha1"])
        .await
        .unwrap();
    assert_eq!(items.len(), 6);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_user_clients_have_their_own_budget_and_send_the_header() {
    // Box's limits are per user, and the emulator's too: 5 calls/s per user here.
    let emu = start(EmulatorConfig {
        rate_limit: Some(5.0),
        ..Default::default()
    });
    let mut cfg = dev_config(&emu);
    cfg.as_users = vec!["11".into(), "12".into(), "13".into()];
    cfg.api_calls_per_minute = 300;
    let client = BoxClient::new(cfg).unwrap();
    let ids = client.identities();
    assert_eq!(
        ids.iter()
            .map(|c| c.acting_as().unwrap())
            .collect::<Vec<_>>(),
        vec!["11", "12", "13"]
    );
    // Three users at 5/s each: 15 calls/s in all. Without the As-User header (or with one
    // shared budget sending at 15/s) the server would answer 429s; with one budget per user
    // paced at each user's limit, none.
    let mut tasks = tokio::task::JoinSet::new();
    for c in ids {
        for _ in 0..5 {
            let c = c.clone();
            tasks.spawn(async move {
                for _ in 0..5 {
                    c.get_folder("0").await.unwrap();
                }
            });
        }
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let c = emu.state().counters;
    assert_eq!(c.requests["GET /2.0/folders/{id}"]["200"], 75);
    assert_eq!(c.rate_limited, 0, "a user's budget was overspent");
}

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
            "client::no_token_or_secret_in_logs_at_trace",
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
    let emu = start(EmulatorConfig {
        developer_tokens: vec![DEV_TOKEN.into()],
        clients: vec![("emu-client".into(), CLIENT_SECRET.into())],
        token_ttl: Duration::from_secs(1),
        fail_rate: 0.1,
        seed: 9,
        ..Default::default()
    });
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let dev = BoxClient::new(with_urls(
            &emu,
            AuthConfig::DeveloperToken(Secret::new(DEV_TOKEN)),
        ))
        .unwrap();
        let ccg = BoxClient::new(with_urls(
            &emu,
            AuthConfig::ClientCredentials {
                client_id: "emu-client".into(),
                client_secret: Secret::new(CLIENT_SECRET),
                subject_type: "enterprise".into(),
                subject_id: "1".into(),
            },
        ))
        .unwrap();
        for (i, c) in [dev, ccg].iter().enumerate() {
            let folder = c.ensure_path("0", &format!("logs{i}/x")).await.unwrap();
            let small = make_file(dir.path(), &format!("l{i}.txt"), 10, i as u64);
            c.upload_file(&small, new_file(&folder, "l.txt"))
                .await
                .unwrap();
            c.upload_file(&small, new_file(&folder, "l.txt"))
                .await
                .unwrap(); // 409 path
            let big = make_file(dir.path(), &format!("L{i}.bin"), 3 * PART, i as u64);
            c.upload_chunked(&big, new_file(&folder, "L.bin"), ChunkedOptions::default())
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(1100)).await; // token refresh
            let _ = c.get_folder("does-not-exist").await.unwrap_err();
            tracing::debug!(client = ?c, config = ?c.config(), "client");
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unrecoverable_chunked_upload_is_aborted_and_stores_nothing() {
    let emu = start(EmulatorConfig {
        discard: true,
        ..Default::default()
    });
    let client = BoxClient::new(dev_config(&emu)).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The file no longer matches the SHA-1 the scan recorded: Box refuses the commit's digest.
    let mut src = make_file(dir.path(), "x.bin", 3 * PART, 8);
    src.sha1_hex = "1".repeat(40);
    let e = client
        .upload_chunked(&src, new_file("0", "x.bin"), ChunkedOptions::default())
        .await
        .unwrap_err();
    assert!(
        !matches!(e.kind, ErrorKind::Transient | ErrorKind::RateLimited),
        "{e}"
    );
    let c = emu.state().counters;
    assert_eq!((c.sessions_created, c.sessions_aborted), (1, 1));
    assert_eq!(c.files_created, 0);
    assert!(tree(&emu).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_are_bounded_and_only_for_what_may_succeed() {
    let emu = start(EmulatorConfig {
        fail_rate: 1.0,
        ..Default::default()
    });
    let mut cfg = dev_config(&emu);
    cfg.retry.max_attempts = 3;
    cfg.retry.initial_backoff = Duration::from_millis(10);
    let client = BoxClient::new(cfg).unwrap();
    // Every attempt fails with a 5xx: three attempts, then a Transient error.
    let e = client.get_folder("0").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::Transient, "{e}");
    assert!(e.to_string().contains("gave up after 3 attempts"), "{e}");
    assert_eq!(requests(&emu), 3);
    assert_eq!(client.stats().retries, 2);
    // A 404 is an answer, not a failure to retry: one request.
    emu.set_switches(|s| s.fail_rate = 0.0);
    let e = client.get_folder("424242").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(e.request_id.is_some());
    assert_eq!(requests(&emu), 4);
}
