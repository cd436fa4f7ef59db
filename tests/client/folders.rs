//! Folder creation under concurrency: many tasks, and several processes racing on one tree.
use super::*;

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
                        upload(&client, &src, new_file(&id, &format!("p{k}.txt"))).await
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
