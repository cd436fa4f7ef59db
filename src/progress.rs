//! Progress of a migration, fed by `Event`s: an indicatif bar on a TTY, or a one-line status
//! every N seconds otherwise (cron and Kubernetes logs). Upload code never touches this module.
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::log::{LogFormat, STATUS_TARGET};
use crate::model::Event;
use crate::report::summary::human_bytes;

/// How to show progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowProgress {
    /// A bar when stderr is a terminal, status lines otherwise.
    Auto,
    /// Always the bar.
    Bar,
    /// Always periodic status lines.
    Lines,
    /// Nothing.
    None,
}

/// Counters shared between the event consumer and the display thread.
#[derive(Debug, Default)]
pub struct Counters {
    /// Rows known so far (grows while the scan streams).
    pub files_total: AtomicU64,
    /// Rows finished.
    pub files_done: AtomicU64,
    /// Bytes to send, known so far.
    pub bytes_total: AtomicU64,
    /// Bytes sent.
    pub bytes_done: AtomicU64,
    /// Retried requests (`Retried` events).
    pub retries: AtomicU64,
    /// Retries after a 429 answer (`Retried { status: Some(429) }`).
    pub throttled: AtomicU64,
    /// Failed or invalid rows.
    pub failed: AtomicU64,
    /// Set once the scan has produced every row.
    pub scan_done: AtomicBool,
}

/// The progress consumer.
pub struct Progress {
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    bar: Option<ProgressBar>,
}

impl std::fmt::Debug for Progress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Progress")
            .field("counters", &self.counters)
            .finish()
    }
}

impl Progress {
    /// Start showing progress on stderr. Under `--log-format json` the status lines are
    /// tracing events (target [`STATUS_TARGET`]) with one field per counter, so every stderr
    /// line stays JSON.
    pub fn start(mode: ShowProgress, interval: Duration, log_format: LogFormat) -> Self {
        let counters = Arc::new(Counters::default());
        let stop = Arc::new(AtomicBool::new(false));
        let bar_mode = match mode {
            ShowProgress::Auto => std::io::stderr().is_terminal(),
            ShowProgress::Bar => true,
            ShowProgress::Lines | ShowProgress::None => false,
        };
        let (bar, thread) = if mode == ShowProgress::None {
            (None, None)
        } else if bar_mode {
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} ETA {eta} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            let (b, c, s) = (bar.clone(), counters.clone(), stop.clone());
            let started = Instant::now();
            let t = std::thread::spawn(move || {
                while !s.load(Relaxed) {
                    b.set_length(c.bytes_total.load(Relaxed));
                    b.set_position(c.bytes_done.load(Relaxed));
                    b.set_message(files_message(&c, started.elapsed()));
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            (Some(bar), Some(t))
        } else {
            let (c, s) = (counters.clone(), stop.clone());
            let t = std::thread::spawn(move || {
                let started = Instant::now();
                let mut next = started + interval;
                while !s.load(Relaxed) {
                    std::thread::sleep(Duration::from_millis(100).min(interval));
                    if Instant::now() >= next {
                        next += interval;
                        let status = Status::read(&c, started.elapsed());
                        match log_format {
                            LogFormat::Text => eprintln!("boxlift: {status}"),
                            LogFormat::Json => status.emit(),
                        }
                    }
                }
            });
            (None, Some(t))
        };
        Progress {
            counters,
            stop,
            thread,
            bar,
        }
    }

    /// The counters (for tests and the final summary).
    pub fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Count one event.
    pub fn on_event(&self, event: &Event) {
        let c = &self.counters;
        match event {
            Event::Planned { bytes } => {
                c.files_total.fetch_add(1, Relaxed);
                c.bytes_total.fetch_add(*bytes, Relaxed);
            }
            Event::ScanFinished => c.scan_done.store(true, Relaxed),
            Event::BytesSent { bytes } => {
                c.bytes_done.fetch_add(*bytes, Relaxed);
            }
            Event::Retried { status } => {
                c.retries.fetch_add(1, Relaxed);
                if *status == Some(429) {
                    c.throttled.fetch_add(1, Relaxed);
                }
            }
            Event::FileDone(row) => {
                c.files_done.fetch_add(1, Relaxed);
                if row.action().is_failure() {
                    c.failed.fetch_add(1, Relaxed);
                }
            }
            Event::FileStarted { .. } | Event::SessionOpened(_) | Event::FolderResolved { .. } => {}
        }
    }

    /// Stop the display thread and clear the bar.
    pub fn finish(mut self) {
        self.stop_thread();
    }

    fn stop_thread(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.stop_thread();
    }
}

fn retries(c: &Counters) -> (u64, u64) {
    (c.retries.load(Relaxed), c.throttled.load(Relaxed))
}

fn files_message(c: &Counters, elapsed: Duration) -> String {
    let done = c.files_done.load(Relaxed);
    let total = c.files_total.load(Relaxed);
    let plus = if c.scan_done.load(Relaxed) { "" } else { "+" };
    let (r, t) = retries(c);
    let fps = done as f64 / elapsed.as_secs_f64().max(1e-3);
    format!("files {done}/{total}{plus} {fps:.0}/s, retries {r}, 429s {t}")
}

/// One reading of the counters: what a status line or a status event says.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Rows finished.
    pub files_done: u64,
    /// Rows known so far.
    pub files_total: u64,
    /// Bytes sent.
    pub bytes_done: u64,
    /// Bytes to send, known so far.
    pub bytes_total: u64,
    /// Megabytes (10^6) sent per second since the start.
    pub mb_per_s: f64,
    /// Rows finished per second since the start.
    pub files_per_s: f64,
    /// Seconds left at the current rate; `None` while the scan still finds rows.
    pub eta_s: Option<u64>,
    /// Retried requests.
    pub retries: u64,
    /// Answers 429 (rate limited).
    pub throttled: u64,
    /// Failed or invalid rows.
    pub failed: u64,
    /// Whether the scan has produced every row (totals are final).
    pub scan_done: bool,
    /// Seconds since the start.
    pub elapsed_s: u64,
}

impl Status {
    /// Read the counters.
    pub fn read(c: &Counters, elapsed: Duration) -> Status {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let (fd, ft) = (c.files_done.load(Relaxed), c.files_total.load(Relaxed));
        let (bd, bt) = (c.bytes_done.load(Relaxed), c.bytes_total.load(Relaxed));
        let scan_done = c.scan_done.load(Relaxed);
        let fps = fd as f64 / secs;
        let eta = if !scan_done {
            None
        } else if bd > 0 && bt > bd {
            Some((bt - bd) as f64 / (bd as f64 / secs))
        } else if fd > 0 && ft > fd {
            Some((ft - fd) as f64 / fps)
        } else {
            Some(0.0)
        };
        let (retries, throttled) = retries(c);
        Status {
            files_done: fd,
            files_total: ft,
            bytes_done: bd,
            bytes_total: bt,
            mb_per_s: bd as f64 / 1e6 / secs,
            files_per_s: fps,
            eta_s: eta.map(|e| e as u64),
            retries,
            throttled,
            failed: c.failed.load(Relaxed),
            scan_done,
            elapsed_s: elapsed.as_secs(),
        }
    }

    /// Emit as one tracing event (target [`STATUS_TARGET`], message `status`).
    pub fn emit(&self) {
        tracing::info!(
            target: STATUS_TARGET,
            files_done = self.files_done,
            files_total = self.files_total,
            bytes_done = self.bytes_done,
            bytes_total = self.bytes_total,
            bytes_per_s = (self.mb_per_s * 1e6) as u64,
            mb_per_s = (self.mb_per_s * 10.0).round() / 10.0,
            files_per_s = (self.files_per_s * 10.0).round() / 10.0,
            eta_s = self.eta_s,
            retries = self.retries,
            throttled_429 = self.throttled,
            failed = self.failed,
            scan_done = self.scan_done,
            elapsed_s = self.elapsed_s,
            "status"
        );
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plus = if self.scan_done { "" } else { "+" };
        let eta = self
            .eta_s
            .map_or_else(|| "?".to_string(), |s| fmt_duration(Duration::from_secs(s)));
        write!(
            f,
            "{}/{}{plus} files, {}/{}{plus}, {:.1} MB/s, {:.1} files/s, ETA {eta}, {} retries, {} 429s, {} failed",
            self.files_done,
            self.files_total,
            human_bytes(self.bytes_done),
            human_bytes(self.bytes_total),
            self.mb_per_s,
            self.files_per_s,
            self.retries,
            self.throttled,
            self.failed
        )
    }
}

/// The one-line status: files and bytes done of total, MB/s, files/s, ETA, retries and 429s.
pub fn status_line(c: &Counters, elapsed: Duration) -> String {
    Status::read(c, elapsed).to_string()
}

fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Kind;
    use crate::model::{Action, ReportRow};

    #[test]
    fn status_line_counts_events() {
        let p = Progress::start(ShowProgress::None, Duration::from_secs(10), LogFormat::Text);
        p.on_event(&Event::Planned { bytes: 2_000_000 });
        p.on_event(&Event::Planned { bytes: 2_000_000 });
        p.on_event(&Event::BytesSent { bytes: 2_000_000 });
        p.on_event(&Event::Retried { status: Some(429) });
        p.on_event(&Event::Retried { status: Some(503) });
        p.on_event(&Event::FileDone(
            ReportRow::new("a", Kind::File, 2_000_000, "x").with(Action::Uploaded),
        ));
        let line = status_line(p.counters(), Duration::from_secs(2));
        assert!(line.starts_with("1/2+ files, 2.0 MB/4.0 MB+"), "{line}");
        assert!(line.contains("1.0 MB/s"), "{line}");
        assert!(line.contains("ETA ?"), "{line}");
        assert!(line.contains("2 retries, 1 429s"), "{line}");
        p.on_event(&Event::ScanFinished);
        let line = status_line(p.counters(), Duration::from_secs(2));
        assert!(line.contains("ETA 2s"), "{line}");
        p.finish();
    }
}
