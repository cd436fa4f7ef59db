//! Live counters behind `/_emulator/state`: atomics for totals, one small mutex for the
//! per-route table (held for a map update, never across I/O).
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use super::inspect::Counters;

/// Every counter the emulator keeps.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    requests: Mutex<BTreeMap<String, BTreeMap<u16, u64>>>,
    faults: Mutex<BTreeMap<&'static str, u64>>,
    versions: Mutex<BTreeMap<String, BTreeMap<String, u64>>>,
    pub rate_limited: AtomicU64,
    pub bytes_received: AtomicU64,
    pub folders_created: AtomicU64,
    pub files_created: AtomicU64,
    pub versions_created: AtomicU64,
    pub uploads: AtomicU64,
    pub parts_received: AtomicU64,
    pub sessions_created: AtomicU64,
    pub sessions_committed: AtomicU64,
    pub sessions_aborted: AtomicU64,
    pub tls_handshakes: AtomicU64,
    pub tls_handshakes_failed: AtomicU64,
}

/// Add one to a counter.
pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Relaxed);
}

impl Tally {
    /// Count a reply on a route.
    pub fn request(&self, route: &str, status: u16) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        match map.get_mut(route) {
            Some(by_status) => *by_status.entry(status).or_default() += 1,
            None => {
                map.entry(route.to_string()).or_default().insert(status, 1);
            }
        }
    }

    /// Count a request's HTTP version on its route.
    pub fn version(&self, version: axum::http::Version, route: &str) {
        let mut map = self.versions.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(format!("{version:?}"))
            .or_default()
            .entry(route.to_string())
            .or_default() += 1;
    }

    /// Count an injected fault.
    pub fn fault(&self, kind: &'static str) {
        let mut map = self.faults.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(kind).or_default() += 1;
    }

    /// A serializable copy.
    pub fn snapshot(&self) -> Counters {
        let requests = self
            .requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(route, by)| {
                (
                    route.clone(),
                    by.iter().map(|(s, n)| (s.to_string(), *n)).collect(),
                )
            })
            .collect();
        let faults = self
            .faults
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(k, n)| (k.to_string(), *n))
            .collect();
        let versions = self
            .versions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        Counters {
            requests,
            versions,
            rate_limited: self.rate_limited.load(Relaxed),
            faults,
            bytes_received: self.bytes_received.load(Relaxed),
            folders_created: self.folders_created.load(Relaxed),
            files_created: self.files_created.load(Relaxed),
            versions_created: self.versions_created.load(Relaxed),
            uploads: self.uploads.load(Relaxed),
            parts_received: self.parts_received.load(Relaxed),
            sessions_created: self.sessions_created.load(Relaxed),
            sessions_committed: self.sessions_committed.load(Relaxed),
            sessions_aborted: self.sessions_aborted.load(Relaxed),
            tls_handshakes: self.tls_handshakes.load(Relaxed),
            tls_handshakes_failed: self.tls_handshakes_failed.load(Relaxed),
        }
    }
}
