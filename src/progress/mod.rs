//! Progress of a migration, fed by `Event`s: an indicatif bar on a TTY, or a one-line status
//! every N seconds otherwise (cron and Kubernetes logs). Upload code never touches this module.
//! Counts are of files (directories never count); the ETA is [`eta::eta`]'s.
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::log::{LogFormat, STATUS_TARGET};
use crate::manifest::Kind;
use crate::model::{Action, Event};
use crate::report::summary::human_bytes;

pub mod eta;
use self::eta::{EtaInput, eta};

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
    /// Set once the scan has produced every row.
    pub scan_done: AtomicBool,
    /// The most files a second the pacing lets through (`None`: not paced), for the ETA.
    pub max_files_per_s: Option<f64>,
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
            let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
            bar.set_style(
                ProgressStyle::with_template(
                    "{elapsed_precise} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {msg}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> "),
            );
            // Log lines suspend the bar instead of leaving copies of it behind.
            crate::log::set_bar(Some(bar.clone()));
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
            Event::Planned { bytes, kind } => {
                if *kind != Kind::Dir {
                    c.files_total.fetch_add(1, Relaxed);
                }
                c.bytes_total.fetch_add(*bytes, Relaxed);
            }
            Event::Expected { files, bytes } => {
                c.expected_files.store(*files, Relaxed);
                c.expected_bytes.store(*bytes, Relaxed);
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
                if row.kind != Kind::Dir {
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

fn files_message(c: &Counters, elapsed: Duration) -> String {
    let s = Status::read(c, elapsed);
    format!(
        "files {}/{} {:.0}/s ETA {}, retries {}, 429s {}",
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
}

impl Status {
    /// Read the counters.
    pub fn read(c: &Counters, elapsed: Duration) -> Status {
        let secs = elapsed.as_secs_f64().max(1e-3);
        let (fd, ft) = (c.files_done.load(Relaxed), c.files_total.load(Relaxed));
        let (bd, bt) = (c.bytes_done.load(Relaxed), c.bytes_total.load(Relaxed));
        let scan_done = c.scan_done.load(Relaxed);
        let (ef, eb) = (
            c.expected_files.load(Relaxed),
            c.expected_bytes.load(Relaxed),
        );
        let estimated = !scan_done && ef > 0;
        // While the scan runs, the files it has not reached yet are taken at the previous
        // manifest's average size.
        let unseen = if estimated { ef.saturating_sub(ft) } else { 0 };
        let unseen_bytes = if unseen > 0 {
            (eb as u128 * unseen as u128 / ef as u128) as u64
        } else {
            0
        };
        let total = ft + unseen;
        let eta = (scan_done || estimated)
            .then(|| {
                eta(&EtaInput {
                    files_left: total.saturating_sub(fd),
                    bytes_left: bt.saturating_sub(bd) + unseen_bytes,
                    files_done: fd,
                    bytes_done: bd,
                    elapsed,
                    max_files_per_s: c.max_files_per_s,
                })
            })
            .flatten();
        let (retries, throttled) = retries(c);
        Status {
            files_done: fd,
            files_total: total,
            bytes_done: bd,
            bytes_total: bt,
            mb_per_s: bd as f64 / 1e6 / secs,
            files_per_s: fd as f64 / secs,
            eta_s: eta.map(|e| e.as_secs()),
            retries,
            throttled,
            failed: c.failed.load(Relaxed),
            invalid: c.invalid.load(Relaxed),
            skipped: c.skipped.load(Relaxed),
            scan_done,
            estimated,
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
            invalid = self.invalid,
            skipped = self.skipped,
            scan_done = self.scan_done,
            elapsed_s = self.elapsed_s,
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
            "{}/{} files, {}/{}{plus}, {:.1} MB/s, {:.1} files/s, ETA {}, {} retries, {} 429s, {} failed, {} invalid, {} skipped",
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
            self.skipped
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
