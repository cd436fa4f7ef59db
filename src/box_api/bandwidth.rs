//! `--bwlimit`: one governor token bucket of bytes per second that every upload body draws from
//! (direct uploads and session parts, all identities together), so boxlift leaves the rest of
//! the link to others. Bodies are streamed in pieces of at most [`PIECE`] bytes, and each
//! piece waits for its bytes before it goes out.
//!
//! Time is tokio's ([`TokioClock`]), as for request pacing, so a test under
//! `tokio::time::pause()` measures the throttle exactly, without wall time.
use std::io;
use std::num::NonZeroU32;
use std::sync::Arc;

use bytes::Bytes;
use futures::{Stream, StreamExt};
use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};

use super::pace::{TokioClock, TokioInstant};

/// Largest piece of a body sent on one draw from the bucket.
pub const PIECE: usize = 64 * 1024;

type Limiter = RateLimiter<NotKeyed, InMemoryState, TokioClock, NoOpMiddleware<TokioInstant>>;

/// A shared byte-rate limit.
#[derive(Debug)]
pub struct Bandwidth {
    limiter: Limiter,
    /// The bucket's size: at most this many bytes go out at once after an idle spell.
    burst: u32,
}

impl Bandwidth {
    /// A limit of `bytes_per_sec` (at least 1). The bucket holds a quarter second's worth
    /// (at least one piece), so a pause does not turn into a long burst.
    pub fn new(bytes_per_sec: u64) -> Arc<Bandwidth> {
        let rate = bytes_per_sec.clamp(1, u64::from(u32::MAX)) as u32;
        let burst = (rate / 4).max(PIECE as u32).min(rate.max(1));
        let quota = Quota::per_second(NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN))
            .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Arc::new(Bandwidth {
            limiter: RateLimiter::direct_with_clock(quota, TokioClock),
            burst,
        })
    }

    /// Wait until `n` bytes may go out.
    pub async fn take(&self, mut n: usize) {
        while n > 0 {
            let piece = n.min(self.burst as usize);
            let want = NonZeroU32::new(piece as u32).unwrap_or(NonZeroU32::MIN);
            loop {
                match self.limiter.check_n(want) {
                    Ok(Ok(())) => break,
                    Ok(Err(not_until)) => {
                        tokio::time::sleep(not_until.wait_time_from(TokioClock.now())).await
                    }
                    // `piece` never exceeds the burst; if it did, sending unthrottled beats
                    // never sending.
                    Err(_) => break,
                }
            }
            n -= piece;
        }
    }

    /// `body` re-cut into pieces of at most [`PIECE`] bytes, each sent once the bucket allows.
    pub fn throttle<S>(
        self: Arc<Self>,
        body: S,
    ) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        body.flat_map(|chunk| {
            let pieces: Vec<io::Result<Bytes>> = match chunk {
                Ok(mut b) => {
                    let mut v = Vec::with_capacity(b.len() / PIECE + 1);
                    while !b.is_empty() {
                        v.push(Ok(b.split_to(b.len().min(PIECE))));
                    }
                    v
                }
                Err(e) => vec![Err(e)],
            };
            futures::stream::iter(pieces)
        })
        .then(move |piece| {
            let bw = self.clone();
            async move {
                if let Ok(b) = &piece {
                    bw.take(b.len()).await;
                }
                piece
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::time::Instant;

    #[tokio::test(start_paused = true)]
    async fn bytes_go_out_at_the_rate_after_the_first_burst() {
        let bw = Bandwidth::new(1_000_000);
        let t0 = Instant::now();
        // 10 MB at 1 MB/s: the bucket starts full (250 KB), the rest takes 9.75 s.
        bw.take(10_000_000).await;
        let secs = t0.elapsed().as_secs_f64();
        assert!((9.7..9.8).contains(&secs), "{secs}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_stream_keeps_its_bytes_and_their_order() {
        let bw = Bandwidth::new(500_000);
        let data: Vec<u8> = (0..1_000_000u32).map(|i| i as u8).collect();
        let body = futures::stream::iter(vec![
            Ok(Bytes::copy_from_slice(&data[..300_000])),
            Ok(Bytes::copy_from_slice(&data[300_000..])),
        ]);
        let t0 = Instant::now();
        let out: Vec<Bytes> = bw
            .throttle(body)
            .map(|r| r.unwrap())
            .collect::<Vec<_>>()
            .await;
        assert!(out.iter().all(|b| b.len() <= PIECE));
        assert_eq!(out.concat(), data);
        // 1 MB at 500 KB/s after a 125 KB burst: 1.75 s.
        let secs = t0.elapsed().as_secs_f64();
        assert!((1.7..1.8).contains(&secs), "{secs}");
    }

    #[tokio::test(start_paused = true)]
    async fn two_uploads_share_one_limit() {
        let bw = Bandwidth::new(1_000_000);
        let t0 = Instant::now();
        let (a, b) = (bw.clone(), bw.clone());
        tokio::join!(a.take(2_000_000), b.take(2_000_000));
        let secs = t0.elapsed().as_secs_f64();
        assert!((3.7..3.8).contains(&secs), "{secs}");
    }
}
