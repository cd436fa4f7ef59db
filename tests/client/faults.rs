//! Retries under 5xx, dropped connections, lost replies, `parts_mismatch` and a server rate
//! limit: every file lands exactly once, and retries stop where they cannot help.
use super::*;

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
                        upload(&client, &src, new_file(&parent, &name)).await
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
                    upload(&client, &src, new_file("0", &name)).await
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
    // The give-up carries its numbers as fields, not only in the text.
    assert_eq!(e.attempts, Some(3));
    assert!(e.elapsed.is_some_and(|t| t > Duration::ZERO), "{e:?}");
    assert_eq!(requests(&emu), 3);
    assert_eq!(client.stats().retries, 2);
    // A 404 is an answer, not a failure to retry: one request.
    emu.set_switches(|s| s.fail_rate = 0.0);
    let e = client.get_folder("424242").await.unwrap_err();
    assert_eq!(e.kind, ErrorKind::NotFound, "{e}");
    assert!(e.request_id.is_some());
    assert_eq!(requests(&emu), 4);
}
