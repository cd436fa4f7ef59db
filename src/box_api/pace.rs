//! Pacing: governor token buckets per identity (one for API calls, one for uploads) that every
//! task shares, so requests are spaced to Box's limits *before* they are sent.
//!
//! A permit is taken before every attempt, retries included. On 429 the rate is cut
//! multiplicatively and then recovers additively (AIMD), slower near the rate that was last
//! refused, so a long run settles just under the server's real limit instead of hitting it
//! over and over.
//!
//! Every "now" and every wait is tokio's ([`TokioClock`]), not the wall clock or governor's own
//! clock, so a test under `tokio::time::pause()` drives pacing exactly as it drives retries.
use std::num::NonZeroU32;
use std::ops::Add;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use tokio::time::Instant;

/// A point in tokio's time, as governor wants its instants.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TokioInstant(Instant);

impl Add<Nanos> for TokioInstant {
    type Output = TokioInstant;

    fn add(self, other: Nanos) -> TokioInstant {
        TokioInstant(self.0 + Duration::from(other))
    }
}

impl Reference for TokioInstant {
    fn duration_since(&self, earlier: Self) -> Nanos {
        // Saturating, as governor requires.
        self.0.saturating_duration_since(earlier.0).into()
    }

    fn saturating_sub(&self, duration: Nanos) -> Self {
        TokioInstant(
            self.0
                .checked_sub(Duration::from(duration))
                .unwrap_or(self.0),
        )
    }
}

/// governor's clock on `tokio::time::Instant`. governor's default clock reads the OS clock and
/// its `until_ready` sleeps on a timer thread, neither of which a paused tokio clock controls;
/// [`Adaptive::acquire`] therefore checks the limiter and waits with `tokio::time::sleep`.
#[derive(Debug, Clone, Copy, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    type Instant = TokioInstant;

    fn now(&self) -> TokioInstant {
        TokioInstant(Instant::now())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

/// Which budget a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bucket {
    /// General API calls (Box: about 1000 per minute per user).
    Api,
    /// File uploads (Box: 240 per minute per user). Also draws an API permit.
    Upload,
}

/// How far pacing may go above the configured rates.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum PaceMode {
    /// Never above the configured rate (Box's documented limits by default); 429s slow down.
    #[default]
    Fixed,
    /// Start at the configured rate and, while no 429 comes, raise it up to `cap` times the
    /// configured rate; a 429 cuts it (AIMD). For users with raised limits or servers with
    /// other ones: find the ceiling from the server's replies (`--pace probe`).
    Probe {
        /// Highest rate as a multiple of the configured one (at least 1).
        cap: f64,
    },
}

impl PaceMode {
    /// The default cap of `--pace probe`: 4 times the configured rate.
    pub const DEFAULT_CAP: f64 = 4.0;
}

/// The AIMD arithmetic, separate from the clock and the limiter so it can be unit tested.
#[derive(Debug, Clone)]
pub(crate) struct Aimd {
    /// Configured rate, per minute (the unit of the additive steps, and the floor's base).
    base: f64,
    /// Highest rate, per minute: the configured rate, or `cap ×` it when probing.
    max: f64,
    /// Probing above the configured rate.
    probe: bool,
    /// Current rate, per minute.
    rate: f64,
    /// Rate at which the last 429 came.
    refused_at: Option<f64>,
    last_cut: Option<Instant>,
    last_raise: Instant,
}

impl Aimd {
    const CUT: f64 = 0.7;
    /// Floor: never below 1/20 of the configured rate (and at least 6/min).
    const FLOOR_FRACTION: f64 = 0.05;
    /// One cut per burst of 429s: the requests already in flight all see the old rate.
    const CUT_GAP: Duration = Duration::from_secs(2);
    /// Recovery per second, as a fraction of the configured rate: 1 % far from the last refused
    /// rate, 0.1 % near it.
    const RAISE_FAST: f64 = 0.01;
    const RAISE_SLOW: f64 = 0.001;
    /// Probing: before the first 429 the rate grows 10 % of itself per second (1× to 3× in
    /// about 12 s, like TCP's slow start but gentler); after it, 2 % of the configured rate per
    /// second far from the refused rate and 0.5 % near it.
    const PROBE_START: f64 = 0.10;
    const PROBE_FAST: f64 = 0.02;
    const PROBE_SLOW: f64 = 0.005;
    /// Probing: a 429 means the ceiling was found, not that the server is overloaded; a
    /// gentler cut keeps the rate near it (the 429ed request is retried after Retry-After).
    const PROBE_CUT: f64 = 0.85;

    #[cfg(test)]
    pub(crate) fn new(per_minute: u32, now: Instant) -> Self {
        Self::with_mode(per_minute, PaceMode::Fixed, now)
    }

    pub(crate) fn with_mode(per_minute: u32, mode: PaceMode, now: Instant) -> Self {
        let base = f64::from(per_minute.max(1));
        let (max, probe) = match mode {
            PaceMode::Fixed => (base, false),
            PaceMode::Probe { cap } => (base * cap.max(1.0), true),
        };
        Aimd {
            base,
            max,
            probe,
            rate: base,
            refused_at: None,
            last_cut: None,
            last_raise: now,
        }
    }

    pub(crate) fn rate(&self) -> f64 {
        self.rate
    }

    /// A 429 came back. Returns true when the rate changed.
    pub(crate) fn on_429(&mut self, now: Instant) -> bool {
        if let Some(t) = self.last_cut
            && now.duration_since(t) < Self::CUT_GAP
        {
            return false;
        }
        self.refused_at = Some(self.rate);
        let floor = (self.base * Self::FLOOR_FRACTION).max(6.0).min(self.base);
        let cut = if self.probe {
            Self::PROBE_CUT
        } else {
            Self::CUT
        };
        self.rate = (self.rate * cut).max(floor);
        self.last_cut = Some(now);
        self.last_raise = now;
        true
    }

    /// Time passed without 429: raise the rate a little.
    pub(crate) fn on_ok(&mut self, now: Instant) {
        let dt = now.duration_since(self.last_raise).as_secs_f64();
        if dt < 1.0 || self.rate >= self.max {
            return;
        }
        let near = self.refused_at.is_some_and(|r| self.rate >= 0.9 * r);
        let step = match (self.probe, self.refused_at, near) {
            (true, None, _) => self.rate * Self::PROBE_START,
            (true, Some(_), true) => self.base * Self::PROBE_SLOW,
            (true, Some(_), false) => self.base * Self::PROBE_FAST,
            (false, _, true) => self.base * Self::RAISE_SLOW,
            (false, _, false) => self.base * Self::RAISE_FAST,
        };
        self.rate = (self.rate + step * dt).min(self.max);
        self.last_raise = now;
    }
}

/// One adaptive bucket: the AIMD rate and the governor limiter built for it (rebuilt when
/// the rate moved by 2 % or more; governor quotas are fixed).
#[derive(Debug)]
struct Adaptive {
    state: Mutex<(Aimd, Arc<Limiter>, f64)>,
}

fn limiter(per_minute: f64) -> Arc<Limiter> {
    // Spread the budget evenly: burst of about 1/5 of a second's worth, so a fresh bucket does
    // not fire a minute's worth at once.
    let per_sec = per_minute / 60.0;
    let burst = NonZeroU32::new((per_sec / 5.0).ceil().max(1.0) as u32).unwrap_or(NonZeroU32::MIN);
    let period = Duration::from_secs_f64(60.0 / per_minute.max(0.001));
    let quota = Quota::with_period(period)
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(burst);
    Arc::new(RateLimiter::direct_with_clock(quota, TokioClock))
}

impl Adaptive {
    fn new(per_minute: u32, mode: PaceMode) -> Self {
        let aimd = Aimd::with_mode(per_minute, mode, Instant::now());
        let lim = limiter(aimd.rate());
        let built = aimd.rate();
        Adaptive {
            state: Mutex::new((aimd, lim, built)),
        }
    }

    fn current(&self) -> Arc<Limiter> {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        g.0.on_ok(Instant::now());
        let rate = g.0.rate();
        if (rate - g.2).abs() >= g.2 * 0.02 || (rate >= g.0.max && g.2 < g.0.max) {
            g.1 = limiter(rate);
            g.2 = rate;
        }
        g.1.clone()
    }

    async fn acquire(&self) {
        // A permit counts only if it came from the limiter that is current when it is granted:
        // tasks still queued on a replaced limiter would otherwise run at the old rate beside
        // the new one, and overshoot exactly when Box asked us to slow down.
        let mut lim = self.current();
        loop {
            while let Err(not_until) = lim.check() {
                tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await;
            }
            let now = self.current();
            if Arc::ptr_eq(&now, &lim) {
                return;
            }
            lim = now;
        }
    }

    fn on_429(&self) {
        let mut g = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if g.0.on_429(Instant::now()) {
            tracing::info!(
                rate_per_minute = g.0.rate() as u64,
                "429 from Box: slowing down"
            );
            g.1 = limiter(g.0.rate());
            g.2 = g.0.rate();
        }
    }

    fn rate(&self) -> f64 {
        self.state
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .0
            .rate()
    }
}

/// The budgets of one identity (the service account, or one `As-User`).
#[derive(Debug)]
pub struct Pacer {
    api: Adaptive,
    upload: Adaptive,
}

impl Pacer {
    /// Budgets at the given rates (per minute), never above them.
    pub fn new(api_per_minute: u32, uploads_per_minute: u32) -> Self {
        Self::with_mode(api_per_minute, uploads_per_minute, PaceMode::Fixed)
    }

    /// Budgets starting at the given rates (per minute), free to probe above them in `mode`.
    pub fn with_mode(api_per_minute: u32, uploads_per_minute: u32, mode: PaceMode) -> Self {
        Pacer {
            api: Adaptive::new(api_per_minute, mode),
            upload: Adaptive::new(uploads_per_minute, mode),
        }
    }

    /// Wait for a permit (an upload takes an upload permit and an API permit).
    pub async fn acquire(&self, bucket: Bucket) {
        if bucket == Bucket::Upload {
            self.upload.acquire().await;
        }
        self.api.acquire().await;
    }

    /// Box answered 429 to a request from `bucket`.
    pub fn on_429(&self, bucket: Bucket) {
        match bucket {
            Bucket::Api => self.api.on_429(),
            Bucket::Upload => {
                // We cannot tell which limit was hit; slow both.
                self.upload.on_429();
                self.api.on_429();
            }
        }
    }

    /// Current rates (per minute): (api, upload).
    pub fn rates(&self) -> (f64, f64) {
        (self.api.rate(), self.upload.rate())
    }
}

/// Run `fut` and also return how long its requests waited for pacing permits: a report row's
/// `queued_ms`, time spent neither sending nor waiting on Box. Requests are awaited in the
/// calling task (an upload's parts too), so a task-local sees every attempt, retries included.
/// Concurrent parts' waits add up, so the sum can exceed the wall time: callers cap it.
pub async fn measure_queued<F: std::future::Future>(fut: F) -> (F::Output, Duration) {
    QUEUED
        .scope(std::cell::Cell::new(Duration::ZERO), async move {
            let out = fut.await;
            (out, QUEUED.with(|q| q.get()))
        })
        .await
}

/// Count a wait for a permit toward the [`measure_queued`] running this task, if any.
pub(crate) fn add_queued(waited: Duration) {
    let _ = QUEUED.try_with(|q| q.set(q.get() + waited));
}

tokio::task_local! {
    /// Time this task's requests waited for pacing permits, while [`measure_queued`] runs it.
    static QUEUED: std::cell::Cell<Duration>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aimd_cuts_once_per_burst_and_recovers_slowly() {
        let t0 = Instant::now();
        let mut a = Aimd::new(1200, t0);
        assert!(a.on_429(t0));
        assert_eq!(a.rate(), 840.0);
        // A burst of 429s from requests already in flight: one cut.
        assert!(!a.on_429(t0 + Duration::from_millis(500)));
        assert_eq!(a.rate(), 840.0);
        // Recovery after 10 s: +1 % of 1200 per second far below the refused rate.
        a.on_ok(t0 + Duration::from_secs(10));
        assert!((a.rate() - 960.0).abs() < 1e-6, "{}", a.rate());
        // Near the refused rate (>= 0.9 * 1200) recovery slows to 0.1 %/s.
        a.on_ok(t0 + Duration::from_secs(20));
        let r = a.rate();
        assert!((r - 1080.0).abs() < 1e-6, "{r}");
        a.on_ok(t0 + Duration::from_secs(30));
        assert!((a.rate() - (r + 12.0)).abs() < 1e-6, "{}", a.rate());
        // Never above the configured rate; never below the floor.
        a.on_ok(t0 + Duration::from_secs(100_000));
        assert_eq!(a.rate(), 1200.0);
        let mut t = t0;
        for _ in 0..100 {
            t += Duration::from_secs(3);
            a.on_429(t);
        }
        assert_eq!(a.rate(), 60.0);
    }

    #[test]
    fn probe_rises_above_the_configured_rate_to_its_cap_and_falls_back_on_429() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut a = Aimd::with_mode(600, PaceMode::Probe { cap: 3.0 }, t0);
        assert_eq!(a.rate(), 600.0, "starts at the configured rate");
        // No 429 yet: +10 % of itself per second.
        a.on_ok(at(1));
        assert!((a.rate() - 660.0).abs() < 1e-6, "{}", a.rate());
        for s in 2..=30 {
            a.on_ok(at(s));
        }
        assert_eq!(a.rate(), 1800.0, "capped at 3x");
        // A 429: multiplicative decrease (x0.85), once per burst.
        assert!(a.on_429(at(31)));
        assert!((a.rate() - 1530.0).abs() < 1e-6, "{}", a.rate());
        assert!(!a.on_429(at(31) + Duration::from_millis(300)));
        // Additive increase: 2 % of the configured rate per second below 0.9 x the refused
        // rate (1620), then 0.5 %.
        a.on_ok(at(36));
        assert!((a.rate() - 1590.0).abs() < 1e-6, "{}", a.rate());
        a.on_ok(at(38));
        assert!((a.rate() - 1614.0).abs() < 1e-6, "{}", a.rate());
        a.on_ok(at(40));
        assert!((a.rate() - 1638.0).abs() < 1e-6, "{}", a.rate());
        a.on_ok(at(50));
        assert!((a.rate() - 1668.0).abs() < 1e-6, "{}", a.rate());
        // Fixed mode, the default, never goes above the configured rate.
        let mut f = Aimd::with_mode(600, PaceMode::Fixed, t0);
        f.on_ok(at(100));
        assert_eq!(f.rate(), 600.0);
    }

    /// A probing pacer, on tokio's paused clock, grants more than the configured rate within
    /// a minute; a fixed one grants the configured rate.
    #[tokio::test(start_paused = true)]
    async fn probing_pacer_grants_more_than_the_configured_rate() {
        async fn granted(mode: PaceMode) -> u32 {
            let p = Pacer::with_mode(600, 6000, mode); // 10 calls/s configured
            let end = Instant::now() + Duration::from_secs(60);
            let mut n = 0;
            while Instant::now() < end {
                p.acquire(Bucket::Api).await;
                n += 1;
            }
            n
        }
        let fixed = tokio::time::timeout(Duration::from_secs(120), granted(PaceMode::Fixed))
            .await
            .unwrap();
        let probe = tokio::time::timeout(
            Duration::from_secs(120),
            granted(PaceMode::Probe { cap: 3.0 }),
        )
        .await
        .unwrap();
        assert!((600..=603).contains(&fixed), "{fixed}");
        // 1x to 3x in about 12 s, then 3x: about 1,600 in the minute.
        assert!(probe > 1400 && probe <= 1800, "{probe}");
    }

    /// Under a paused clock the spacing is exact and costs no real time: pacing waits on
    /// tokio's clock, not on the OS clock or a timer thread.
    #[tokio::test(start_paused = true)]
    async fn acquire_spaces_requests_on_tokios_clock() {
        // Bounded in tokio time: pacing that slept on the OS clock would spin here, not hang.
        tokio::time::timeout(Duration::from_secs(60), acquire_spaces_requests())
            .await
            .expect("pacing must run on tokio's clock");
    }

    async fn acquire_spaces_requests() {
        let p = Pacer::new(600, 600); // 10/s, burst 2
        let real = std::time::Instant::now();
        let t = Instant::now();
        for _ in 0..6 {
            p.acquire(Bucket::Api).await;
        }
        // 2 free, then 4 more at 100 ms each.
        let paced = t.elapsed();
        assert!(
            paced >= Duration::from_millis(400) && paced < Duration::from_millis(410),
            "{paced:?}"
        );
        assert!(
            real.elapsed() < Duration::from_millis(100),
            "{:?}",
            real.elapsed()
        );
        // An upload draws from both budgets: the upload bucket's burst is spent after 2 more.
        let t = Instant::now();
        for _ in 0..3 {
            p.acquire(Bucket::Upload).await;
        }
        assert!(
            t.elapsed() >= Duration::from_millis(100),
            "{:?}",
            t.elapsed()
        );
    }
}
