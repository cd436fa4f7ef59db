//! Time left, modelled the way Box's budget binds a run. Small files are bound by the upload
//! count (uploads a minute × identities), big ones (sent in parts) by the bandwidth and the
//! API calls their parts take: a byte rate measured while small files wait on the upload
//! count says nothing about how fast a big file's parts go (600 small files and 3 of 21–75 MB
//! at 4 uploads/s once showed `ETA 17m42s` with 116 s left). Until rates are measured, the
//! configured limits stand in, so a run has an ETA from its start. [`eta_split`] is the model,
//! fed by an [`EtaClock`]; [`eta`] is the plain measured-rates formula it grew from.
//! Pure arithmetic on explicit inputs and times, so it is tested without a clock.
use std::time::Duration;

/// What is left and how fast it went so far.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EtaInput {
    /// Files not finished yet (directories never count).
    pub files_left: u64,
    /// Bytes not sent yet.
    pub bytes_left: u64,
    /// Files finished so far.
    pub files_done: u64,
    /// Bytes sent so far.
    pub bytes_done: u64,
    /// Time the rates are measured over.
    pub elapsed: Duration,
    /// The most files a second the pacing allows (uploads per minute × identities ÷ 60);
    /// `None` when nothing is paced (a dry run).
    pub max_files_per_s: Option<f64>,
}

/// Files a second from `per_minute` uploads per identity and `identities` (at least one).
pub fn paced_files_per_s(per_minute: u32, identities: usize) -> f64 {
    f64::from(per_minute) * identities.max(1) as f64 / 60.0
}

/// Time left, or `None` when it cannot be told yet: something is left, but no file (or, with
/// bytes left, no byte) has finished to measure a rate by.
pub fn eta(i: &EtaInput) -> Option<Duration> {
    let secs = i.elapsed.as_secs_f64();
    let files = if i.files_left == 0 {
        0.0
    } else {
        if i.files_done == 0 || secs <= 0.0 {
            return None;
        }
        // A burst of quick rows (done by an earlier run, or before the pacer's bucket drains)
        // must not promise more than the pacing lets through.
        let mut rate = i.files_done as f64 / secs;
        if let Some(cap) = i.max_files_per_s.filter(|c| *c > 0.0) {
            rate = rate.min(cap);
        }
        i.files_left as f64 / rate
    };
    let bytes = if i.bytes_left == 0 {
        0.0
    } else {
        if i.bytes_done == 0 || secs <= 0.0 {
            return None;
        }
        i.bytes_left as f64 / (i.bytes_done as f64 / secs)
    };
    Some(Duration::from_secs_f64(files.max(bytes)))
}

/// The limits a run is paced by, the rates the ETA assumes until measured ones exist.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EtaLimits {
    /// Uploads a second all identities may start (uploads per minute × identities ÷ 60);
    /// `None` when nothing is paced (a dry run, verify, audit).
    pub files_per_s: Option<f64>,
    /// API calls a second all identities may make: each part of a chunked upload is one.
    pub calls_per_s: Option<f64>,
    /// `--bwlimit` in bytes a second.
    pub bytes_per_s: Option<f64>,
    /// Bytes in one part of a chunked upload (the part call budget's unit).
    pub part_size: u64,
    /// Files at or above this size go in parts, bound by bandwidth; smaller ones by the
    /// upload count. `u64::MAX`: every file counts as small.
    pub big_from: u64,
}

impl Default for EtaLimits {
    fn default() -> Self {
        EtaLimits {
            files_per_s: None,
            calls_per_s: None,
            bytes_per_s: None,
            part_size: crate::plan::kind::DEFAULT_PART_SIZE,
            big_from: u64::MAX,
        }
    }
}

impl EtaLimits {
    /// The limits of a migration run: its pacing (uploads and API calls per minute, for every
    /// identity) and `--bwlimit`; files above `chunked_threshold` go in parts. A dry run is
    /// not paced.
    pub fn for_run(
        client: &crate::box_api::ClientConfig,
        chunked_threshold: u64,
        dry_run: bool,
    ) -> EtaLimits {
        let identities = client.as_users.len().max(1) as f64;
        let per_s = |per_minute: u32| (!dry_run).then(|| f64::from(per_minute) * identities / 60.0);
        EtaLimits {
            files_per_s: per_s(client.uploads_per_minute),
            calls_per_s: per_s(client.api_calls_per_minute),
            bytes_per_s: client.bwlimit.map(|b| b as f64),
            part_size: crate::plan::kind::DEFAULT_PART_SIZE,
            big_from: chunked_threshold.saturating_add(1),
        }
    }

    /// The byte rate big files are assumed to go at before one is measured: the bandwidth
    /// cap, or the part calls the API budget allows, whichever is lower.
    fn assumed_bytes_per_s(&self) -> Option<f64> {
        let parts = self.calls_per_s.map(|c| c * self.part_size as f64);
        match (self.bytes_per_s, parts) {
            (Some(b), Some(p)) => Some(b.min(p)),
            (b, p) => b.or(p),
        }
        .filter(|r| *r > 0.0)
    }
}

/// Small files finished before their measured rate replaces the paced one.
const MIN_SMALL_SAMPLES: u64 = 10;
/// Seconds of big-file sending before their measured byte rate replaces the assumed one.
const MIN_BIG_SECONDS: f64 = 1.0;

/// When things happened, for the rates: fed every event with the time since the start.
/// Small and big files are timed apart: a byte rate measured while small files wait on the
/// upload count says nothing about how fast a big file's parts go.
#[derive(Debug, Default)]
pub struct EtaClock {
    /// The pacing and bandwidth the run is under.
    pub limits: EtaLimits,
    /// When the first small file started (the small-file rate is measured from there, so a
    /// long scan before the first upload does not slow it down).
    small_since: Option<f64>,
    /// Small files in flight (path) and big ones.
    small_in_flight: std::collections::HashSet<String>,
    big_in_flight: std::collections::HashSet<String>,
    /// Bytes of small files that went through an upload (sent or found), finished.
    pub small_bytes_done: u64,
    /// Small files planned so far, and those of them with nothing to send (done by an earlier
    /// run, invalid, skipped): those pass at the scan's pace, not the upload count's.
    small_planned: u64,
    small_planned_idle: u64,
    /// Small files that went through an upload, finished.
    small_uploaded: u64,
    /// Big files planned (the scan's rows so far) and their bytes.
    pub big_files_planned: u64,
    /// Bytes of the big files planned.
    pub big_bytes_planned: u64,
    /// Big files finished.
    pub big_done: u64,
    /// Seconds with at least one big file in flight, up to `big_active_from`.
    big_active: f64,
    big_active_from: Option<f64>,
    /// Big-file seconds when bytes last arrived while a big file was in flight: the byte rate
    /// is measured up to there, not to now, or a part still on the wire would read as a slow
    /// down (a part of 8 MiB takes 16 s at 0.5 MB/s).
    mark: Option<f64>,
    /// The mark before the last, and the bytes that set the last: a small file's own bytes
    /// arrive just before it finishes, and then the last mark was not a big file's.
    prev_mark: Option<f64>,
    last_sent: u64,
}

impl EtaClock {
    /// A clock for a run under `limits`.
    pub fn new(limits: EtaLimits) -> Self {
        EtaClock {
            limits,
            ..EtaClock::default()
        }
    }

    /// A file's row entered the pipeline with `bytes` to send.
    pub fn planned(&mut self, bytes: u64) {
        if bytes >= self.limits.big_from {
            self.big_files_planned += 1;
            self.big_bytes_planned += bytes;
        } else {
            self.small_planned += 1;
            if bytes == 0 {
                self.small_planned_idle += 1;
            }
        }
    }

    /// A file's upload began at `now` seconds.
    pub fn started(&mut self, path: &str, size: u64, now: f64) {
        if size >= self.limits.big_from {
            if self.big_in_flight.is_empty() {
                self.big_active_from = Some(now);
            }
            self.big_in_flight.insert(path.to_string());
        } else {
            self.small_since.get_or_insert(now);
            self.small_in_flight.insert(path.to_string());
        }
    }

    /// A file's row finished at `now` seconds.
    pub fn finished(&mut self, path: &str, size: u64, now: f64) {
        if self.small_in_flight.remove(path) {
            self.small_uploaded += 1;
            self.small_bytes_done += size;
            if self.last_sent == size && self.mark.is_some() {
                self.mark = self.prev_mark;
                self.last_sent = 0;
            }
        }
        if size >= self.limits.big_from {
            self.big_done += 1;
        }
        if self.big_in_flight.remove(path)
            && self.big_in_flight.is_empty()
            && let Some(from) = self.big_active_from.take()
        {
            self.big_active += (now - from).max(0.0);
        }
    }

    /// Bytes were sent at `now` seconds.
    pub fn sent(&mut self, bytes: u64, now: f64) {
        if !self.big_in_flight.is_empty() {
            self.prev_mark = self.mark;
            self.mark = Some(self.big_seconds(now));
            self.last_sent = bytes;
        }
    }

    fn big_seconds(&self, now: f64) -> f64 {
        self.big_active + self.big_active_from.map_or(0.0, |f| (now - f).max(0.0))
    }
}

/// What is left, split the way the budget binds it.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Left {
    /// Small files not finished.
    pub small_files: u64,
    /// Small files finished.
    pub small_done: u64,
    /// Bytes of big files not sent.
    pub big_bytes: u64,
    /// Bytes of big files sent.
    pub big_bytes_done: u64,
}

/// The small files' upload rate: measured (never above the pacing) once
/// [`MIN_SMALL_SAMPLES`] are done, the pacing until then.
fn small_rate(clock: &EtaClock, measured: Option<f64>, samples: u64) -> Option<f64> {
    let paced = clock.limits.files_per_s.filter(|r| *r > 0.0);
    match (measured, paced) {
        (Some(m), Some(p)) if samples >= MIN_SMALL_SAMPLES => Some(m.min(p)),
        (_, Some(p)) => Some(p),
        (Some(m), None) => Some(m),
        (None, None) => None,
    }
}

/// Seconds the small files left take: those to upload at the upload rate, and those the scan
/// has not reached at the scan's rate (an incremental run skips most rows at the scan's
/// pace). Rows not planned yet are taken to need an upload in the share planned rows did.
fn small_seconds(clock: &EtaClock, left: &Left, now: f64) -> Option<f64> {
    let planned = clock.small_planned;
    let planned_left = planned.saturating_sub(left.small_done);
    let unplanned = left.small_files.saturating_sub(planned_left) as f64;
    let send_share = if planned > 0 {
        1.0 - clock.small_planned_idle as f64 / planned as f64
    } else {
        1.0
    };
    let pending = (planned - clock.small_planned_idle)
        .saturating_sub(clock.small_uploaded)
        .min(planned_left);
    let to_send = pending as f64 + unplanned * send_share;
    let uploads = if to_send > 0.0 {
        // The upload rate from the first upload on; without upload events, the rows' rate.
        let (measured, samples) = match clock.small_since {
            Some(since) if clock.small_uploaded > 0 && now > since => (
                Some(clock.small_uploaded as f64 / (now - since)),
                clock.small_uploaded,
            ),
            _ => (
                (now > 0.0 && left.small_done > 0).then(|| left.small_done as f64 / now),
                left.small_done,
            ),
        };
        to_send / small_rate(clock, measured, samples)?
    } else {
        0.0
    };
    let scan = if planned > 0 && now > 0.0 {
        unplanned / (planned as f64 / now)
    } else {
        0.0
    };
    Some(uploads.max(scan))
}

/// Time left at `now` seconds, or `None` while a rate is neither measured nor configured.
/// Small files go at the measured file rate (never above the pacing), or the pacing until
/// [`MIN_SMALL_SAMPLES`] are done; big files at the byte rate measured while they were in
/// flight, or the bandwidth and part-call budget until then. Both kinds move at once, so
/// the run ends when the slower one does.
pub fn eta_split(clock: &EtaClock, left: &Left, now: f64) -> Option<Duration> {
    let small = if left.small_files == 0 {
        0.0
    } else if clock.small_planned == 0 && clock.small_since.is_none() {
        // Nothing planned or started yet, or a verb without a pipeline (verify, audit): the
        // rows' own rate, or the pacing.
        let measured = (now > 0.0 && left.small_done > 0).then(|| left.small_done as f64 / now);
        left.small_files as f64 / small_rate(clock, measured, left.small_done)?
    } else {
        small_seconds(clock, left, now)?
    };
    let big = if left.big_bytes == 0 {
        0.0
    } else {
        let secs = clock.big_seconds(now);
        let mark = clock.mark.unwrap_or(secs);
        let measured = (mark >= MIN_BIG_SECONDS && left.big_bytes_done > 0)
            .then(|| left.big_bytes_done as f64 / mark);
        match measured {
            // What is left took this long from the mark on; part of that has passed.
            Some(rate) => (left.big_bytes as f64 / rate - (secs - mark)).max(0.0),
            None => left.big_bytes as f64 / clock.limits.assumed_bytes_per_s()?,
        }
    };
    Some(Duration::from_secs_f64(small.max(big)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(files_left: u64, bytes_left: u64, files_done: u64, bytes_done: u64) -> EtaInput {
        EtaInput {
            files_left,
            bytes_left,
            files_done,
            bytes_done,
            elapsed: Duration::from_secs(10),
            max_files_per_s: None,
        }
    }

    #[test]
    fn many_small_files_are_bound_by_the_file_rate() {
        // 100 files and 1 MB in 10 s (10 files/s, 100 kB/s): 900 files left take 90 s,
        // while their 100 kB would take 1 s (the bytes-only estimate).
        let i = input(900, 100_000, 100, 1_000_000);
        assert_eq!(eta(&i), Some(Duration::from_secs(90)));
    }

    #[test]
    fn few_big_files_are_bound_by_the_byte_rate() {
        // 2 files done in 10 s at 10 MB/s; 3 files and 500 MB left: 50 s, not 15 s.
        let i = input(3, 500_000_000, 2, 100_000_000);
        assert_eq!(eta(&i), Some(Duration::from_secs(50)));
    }

    #[test]
    fn the_file_rate_never_beats_the_pacing() {
        // 1,000 rows in 10 s (skipped rows fly by), but 4 uploads a second are allowed:
        // 2,400 files left take 600 s, not 24 s.
        let mut i = input(2_400, 0, 1_000, 0);
        i.max_files_per_s = Some(paced_files_per_s(240, 1));
        assert_eq!(eta(&i), Some(Duration::from_secs(600)));
        // Two identities double the ceiling.
        i.max_files_per_s = Some(paced_files_per_s(240, 2));
        assert_eq!(eta(&i), Some(Duration::from_secs(300)));
        // A rate under the ceiling is the measured one.
        let mut slow = input(20, 0, 10, 0);
        slow.max_files_per_s = Some(4.0);
        assert_eq!(eta(&slow), Some(Duration::from_secs(20)));
    }

    #[test]
    fn rows_done_by_an_earlier_run_go_at_the_scans_pace_not_the_uploads() {
        // A nightly run over 10,000 files: in 10 s the scan planned 1,000, all done before
        // (nothing to send). At 4 uploads/s the 9,000 left would take 2,250 s; the scan
        // takes 90 s.
        let mut clock = EtaClock::new(EtaLimits {
            files_per_s: Some(4.0),
            ..EtaLimits::default()
        });
        for _ in 0..1_000 {
            clock.planned(0);
        }
        let left = Left {
            small_files: 9_000,
            small_done: 1_000,
            ..Left::default()
        };
        assert_eq!(
            eta_split(&clock, &left, 10.0),
            Some(Duration::from_secs(90))
        );
        // One in ten planned rows changed: 900 of the 9,000 to send at 4 a second.
        for i in 0..100 {
            clock.planned(10);
            clock.started(&i.to_string(), 10, 1.0);
        }
        let left = Left {
            small_files: 9_100,
            small_done: 1_000,
            ..Left::default()
        };
        // 100 in flight + 9,000 × 100/1,100 not planned yet, at the pacing: 229 s.
        let eta = eta_split(&clock, &left, 10.0).unwrap().as_secs_f64();
        assert!(
            (eta - (100.0 + 9_000.0 * 100.0 / 1_100.0) / 4.0).abs() < 0.01,
            "{eta}"
        );
    }

    #[test]
    fn no_estimate_without_a_rate() {
        assert_eq!(eta(&input(5, 0, 0, 0)), None);
        assert_eq!(eta(&input(5, 10, 3, 0)), None);
        assert_eq!(eta(&input(0, 0, 0, 0)), Some(Duration::ZERO));
    }
}
