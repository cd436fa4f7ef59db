//! `UploadKind`: direct upload or chunked upload session, and the part size Box will use.
//!
//! Box's size limits and the direct-vs-chunked rule live in [`crate::box_api::limits`] (re-exported
//! here), so the plan and the client share one decision. Box picks the part size; 8 MiB (8,388,608) is
//! what clients usually see, and bigger files get bigger parts (a 1 GB file has been given
//! 32 MiB parts: box/box-java-sdk#909). Box does not publish the rule, so [`part_size_for`]
//! models it as "8 MiB, doubled until the file needs at most 10,000 parts" and callers that know
//! better (the client, after creating a session) use Box's answer instead.

use crate::box_api::limits::uses_session;
pub use crate::box_api::limits::{CHUNKED_MIN, DIRECT_MAX, ThresholdError, check_threshold};

/// The part size Box usually chooses.
pub const DEFAULT_PART_SIZE: u64 = 8 * 1024 * 1024;
/// Parts per session before the model assumes Box doubles the part size.
pub const MAX_PARTS: u64 = 10_000;

/// How one file goes to Box.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UploadKind {
    /// One multipart `POST /files/content`.
    Direct,
    /// An upload session: create, `parts` PUTs, commit.
    Chunked {
        /// Bytes per part (the last part may be shorter).
        part_size: u64,
    },
}

/// The part size Box is expected to choose for a file of `size` bytes (see the module doc).
pub fn part_size_for(size: u64) -> u64 {
    let mut part = DEFAULT_PART_SIZE;
    while size.div_ceil(part) > MAX_PARTS {
        part *= 2;
    }
    part
}

impl UploadKind {
    /// Direct for files up to `threshold` bytes, chunked above it (the client's rule,
    /// [`crate::box_api::limits::uses_session`]).
    pub fn for_size(size: u64, threshold: u64) -> UploadKind {
        if uses_session(size, threshold) {
            UploadKind::Chunked {
                part_size: part_size_for(size),
            }
        } else {
            UploadKind::Direct
        }
    }

    /// An upload session (not one direct upload)?
    pub fn is_chunked(self) -> bool {
        matches!(self, UploadKind::Chunked { .. })
    }

    /// Number of part uploads for a file of `size` bytes (0 for direct uploads).
    pub fn parts(self, size: u64) -> u64 {
        match self {
            UploadKind::Direct => 0,
            UploadKind::Chunked { part_size } => size.div_ceil(part_size),
        }
    }

    /// API calls to upload a file of `size` bytes: 1 direct, or create + parts + commit.
    pub fn api_calls(self, size: u64) -> u64 {
        match self {
            UploadKind::Direct => 1,
            UploadKind::Chunked { .. } => 2 + self.parts(size),
        }
    }

    /// Short name for tables and CSVs.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadKind::Direct => "direct",
            UploadKind::Chunked { .. } => "chunked",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_around_the_cutoff() {
        assert_eq!(UploadKind::for_size(0, DIRECT_MAX), UploadKind::Direct);
        assert_eq!(
            UploadKind::for_size(DIRECT_MAX, DIRECT_MAX),
            UploadKind::Direct
        );
        let k = UploadKind::for_size(DIRECT_MAX + 1, DIRECT_MAX);
        assert_eq!(
            k,
            UploadKind::Chunked {
                part_size: DEFAULT_PART_SIZE
            }
        );
        // 50,000,001 bytes / 8 MiB = 5.96 → 6 parts; + create + commit.
        assert_eq!(k.parts(DIRECT_MAX + 1), 6);
        assert_eq!(k.api_calls(DIRECT_MAX + 1), 8);
        assert_eq!(UploadKind::Direct.api_calls(5), 1);
        // At the lowest threshold, Box's 20,000,000-byte session minimum is the first chunked size.
        assert_eq!(
            UploadKind::for_size(CHUNKED_MIN - 1, CHUNKED_MIN - 1),
            UploadKind::Direct
        );
        assert!(matches!(
            UploadKind::for_size(CHUNKED_MIN, CHUNKED_MIN - 1),
            UploadKind::Chunked { .. }
        ));
    }

    #[test]
    fn huge_files_get_bigger_parts() {
        // 10,000 parts of 8 MiB = 83.9 GB; one byte more doubles the part size.
        let edge = MAX_PARTS * DEFAULT_PART_SIZE;
        assert_eq!(part_size_for(edge), DEFAULT_PART_SIZE);
        assert_eq!(part_size_for(edge + 1), 2 * DEFAULT_PART_SIZE);
        assert_eq!(part_size_for(150_000_000_000), 2 * DEFAULT_PART_SIZE);
    }
}
