//! Upload sessions: part boundaries, a sparse 4 GiB file, resume, the session id reported early,
//! and an unrecoverable upload aborted.
use super::*;

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
    let u = upload(&client, &src, new_file("0", "four.bin"))
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
