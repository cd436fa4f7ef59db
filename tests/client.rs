//! The Box client against the emulator over HTTP: faults, rate limits, races, lost replies,
//! auth (JWT, CCG, 401 refresh, short-lived tokens), part boundaries, resume, and logs free of
//! secrets. Assertions are on the emulator's state and counters, not on the client's word.
use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use boxlift::box_api::limits::DIRECT_MAX;
use boxlift::box_api::{
    ApiError, AuthConfig, BoxClient, ChunkedOptions, ClientConfig, ErrorKind, Secret, UploadSource,
    UploadTarget, Uploaded,
};
use boxlift::emulator::{Emulator, EmulatorConfig, EmulatorHandle};
use boxlift::plan::kind::UploadKind;
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

/// Upload as `migrate` does: direct or chunked as [`UploadKind::for_size`] decides at the
/// default threshold.
async fn upload(
    client: &BoxClient,
    src: &UploadSource,
    target: UploadTarget,
) -> Result<Uploaded, ApiError> {
    match UploadKind::for_size(src.size, DIRECT_MAX) {
        UploadKind::Direct => client.upload_direct(src, target).await,
        UploadKind::Chunked { .. } => {
            client
                .upload_chunked(src, target, ChunkedOptions::default())
                .await
        }
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

mod auth;
mod chunked;
mod collab;
mod faults;
mod files;
mod folders;
mod items;
mod logs;
mod network;
mod paused_time;
mod tokens;
