//! Progress of a migration, fed by `Event`s: an indicatif bar on a TTY, or a one-line status
//! every N seconds otherwise (cron and Kubernetes logs). Upload code never touches this module.
//! Counts are of files (directories never count); the ETA is [`eta::eta`]'s. `scan`'s own
//! spinner, fed from the scan's counters, is [`scan::ScanSpinner`].
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::log::{LogFormat, STATUS_TARGET};
use crate::manifest::Kind;
use crate::model::{Action, Event};
use crate::report::summary::human_bytes;

pub mod client;
pub mod eta;
pub mod scan;
#[cfg(test)]
mod sim_tests;
use self::eta::{EtaClock, EtaLimits, Left, eta_split};

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
#[derive(Debug)]
pub struct Counters {
    /// Files known so far (grows while the scan streams; directories never count).
    pub files_total: AtomicU64,
    /// Files finished.
    pub files_done: AtomicU64,
    /// Bytes to send, known so far.
    pub bytes_total: AtomicU64,
    /// Bytes sent.
    pub bytes_done: AtomicU64,
    /// Retried requests (`Retried` events).
    pub retries: AtomicU64,
    /// Retries after a 429 answer (`Retried { status: Some(429) }`).
    pub throttled: AtomicU64,
    /// Rows that failed (`failed` only).
    pub failed: AtomicU64,
    /// Rows Box would refuse (`invalid`).
    pub invalid: AtomicU64,
    /// Rows the scan left out (`skipped`).
    pub skipped: AtomicU64,
    /// Files the previous manifest lists (0 when there is none): the total before the scan ends.
    pub expected_files: AtomicU64,
    /// Bytes of the files the previous manifest lists.
    pub expected_bytes: AtomicU64,
    /// Of the expected files, those big enough to go in parts, and their bytes.
    pub expected_big_files: AtomicU64,
    /// Bytes of the expected big files.
    pub expected_big_bytes: AtomicU64,
    /// The share of the run done, as `f64` bits: it only grows (a bar never goes back).
    pub fraction: AtomicU64,
    /// When the run started: events are timed from here.
    pub started: Instant,
    /// The rates' timing and the small/big split (see [`eta::eta_split`]).
    pub clock: Mutex<EtaClock>,
    /// Set once the scan has produced every row.
    pub scan_done: AtomicBool,
    /// The most files a second the pacing lets through (`None`: not paced), for the ETA.
    pub max_files_per_s: Option<f64>,
}

impl Default for Counters {
    fn default() -> Self {
        Counters {
            files_total: AtomicU64::new(0),
            files_done: AtomicU64::new(0),
            bytes_total: AtomicU64::new(0),
            bytes_done: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            throttled: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            invalid: AtomicU64::new(0),
            skipped: AtomicU64::new(0),
            expected_files: AtomicU64::new(0),
            expected_bytes: AtomicU64::new(0),
            expected_big_files: AtomicU64::new(0),
            expected_big_bytes: AtomicU64::new(0),
            fraction: AtomicU64::new(0),
            started: Instant::now(),
            clock: Mutex::new(EtaClock::default()),
            scan_done: AtomicBool::new(false),
            max_files_per_s: None,
        }
    }
}

impl Counters {
    fn clock(&self) -> std::sync::MutexGuard<'_, EtaClock> {
        self.clock.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The share done so far, `0.0..=1.0`.
    pub fn fraction(&self) -> f64 {
        f64::from_bits(self.fraction.load(Relaxed))
    }
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
    /// `max_files_per_s` caps the file rate the ETA assumes (see [`eta::paced_files_per_s`]).
    pub fn start(
        mode: ShowProgress,
        interval: Duration,
        log_format: LogFormat,
        max_files_per_s: Option<f64>,
    ) -> Self {
        let counters = Arc::new(Counters {
            max_files_per_s,
            clock: Mutex::new(EtaClock::new(EtaLimits {
                files_per_s: max_files_per_s,
                ..EtaLimits::default()
            })),
            ..Counters::default()
        });
        let stop = Arc::new(AtomicBool::new(false));
        let bar_mode = match mode {
            ShowProgress::Auto => std::io::stderr().is_terminal(),
            ShowProgress::Bar => true,
            ShowProgress::Lines | ShowProgress::None => false,
        };
        let (bar, thread) = if mode == ShowProgress::None {
            (None, None)
        } else if bar_mode {
            let bar = ProgressBar::with_draw_target(Some(BAR_STEPS), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {percent:>3}% {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            // Log lines suspend the bar instead of leaving copies of it behind.
            crate::log::set_bar(Some(bar.clone()));
            let (b, c, s) = (bar.clone(), counters.clone(), stop.clone());
            let t = std::thread::spawn(move || {
                let mut next = c.started + interval;
                while !s.load(Relaxed) {
                    let status = Status::read(&c, c.started.elapsed());
                    b.set_position((status.fraction * BAR_STEPS as f64) as u64);
                    b.set_message(files_message(&status));
                    // The bar is not kept anywhere: a text log file gets the status lines.
                    if Instant::now() >= next {
                        next += interval;
                        crate::log::file_lines(false, &status.to_string());
                    }
                    std::thread::sleep(Duration::from_millis(200));
                }
            });
            (Some(bar), Some(t))
        } else {
            let (c, s) = (counters.clone(), stop.clone());
            let t = std::thread::spawn(move || {
                let started = c.started;
                let mut next = started + interval;
                while !s.load(Relaxed) {
                    std::thread::sleep(Duration::from_millis(100).min(interval));
                    if Instant::now() >= next {
                        next += interval;
                        let status = Status::read(&c, started.elapsed());
                        match log_format {
                            LogFormat::Text => crate::log::text_line(false, &status.to_string()),
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

    /// The pacing and bandwidth the ETA assumes until it has measured rates (keeps the file
    /// rate cap given to [`Progress::start`] unless `limits` sets one).
    pub fn set_limits(&self, limits: EtaLimits) {
        let mut clock = self.counters.clock();
        let files_per_s = limits.files_per_s.or(clock.limits.files_per_s);
        clock.limits = EtaLimits {
            files_per_s,
            ..limits
        };
    }

    /// Count one event, timed now.
    pub fn on_event(&self, event: &Event) {
        let now = self.counters.started.elapsed().as_secs_f64();
        self.on_event_at(event, now);
    }

    /// Count one event that happened `now` seconds after the start (tests drive a clock of
    /// their own through this).
    pub fn on_event_at(&self, event: &Event, now: f64) {
        let c = &self.counters;
        match event {
            Event::Planned { bytes, kind } => {
                if *kind != Kind::Dir {
                    c.files_total.fetch_add(1, Relaxed);
                    c.clock().planned(*bytes);
                }
                c.bytes_total.fetch_add(*bytes, Relaxed);
            }
            Event::Expected {
                files,
                bytes,
                big_files,
                big_bytes,
            } => {
                c.expected_files.store(*files, Relaxed);
                c.expected_bytes.store(*bytes, Relaxed);
                c.expected_big_files.store(*big_files, Relaxed);
                c.expected_big_bytes.store(*big_bytes, Relaxed);
            }
            Event::FileStarted { path, size } => c.clock().started(path, *size, now),
            Event::ScanFinished => c.scan_done.store(true, Relaxed),
            Event::BytesSent { bytes } => {
                c.clock().sent(*bytes, now);
                c.bytes_done.fetch_add(*bytes, Relaxed);
            }
            Event::Retried { status } => {
                c.retries.fetch_add(1, Relaxed);
                if *status == Some(429) {
                    c.throttled.fetch_add(1, Relaxed);
                }
            }
            Event::FileDone(row) => {
                if row.kind != Kind::Dir {
                    c.clock().finished(&row.path, row.size, now);
                    c.files_done.fetch_add(1, Relaxed);
                }
                let count = match row.action() {
                    Action::Failed => &c.failed,
                    Action::Invalid => &c.invalid,
                    Action::Skipped => &c.skipped,
                    _ => return,
                };
                count.fetch_add(1, Relaxed);
            }
            Event::SessionOpened(_) | Event::FolderResolved { .. } | Event::SubtreeGone { .. } => {}
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
            crate::log::set_bar(None);
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

/// The bar's resolution: its length, filled by the run's [`Status::fraction`].
const BAR_STEPS: u64 = 1000;

fn files_message(s: &Status) -> String {
    format!(
        "{}/{} · files {}/{} {:.0}/s ETA {}, retries {}, 429s {}",
        human_bytes(s.bytes_done),
        human_bytes(s.bytes_total),
        s.files_done,
        s.total_files(),
        s.files_per_s,
        s.eta(),
        s.retries,
        s.throttled
    )
}

/// One reading of the counters: what a status line or a status event says.
#[derive(Debug, Clone, PartialEq)]
pub struct Status {
    /// Files finished.
    pub files_done: u64,
    /// Files known so far (the scan's, or the previous manifest's count if larger while the
    /// scan runs).
    pub files_total: u64,
    /// Bytes sent.
    pub bytes_done: u64,
    /// Bytes to send, known so far.
    pub bytes_total: u64,
    /// Megabytes (10^6) sent per second since the start.
    pub mb_per_s: f64,
    /// Rows finished per second since the start.
    pub files_per_s: f64,
    /// Seconds left ([`eta::eta`]); `None` until the total is known (the scan has ended, or a
    /// previous manifest gives it) and a rate is measured.
    pub eta_s: Option<u64>,
    /// Retried requests.
    pub retries: u64,
    /// Answers 429 (rate limited).
    pub throttled: u64,
    /// Failed rows.
    pub failed: u64,
    /// Invalid rows (Box would refuse them).
    pub invalid: u64,
    /// Rows the scan skipped.
    pub skipped: u64,
    /// Whether the scan has produced every row (totals are final).
    pub scan_done: bool,
    /// The total comes from the previous manifest (the scan is still running).
    pub estimated: bool,
    /// Seconds since the start.
    pub elapsed_s: u64,
    /// Milliseconds since the start.
    pub elapsed_ms: u64,
    /// The share of the run done, `0.0..=1.0`: time so far over time so far plus the ETA
    /// (files done over files once none is known); it never goes back.
    pub fraction: f64,
}

impl Status {
    /// Read the counters.
    pub fn read(c: &Counters, elapsed: Duration) -> Status {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let (fd, ft) = (c.files_done.load(Relaxed), c.files_total.load(Relaxed));
        let (bd, bt) = (c.bytes_done.load(Relaxed), c.bytes_total.load(Relaxed));
        let scan_done = c.scan_done.load(Relaxed);
        let ef = c.expected_files.load(Relaxed);
        let estimated = !scan_done && ef > 0;
        let (total, left) = Self::left(c, estimated, (fd, ft), bd);
        let eta = (scan_done || estimated)
            .then(|| eta_split(&c.clock(), &left, elapsed.as_secs_f64()))
            .flatten();
        let fraction = Self::fraction(c, eta, elapsed, (fd, total), scan_done || estimated);
        let (retries, throttled) = retries(c);
        Status {
            files_done: fd,
            files_total: total,
            bytes_done: bd,
            bytes_total: bt,
            mb_per_s: bd as f64 / 1e6 / secs,
            files_per_s: fd as f64 / secs,
            eta_s: eta.map(|e| e.as_secs_f64().round() as u64),
            retries,
            throttled,
            failed: c.failed.load(Relaxed),
            invalid: c.invalid.load(Relaxed),
            skipped: c.skipped.load(Relaxed),
            scan_done,
            estimated,
            elapsed_s: elapsed.as_secs(),
            elapsed_ms: elapsed.as_millis() as u64,
            fraction,
        }
    }

    /// The file total, and what is left split into small files and big files' bytes. While
    /// the scan runs, the files it has not reached yet come from the counting pass (or the
    /// previous manifest): [`Event::Expected`].
    fn left(c: &Counters, estimated: bool, (fd, ft): (u64, u64), bd: u64) -> (u64, Left) {
        let clock = c.clock();
        let (big_files, big_bytes) = if estimated {
            (
                clock
                    .big_files_planned
                    .max(c.expected_big_files.load(Relaxed)),
                clock
                    .big_bytes_planned
                    .max(c.expected_big_bytes.load(Relaxed)),
            )
        } else {
            (clock.big_files_planned, clock.big_bytes_planned)
        };
        let total = if estimated {
            ft.max(c.expected_files.load(Relaxed))
        } else {
            ft
        };
        let small_total = total.saturating_sub(big_files);
        let small_done = fd.saturating_sub(clock.big_done).min(small_total);
        let big_bytes_done = bd.saturating_sub(clock.small_bytes_done).min(big_bytes);
        let left = Left {
            small_files: small_total - small_done,
            small_done,
            big_bytes: big_bytes - big_bytes_done,
            big_bytes_done,
        };
        (total, left)
    }

    /// The share done, raised to this reading's if higher (it never goes back).
    fn fraction(
        c: &Counters,
        eta: Option<Duration>,
        elapsed: Duration,
        (fd, total): (u64, u64),
        total_known: bool,
    ) -> f64 {
        let now = match eta {
            _ if total_known && total > 0 && fd >= total => 1.0,
            Some(eta) => {
                let (t, e) = (elapsed.as_secs_f64(), eta.as_secs_f64());
                if t + e > 0.0 { t / (t + e) } else { 0.0 }
            }
            None if total_known && total > 0 => fd as f64 / total as f64,
            None => 0.0,
        };
        // Non-negative floats order as their bits do.
        let before = c.fraction.fetch_max(now.clamp(0.0, 1.0).to_bits(), Relaxed);
        f64::from_bits(before).max(now.clamp(0.0, 1.0))
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
            invalid = self.invalid,
            skipped = self.skipped,
            scan_done = self.scan_done,
            elapsed_s = self.elapsed_s,
            elapsed_ms = self.elapsed_ms,
            percent_done = (self.fraction * 1000.0).round() / 10.0,
            "status"
        );
    }
}

impl Status {
    /// The file total as shown: `1200` when final, `~1200` from the previous manifest,
    /// `1200+` while the scan still finds files.
    pub fn total_files(&self) -> String {
        match (self.scan_done, self.estimated) {
            (true, _) => self.files_total.to_string(),
            (false, true) => format!("~{}", self.files_total),
            (false, false) => format!("{}+", self.files_total),
        }
    }

    /// The ETA as shown: `4m05s`, or `?` while it cannot be told.
    pub fn eta(&self) -> String {
        self.eta_s
            .map_or_else(|| "?".to_string(), |s| fmt_duration(Duration::from_secs(s)))
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let plus = if self.scan_done { "" } else { "+" };
        write!(
            f,
            "{}/{} files, {}/{}{plus}, {:.1} MB/s, {:.1} files/s, ETA {}, {} retries, {} 429s, {} failed, {} invalid, {} skipped, {:.0}% done",
            self.files_done,
            self.total_files(),
            human_bytes(self.bytes_done),
            human_bytes(self.bytes_total),
            self.mb_per_s,
            self.files_per_s,
            self.eta(),
            self.retries,
            self.throttled,
            self.failed,
            self.invalid,
            self.skipped,
            self.fraction * 100.0
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
    use crate::model::ReportRow;

    fn file(path: &str, size: u64, action: Action) -> Event {
        Event::FileDone(ReportRow::new(path, Kind::File, size, "x").with(action))
    }

    /// Counting, no display.
    fn quiet() -> Progress {
        Progress::start(
            ShowProgress::None,
            Duration::from_secs(10),
            LogFormat::Text,
            None,
        )
    }

    fn planned(bytes: u64, kind: Kind) -> Event {
        Event::Planned { bytes, kind }
    }

    #[test]
    fn status_line_counts_events() {
        let p = quiet();
        p.on_event(&planned(2_000_000, Kind::File));
        p.on_event(&planned(2_000_000, Kind::File));
        p.on_event(&Event::BytesSent { bytes: 2_000_000 });
        p.on_event(&Event::Retried { status: Some(429) });
        p.on_event(&Event::Retried { status: Some(503) });
        p.on_event(&file("a", 2_000_000, Action::Uploaded));
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

    #[test]
    fn directories_are_not_files_and_each_outcome_has_its_count() {
        let p = quiet();
        p.on_event(&planned(0, Kind::Dir));
        p.on_event(&Event::FileDone(
            ReportRow::new("d", Kind::Dir, 0, "").with(Action::FolderCreated),
        ));
        for (path, action) in [
            ("a", Action::Uploaded),
            ("b", Action::Failed),
            ("c", Action::Invalid),
            ("e", Action::Skipped),
        ] {
            p.on_event(&planned(0, Kind::File));
            p.on_event(&file(path, 0, action));
        }
        p.on_event(&Event::ScanFinished);
        let s = Status::read(p.counters(), Duration::from_secs(1));
        assert_eq!((s.files_done, s.files_total), (4, 4));
        assert_eq!((s.failed, s.invalid, s.skipped), (1, 1, 1));
        let line = s.to_string();
        assert!(line.contains("1 failed, 1 invalid, 1 skipped"), "{line}");
    }

    #[test]
    fn a_previous_manifest_gives_the_total_before_the_scan_ends() {
        let p = quiet();
        // The previous manifest: 100 files of 1 MB.
        p.on_event(&Event::Expected {
            files: 100,
            bytes: 100_000_000,
            big_files: 0,
            big_bytes: 0,
        });
        for i in 0..10 {
            p.on_event(&planned(1_000_000, Kind::File));
            p.on_event(&Event::BytesSent { bytes: 1_000_000 });
            p.on_event(&file(&i.to_string(), 1_000_000, Action::Uploaded));
        }
        // 10 files and 10 MB in 10 s: 90 files and 90 MB left, 90 s either way.
        let s = Status::read(p.counters(), Duration::from_secs(10));
        assert_eq!(s.total_files(), "~100");
        assert_eq!(s.eta_s, Some(90));
        // Without the manifest the total is unknown, and so is the ETA.
        let q = quiet();
        q.on_event(&planned(1_000_000, Kind::File));
        let s = Status::read(q.counters(), Duration::from_secs(10));
        assert_eq!((s.total_files().as_str(), s.eta_s), ("1+", None));
    }
}
