//! Criterion kernels for hashing: SHA-1 over an in-memory buffer (the CPU ceiling, comparable
//! with `openssl speed -evp sha1`), and `hash_file` on page-cached files on both of its read
//! paths (buffered read below `MMAP_THRESHOLD`, memory map above).
use std::hint::black_box;
use std::io::Write;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sha1::{Digest, Sha1};

fn kernels(c: &mut Criterion) {
    eprintln!(
        "SHA-1 backend: {}; /proc/cpuinfo sha_ni: {}",
        boxlift::hash::sha1_backend(),
        std::fs::read_to_string("/proc/cpuinfo")
            .map(|s| s.contains(" sha_ni"))
            .unwrap_or(false)
    );
    let mut g = c.benchmark_group("sha1");
    for size in [8 * 1024usize, 1024 * 1024] {
        let buf = vec![0x5au8; size];
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("buffer_{size}"), |b| {
            b.iter(|| black_box(Sha1::digest(black_box(&buf))))
        });
    }
    g.finish();

    let dir = tempfile::tempdir().unwrap();
    let mut g = c.benchmark_group("hash_file");
    for size in [64 * 1024usize, 64 * 1024 * 1024] {
        let p = dir.path().join(format!("f{size}"));
        std::fs::File::create(&p)
            .unwrap()
            .write_all(&vec![0xa5u8; size])
            .unwrap();
        g.throughput(Throughput::Bytes(size as u64));
        g.bench_function(format!("file_{size}"), |b| {
            b.iter(|| black_box(boxlift::hash::hash_file(&p).unwrap()))
        });
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(20).measurement_time(std::time::Duration::from_secs(3));
    targets = kernels
}
criterion_main!(benches);
