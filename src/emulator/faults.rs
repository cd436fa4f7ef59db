//! Behaviour switches (faults, limits) that tests flip at runtime, the seeded RNG that makes
//! injected faults reproducible, and per-token rate limiting (token buckets → 429).
use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// The switches that can change while the emulator runs (`PUT /_emulator/config`,
/// [`super::EmulatorHandle::set_switches`]). JSON field names are the ones below.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Switches {
    /// API calls per second per user (the token's subject, or the As-User) (None: unlimited).
    pub rate_limit: Option<f64>,
    /// Uploads (direct, new version, session creation) per second per user (the token's subject, or the As-User).
    pub upload_rate_limit: Option<f64>,
    /// Probability of a random 500/502/503 before handling.
    pub fail_rate: f64,
    /// Probability of closing the connection without a reply.
    pub drop_rate: f64,
    /// Added latency per request.
    pub latency_ms: u64,
    /// Replies of 202 + Retry-After each session gets before its commit succeeds.
    pub commit_202: u32,
    /// Upload session lifetime in seconds (fractions allowed, for tests).
    pub session_ttl_secs: f64,
    /// Storage quota (403 `storage_limit_exceeded` beyond it).
    pub quota_bytes: Option<u64>,
    /// Largest file (403 `file_size_limit_exceeded` beyond it).
    pub max_file_size: u64,
    /// Probability that a stored upload/part/commit loses its reply (5xx or dropped).
    pub lost_reply_rate: f64,
    /// Transient 400 `parts_mismatch` replies each session gets on a correct commit.
    pub parts_mismatch: u32,
    /// Concurrent creations of the same folder both succeed (Box's race, box-node-sdk#574).
    pub folder_race: bool,
}

impl Default for Switches {
    fn default() -> Self {
        Switches {
            rate_limit: None,
            upload_rate_limit: None,
            fail_rate: 0.0,
            drop_rate: 0.0,
            latency_ms: 0,
            commit_202: 0,
            session_ttl_secs: 7.0 * 24.0 * 3600.0,
            quota_bytes: None,
            max_file_size: 5 * 1024 * 1024 * 1024,
            lost_reply_rate: 0.0,
            parts_mismatch: 0,
            folder_race: false,
        }
    }
}

/// A token bucket: `rate` per second, burst of `max(rate, 1)`.
#[derive(Debug)]
struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Switches + RNG + rate buckets.
#[derive(Debug)]
pub(crate) struct Faults {
    /// How many more folder moves and deletions answer 409 `operation_blocked_temporary`
    /// (`PUT /_emulator/operation_blocked`). A count, beside [`Switches`] (which stay `Copy`).
    blocked: AtomicU32,
    switches: RwLock<Switches>,
    rng: Mutex<StdRng>,
    api: Mutex<HashMap<String, Bucket>>,
    upload: Mutex<HashMap<String, Bucket>>,
    /// `As-User` ids whose writes are refused from now on (`PUT /_emulator/refuse_writes`), as
    /// if their collaboration on the tree had been lowered to Viewer mid-run. A set, so it sits
    /// beside [`Switches`] (which stays `Copy`).
    refused_writes: RwLock<std::collections::HashSet<String>>,
}

/// What the fault dice said for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Roll {
    Pass,
    Fail(u16),
    Drop,
}

impl Faults {
    pub fn new(switches: Switches, seed: u64) -> Faults {
        Faults {
            blocked: AtomicU32::new(0),
            switches: RwLock::new(switches),
            rng: Mutex::new(StdRng::seed_from_u64(seed)),
            api: Mutex::new(HashMap::new()),
            upload: Mutex::new(HashMap::new()),
            refused_writes: RwLock::new(Default::default()),
        }
    }

    /// Refuse the writes of exactly these `As-User` ids from now on (an empty list lifts it).
    pub fn refuse_writes(&self, users: impl IntoIterator<Item = String>) {
        *self
            .refused_writes
            .write()
            .unwrap_or_else(|p| p.into_inner()) = users.into_iter().collect();
    }

    /// Are `user`'s writes refused?
    pub fn writes_refused(&self, user: &str) -> bool {
        self.refused_writes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .contains(user)
    }

    /// The current switches.
    pub fn switches(&self) -> Switches {
        *self.switches.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Change the switches.
    pub fn update(&self, f: impl FnOnce(&mut Switches)) -> Switches {
        let mut s = self.switches.write().unwrap_or_else(|p| p.into_inner());
        f(&mut s);
        *s
    }

    fn chance(&self, p: f64) -> bool {
        if p <= 0.0 {
            return false;
        }
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gen_bool(p.min(1.0))
    }

    fn pick(&self, n: usize) -> usize {
        self.rng
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .gen_range(0..n)
    }

    /// The next `times` folder moves and deletions are blocked (0 lifts it).
    pub fn block_operations(&self, times: u32) {
        self.blocked.store(times, Ordering::SeqCst);
    }

    /// Take one blocked answer, if any are left: true means answer 409
    /// `operation_blocked_temporary`.
    pub fn take_blocked(&self) -> bool {
        self.blocked
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
    }

    /// Roll for a fault before handling (fail first, then drop).
    pub fn before(&self, s: &Switches) -> Roll {
        if self.chance(s.fail_rate) {
            return Roll::Fail([500, 502, 503][self.pick(3)]);
        }
        if self.chance(s.drop_rate) {
            return Roll::Drop;
        }
        Roll::Pass
    }

    /// Roll for a lost reply after something was stored.
    pub fn lost_reply(&self, s: &Switches) -> Roll {
        if !self.chance(s.lost_reply_rate) {
            return Roll::Pass;
        }
        if self.pick(2) == 0 {
            Roll::Fail([500, 502, 503][self.pick(3)])
        } else {
            Roll::Drop
        }
    }

    /// A random id of `n` uppercase hex chars (session ids, tokens), from the seeded RNG.
    pub fn hex_id(&self, n: usize) -> String {
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        (0..n)
            .map(|_| char::from_digit(rng.gen_range(0..16), 16).unwrap_or('0'))
            .collect::<String>()
            .to_uppercase()
    }

    /// Take one API call from `user`'s bucket; `Err(retry_after_secs)` when empty.
    pub fn take_api(&self, user: &str, rate: Option<f64>) -> Result<(), u64> {
        take(&self.api, user, rate)
    }

    /// Take one upload from `user`'s upload bucket.
    pub fn take_upload(&self, user: &str, rate: Option<f64>) -> Result<(), u64> {
        take(&self.upload, user, rate)
    }
}

fn take(
    buckets: &Mutex<HashMap<String, Bucket>>,
    token: &str,
    rate: Option<f64>,
) -> Result<(), u64> {
    let Some(rate) = rate.filter(|r| *r > 0.0) else {
        return Ok(());
    };
    let burst = rate.max(1.0);
    let now = Instant::now();
    let mut map = buckets.lock().unwrap_or_else(|p| p.into_inner());
    let bucket = match map.get_mut(token) {
        Some(b) => b,
        None => map.entry(token.to_string()).or_insert(Bucket {
            tokens: burst,
            last: now,
        }),
    };
    let elapsed = now.duration_since(bucket.last).as_secs_f64();
    bucket.tokens = (bucket.tokens + elapsed * rate).min(burst);
    bucket.last = now;
    if bucket.tokens >= 1.0 {
        bucket.tokens -= 1.0;
        Ok(())
    } else {
        // Whole seconds, at least 1, as Box's Retry-After.
        let wait = ((1.0 - bucket.tokens) / rate).ceil() as u64;
        Err(wait.max(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_burst_then_429s() {
        let buckets = Mutex::new(HashMap::new());
        for _ in 0..5 {
            assert!(take(&buckets, "t", Some(5.0)).is_ok());
        }
        assert_eq!(take(&buckets, "t", Some(5.0)), Err(1));
        assert!(take(&buckets, "other", Some(5.0)).is_ok());
        assert!(take(&buckets, "t", None).is_ok());
    }

    #[test]
    fn same_seed_same_faults() {
        let s = Switches {
            fail_rate: 0.3,
            drop_rate: 0.3,
            ..Switches::default()
        };
        let a = Faults::new(s, 7);
        let b = Faults::new(s, 7);
        let ra: Vec<_> = (0..50).map(|_| a.before(&s)).collect();
        let rb: Vec<_> = (0..50).map(|_| b.before(&s)).collect();
        assert_eq!(ra, rb);
        assert!(ra.contains(&Roll::Drop) && ra.iter().any(|r| matches!(r, Roll::Fail(_))));
    }
}
