//! Chunked upload sessions: layout, received parts, expiry, and the whole-file SHA-1.
//!
//! The whole-file digest is computed as parts arrive, in offset order: a part that arrives
//! ahead of the hashed prefix waits in `pending` until the gap fills. So the commit digest is
//! checked without re-reading the file, and in discard mode no bytes outlive the hashing
//! (pending parts are held only while a gap before them is open: bounded by the client's
//! parallelism, 3-5 parts as Box recommends).
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use sha1::{Digest, Sha1};
// Session expiry on tokio's clock: real time on a normal runtime, and moved by
// `tokio::time::advance` when a test serves the emulator on a paused one.
use tokio::time::Instant;

use super::error::{ApiError, ApiResult};
use crate::box_api::model::UploadPart;

/// What a session creates when committed.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    NewFile { folder: u64, name: String },
    NewVersion { file: u64, name: Option<String> },
}

/// A part's body as the frames it arrived in: hashing walks the frames, so a part is never
/// copied into one contiguous buffer.
pub(crate) type Frames = Arc<Vec<Bytes>>;

/// One received part (bytes kept unless discarding).
#[derive(Debug, Clone)]
pub(crate) struct Part {
    pub part: UploadPart,
    pub bytes: Option<Frames>,
}

/// Whole-file SHA-1 over the contiguous prefix received so far.
#[derive(Debug, Default)]
pub(crate) struct Stream {
    hasher: Sha1,
    upto: u64,
    pending: BTreeMap<u64, (u64, Frames)>,
}

impl Stream {
    /// Add a part at `offset`, hashing every part that is now contiguous.
    pub fn feed(&mut self, offset: u64, len: u64, frames: Frames) {
        self.pending.insert(offset, (len, frames));
        while let Some((len, next)) = self.pending.remove(&self.upto) {
            for frame in next.iter() {
                self.hasher.update(frame);
            }
            self.upto += len;
        }
    }

    /// The SHA-1 of the first `size` bytes, if exactly that much has been hashed.
    pub fn digest_if_complete(&self, size: u64) -> Option<[u8; 20]> {
        (self.upto == size && self.pending.is_empty()).then(|| {
            let mut out = [0u8; 20];
            out.copy_from_slice(&self.hasher.clone().finalize());
            out
        })
    }
}

/// An upload session.
#[derive(Debug)]
pub(crate) struct Session {
    pub id: String,
    pub target: Target,
    pub file_size: u64,
    pub part_size: u64,
    pub total_parts: u64,
    pub expires: Instant,
    pub expires_text: String,
    pub parts: BTreeMap<u64, Part>,
    pub stream: Stream,
    /// 202s still to send before the commit succeeds (set at the first commit).
    pub commit_202_left: Option<u32>,
    /// Transient `parts_mismatch` replies still to send (set at the first correct commit).
    pub mismatch_left: Option<u32>,
}

/// All live sessions, with their expiry beside them so checking it never waits for a session
/// whose lock a part upload holds while hashing.
#[derive(Debug, Default)]
pub(crate) struct Sessions(Mutex<HashMap<String, Live>>);

/// A live session: its expiry and the session.
type Live = (Instant, Arc<Mutex<Session>>);

impl Sessions {
    pub fn insert(&self, s: Session) {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(s.id.clone(), (s.expires, Arc::new(Mutex::new(s))));
    }

    /// A live session, or 404 (unknown, finished or expired, as on Box).
    pub fn get(&self, id: &str) -> ApiResult<Arc<Mutex<Session>>> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (expires, s) = m.get(id).cloned().ok_or_else(ApiError::not_found)?;
        if expires <= Instant::now() {
            m.remove(id);
            return Err(ApiError::not_found());
        }
        Ok(s)
    }

    pub fn remove(&self, id: &str) -> bool {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.remove(id).is_some()
    }
}

/// Lock a session.
pub(crate) fn lock(s: &Mutex<Session>) -> std::sync::MutexGuard<'_, Session> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stream_hashes_out_of_order_parts_in_order() {
        let data: Vec<u8> = (0..100u8).collect();
        let mut s = Stream::default();
        let frames = |r: std::ops::Range<usize>| {
            Arc::new(vec![
                Bytes::copy_from_slice(&data[r.start..r.start + 10]),
                Bytes::copy_from_slice(&data[r.start + 10..r.end]),
            ])
        };
        s.feed(50, 50, frames(50..100));
        assert!(s.digest_if_complete(100).is_none());
        s.feed(0, 50, frames(0..50));
        let want = super::super::rules::sha1_raw(&data);
        assert_eq!(s.digest_if_complete(100), Some(want));
    }
}
