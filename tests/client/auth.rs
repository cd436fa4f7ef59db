//! Credentials (JWT from a console config, CCG with short-lived tokens, refused credentials) and
//! `As-User` identities with their own rate budgets.
use super::*;

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
    let u = upload(&client, &src, new_file("0", "a.txt")).await.unwrap();
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
                upload(&client, &src, new_file("0", &name)).await
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
