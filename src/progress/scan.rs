//! `scan`'s progress: a spinner on a terminal fed from the scan's counters ([`scan::Progress`]):
//! entries walked, files hashed, the hashing rate and its ETA. When stderr is not a terminal
//! (the finish Job runs scan over a whole share) the same words as a status line every N
//! seconds, in the log file too; under `--log-format json`, a status event.
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::log::LogFormat;
use crate::plan::units::{human_bytes, human_duration};
use crate::scan;

/// The spinner's thread, stopped by [`ScanSpinner::finish`] (or on drop).
#[derive(Debug)]
pub struct ScanSpinner {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl ScanSpinner {
    /// Show the spinner while the scan counts into `p` if stderr is a terminal, or a status
    /// line every `interval` otherwise.
    pub fn start(p: Arc<scan::Progress>, format: LogFormat, interval: Duration) -> ScanSpinner {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = if std::io::stderr().is_terminal() {
            spawn(p, stop.clone())
        } else {
            lines(p, stop.clone(), format, interval)
        };
        ScanSpinner {
            stop,
            thread: Some(thread),
        }
    }

    /// Stop and clear the spinner.
    pub fn finish(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for ScanSpinner {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

fn spawn(p: Arc<scan::Progress>, stop: Arc<AtomicBool>) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let bar = indicatif::ProgressBar::new_spinner();
        // Log lines (a file that cannot be read) suspend the spinner instead of breaking it.
        crate::log::set_bar(Some(bar.clone()));
        let start = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            bar.set_message(message(&p, start.elapsed()));
            bar.tick();
            std::thread::sleep(Duration::from_millis(200));
        }
        crate::log::set_bar(None);
        bar.finish_and_clear();
    })
}

/// A status line every `interval` until stopped.
fn lines(
    p: Arc<scan::Progress>,
    stop: Arc<AtomicBool>,
    format: LogFormat,
    interval: Duration,
) -> JoinHandle<()> {
    std::thread::spawn(move || {
        let start = Instant::now();
        let mut next = start + interval;
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(Duration::from_millis(100).min(interval));
            if Instant::now() < next {
                continue;
            }
            next += interval;
            let line = message(&p, start.elapsed());
            match format {
                LogFormat::Text => crate::log::text_line(false, &line),
                LogFormat::Json => tracing::info!(
                    target: crate::log::STATUS_TARGET,
                    walked = p.walked.load(Ordering::Relaxed),
                    walked_bytes = p.walked_bytes.load(Ordering::Relaxed),
                    hashed = p.hashed.load(Ordering::Relaxed),
                    hashed_bytes = p.hashed_bytes.load(Ordering::Relaxed),
                    elapsed_s = start.elapsed().as_secs(),
                    "scan status"
                ),
            }
        }
    })
}

/// `walked N entries (B) · hashed N files (B) · B/s · hashing ETA T`.
fn message(p: &scan::Progress, elapsed: Duration) -> String {
    let walked = p.walked.load(Ordering::Relaxed);
    let hashed = p.hashed_bytes.load(Ordering::Relaxed);
    let queued = p.queued_bytes.load(Ordering::Relaxed);
    let rate = hashed as f64 / elapsed.as_secs_f64().max(0.001);
    let eta = if rate > 0.0 {
        human_duration(queued.saturating_sub(hashed) as f64 / rate)
    } else {
        "?".into()
    };
    format!(
        "walked {walked} entries ({}) · hashed {} files ({}) · {}/s · hashing ETA {eta}",
        human_bytes(p.walked_bytes.load(Ordering::Relaxed)),
        p.hashed.load(Ordering::Relaxed),
        human_bytes(hashed),
        human_bytes(rate as u64),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_shows_counts_rate_and_eta() {
        let p = scan::Progress::default();
        p.walked.store(12, Ordering::Relaxed);
        p.hashed.store(3, Ordering::Relaxed);
        p.hashed_bytes.store(2_000_000, Ordering::Relaxed);
        p.queued_bytes.store(6_000_000, Ordering::Relaxed);
        let m = message(&p, Duration::from_secs(2));
        assert!(m.starts_with("walked 12 entries"), "{m}");
        assert!(m.contains("hashed 3 files"), "{m}");
        // 4 MB left at 1 MB/s.
        assert!(m.ends_with("hashing ETA 4s"), "{m}");
    }
}
