//! Time left: `max(files left ÷ file rate, bytes left ÷ byte rate)` (issue 12 item 4). Small
//! files are bound by Box's upload pacing (240 uploads a minute per identity), big ones by the
//! bandwidth: a bytes-only estimate said 9 minutes for a run of small files that ended in 25 s.
//! Pure arithmetic on explicit inputs, so the formula is tested without a clock.
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
    fn no_estimate_without_a_rate() {
        assert_eq!(eta(&input(5, 0, 0, 0)), None);
        assert_eq!(eta(&input(5, 10, 3, 0)), None);
        assert_eq!(eta(&input(0, 0, 0, 0)), Some(Duration::ZERO));
    }
}
