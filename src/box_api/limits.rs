//! Box's size rules for uploads, in one place: the planner (audit, migrate) and the client decide
//! direct vs chunked with [`uses_session`], so they cannot disagree at the threshold.
//!
//! Box facts (box-api.md): direct uploads take files up to 50 MB; upload sessions need at least
//! 20,000,000 bytes and are required above 50 MB. A threshold in
//! `[CHUNKED_MIN - 1, DIRECT_MAX]` therefore keeps both sides of the cut valid.

/// Box's direct-upload limit (50 MB), and so the default cut-off between the two kinds.
pub const DIRECT_MAX: u64 = 50_000_000;
/// The smallest file an upload session accepts (`file_size_too_small` below this).
pub const CHUNKED_MIN: u64 = 20_000_000;

/// A chunked threshold that Box cannot honour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThresholdError {
    /// Files just above it would be too small for an upload session.
    #[error(
        "chunked threshold {0} is too small: upload sessions need files of at least {CHUNKED_MIN} bytes"
    )]
    TooSmall(u64),
    /// Files just below it would be too big for a direct upload.
    #[error(
        "chunked threshold {0} is too big: Box takes direct uploads only up to {DIRECT_MAX} bytes"
    )]
    TooBig(u64),
}

/// Check a `--chunked-threshold`: files above it go chunked, so it must lie in
/// `[CHUNKED_MIN - 1, DIRECT_MAX]`.
pub fn check_threshold(threshold: u64) -> Result<u64, ThresholdError> {
    if threshold < CHUNKED_MIN - 1 {
        Err(ThresholdError::TooSmall(threshold))
    } else if threshold > DIRECT_MAX {
        Err(ThresholdError::TooBig(threshold))
    } else {
        Ok(threshold)
    }
}

/// The one decision: a file of `size` bytes goes through an upload session when it is larger
/// than `threshold` (a [`check_threshold`]ed value), and is a direct upload up to it.
pub fn uses_session(size: u64, threshold: u64) -> bool {
    size > threshold
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cut_is_just_above_the_threshold() {
        // (size, threshold, goes chunked)
        let table = [
            (0, DIRECT_MAX, false),
            (DIRECT_MAX - 1, DIRECT_MAX, false),
            // Exactly at the threshold: direct (Box takes 50,000,000-byte direct uploads).
            (DIRECT_MAX, DIRECT_MAX, false),
            (DIRECT_MAX + 1, DIRECT_MAX, true),
            // The lowest threshold Box allows: the smallest session file is exactly Box's
            // 20,000,000-byte minimum, and one byte less is direct.
            (CHUNKED_MIN - 2, CHUNKED_MIN - 1, false),
            (CHUNKED_MIN - 1, CHUNKED_MIN - 1, false),
            (CHUNKED_MIN, CHUNKED_MIN - 1, true),
            (CHUNKED_MIN, CHUNKED_MIN, false),
            (CHUNKED_MIN + 1, CHUNKED_MIN, true),
        ];
        for (size, threshold, chunked) in table {
            assert_eq!(
                uses_session(size, threshold),
                chunked,
                "size {size}, threshold {threshold}"
            );
        }
    }

    #[test]
    fn thresholds_box_cannot_honour_are_refused() {
        assert_eq!(check_threshold(CHUNKED_MIN - 1), Ok(CHUNKED_MIN - 1));
        assert_eq!(check_threshold(DIRECT_MAX), Ok(DIRECT_MAX));
        // One below: files of CHUNKED_MIN - 1 bytes would need a session Box refuses.
        assert_eq!(
            check_threshold(CHUNKED_MIN - 2),
            Err(ThresholdError::TooSmall(CHUNKED_MIN - 2))
        );
        assert_eq!(
            check_threshold(DIRECT_MAX + 1),
            Err(ThresholdError::TooBig(DIRECT_MAX + 1))
        );
    }
}
