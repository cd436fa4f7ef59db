//! What a migration of a manifest will cost: API calls, uploads, bytes, and time under Box's
//! rate limits and a bandwidth. Pure arithmetic over rows, so `audit` streams the manifest.
//!
//! Cost model (documented in `boxlift audit --help` and the report), the calls `migrate` makes
//! on a first run with no faults (an estimate that drifts misleads the plan: it stays within 5%
//! of the emulator's request count, `tests/migrate.rs`
//! `audit_estimate_matches_the_requests_a_fresh_migration_makes`):
//! - once per run: 1 call (`GET /folders/{dest}`, the destination check); OAuth token calls are
//!   not counted (a developer token needs none; CCG/JWT make one an hour);
//! - each folder that exists before the run (the destination, and folders the comparison found)
//!   is listed at most twice: once to find the files placed in it, once to find the folders
//!   made in it (`GET /folders/{id}/items`; a page per 1000 entries). Folders the run creates
//!   are known empty and never listed;
//! - each directory not already at the destination: 1 call (`POST /folders`);
//! - each direct upload: 1 call and 1 upload request;
//! - each chunked upload: create session (1 call, 1 upload request) + 1 call per part + 1 commit;
//! - conflicts are counted as uploads (a new version), the costliest policy.
//!
//! Box's limits (box-api.md): about 1000 API calls/min and 240 upload requests/min per user;
//! each `--as-user` identity has its own budget. Time is the largest of the three bounds (calls,
//! uploads, bytes over bandwidth), since the migration runs them concurrently.
use std::collections::{BTreeMap, HashSet};

use super::dest::DestState;
use super::kind::UploadKind;
use crate::manifest::{Kind, ManifestRow};

/// Box's general API limit per user per minute.
pub const API_CALLS_PER_MIN: f64 = 1000.0;
/// Box's upload limit per user per minute.
pub const UPLOADS_PER_MIN: f64 = 240.0;

/// The limits a migration runs under.
#[derive(Debug, Clone, PartialEq)]
pub struct Limits {
    /// API calls per minute per identity.
    pub api_calls_per_min: f64,
    /// Upload requests per minute per identity.
    pub uploads_per_min: f64,
    /// Identities (`--as-user` users; at least 1).
    pub identities: u32,
    /// Bytes per second, if known.
    pub bandwidth: Option<f64>,
    /// The enterprise's monthly API-call allocation, if known.
    pub monthly_api_calls: Option<u64>,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            api_calls_per_min: API_CALLS_PER_MIN,
            uploads_per_min: UPLOADS_PER_MIN,
            identities: 1,
            bandwidth: None,
            monthly_api_calls: None,
        }
    }
}

/// What one row asks of the migration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Create this folder.
    CreateFolder,
    /// Upload this file.
    Upload(UploadKind),
    /// Already at the destination (same folder, or same SHA-1): nothing to do.
    Skip,
    /// Something else has this name at the destination; counted as an upload (new version).
    Conflict(UploadKind, &'static str),
    /// Not migrated (the row's status is a problem).
    NotMigrated,
}

impl Action {
    /// Short name for the audit CSV.
    pub fn as_str(&self) -> &'static str {
        match self {
            Action::CreateFolder => "create_folder",
            Action::Upload(UploadKind::Direct) => "upload_direct",
            Action::Upload(UploadKind::Chunked { .. }) => "upload_chunked",
            Action::Skip => "skip_existing",
            Action::Conflict(..) => "conflict",
            Action::NotMigrated => "not_migrated",
        }
    }
}

/// Running totals over a manifest.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Estimate {
    /// Folders to create.
    pub folders: u64,
    /// Files going up directly, and their bytes.
    pub direct_files: u64,
    /// Bytes in direct uploads.
    pub direct_bytes: u64,
    /// Files going up in sessions.
    pub chunked_files: u64,
    /// Bytes in chunked uploads.
    pub chunked_bytes: u64,
    /// Parts in all sessions.
    pub parts: u64,
    /// Items already at the destination (skipped), and file bytes among them.
    pub existing: u64,
    /// Bytes of the files already at the destination.
    pub existing_bytes: u64,
    /// Items in conflict with the destination (counted in the upload figures too).
    pub conflicts: u64,
    /// Rows not migrated, by status.
    pub problems: BTreeMap<String, u64>,
    /// Bytes of file rows not migrated.
    pub problem_bytes: u64,
    /// Listings of folders that exist before the run (see the module doc).
    pub listings: u64,
    /// Directories (relative paths) found at the destination: listed, not created.
    existing_dirs: HashSet<String>,
    /// Existing folders already counted as listed for files (`.0`) and for folders (`.1`).
    listed: (HashSet<String>, HashSet<String>),
}

/// Calls every run makes once: the destination check (`GET /folders/{dest}`).
pub const RUN_CALLS: u64 = 1;

fn parent_of(path: &str) -> &str {
    path.rfind('/').map_or("", |i| &path[..i])
}

/// Time bounds under [`Limits`], in seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    /// Bound from the API-call limit.
    pub api_secs: f64,
    /// Bound from the upload limit.
    pub upload_secs: f64,
    /// Bound from bandwidth (None when unknown).
    pub transfer_secs: Option<f64>,
}

impl Timing {
    /// The estimate: the largest bound, and which one it is.
    pub fn total(&self) -> (f64, &'static str) {
        let mut best = (self.api_secs, "API calls/min");
        if self.upload_secs > best.0 {
            best = (self.upload_secs, "uploads/min");
        }
        if let Some(t) = self.transfer_secs
            && t > best.0
        {
            best = (t, "bandwidth");
        }
        best
    }
}

impl Estimate {
    /// Account for one row (with its destination state, when a destination was compared) and
    /// say what it needs.
    pub fn add(&mut self, row: &ManifestRow, dest: Option<&DestState>, threshold: u64) -> Action {
        if !row.status.is_ok() {
            *self.problems.entry(row.status.to_string()).or_default() += 1;
            if row.kind == Kind::File {
                self.problem_bytes += row.size;
            }
            return Action::NotMigrated;
        }
        // Rows come parents first (the manifest is sorted by path). A row whose parent existed
        // before the run makes `migrate` list that parent, once for files and once for folders.
        let parent = parent_of(&row.path);
        if parent.is_empty() || self.existing_dirs.contains(parent) {
            let set = match row.kind {
                Kind::File => &mut self.listed.0,
                Kind::Dir => &mut self.listed.1,
            };
            if set.insert(parent.to_string()) {
                self.listings += 1;
            }
        }
        if let Some(DestState::Same) = dest {
            if row.kind == Kind::Dir {
                self.existing_dirs.insert(row.path.clone());
            }
            self.existing += 1;
            if row.kind == Kind::File {
                self.existing_bytes += row.size;
            }
            return Action::Skip;
        }
        let conflict = match dest {
            Some(DestState::Conflict(why)) => {
                self.conflicts += 1;
                Some(*why)
            }
            _ => None,
        };
        if row.kind == Kind::Dir {
            self.folders += 1;
            return match conflict {
                // A file holds the folder's name: it cannot be created as is.
                Some(why) => Action::Conflict(UploadKind::Direct, why),
                None => Action::CreateFolder,
            };
        }
        let kind = UploadKind::for_size(row.size, threshold);
        match kind {
            UploadKind::Direct => {
                self.direct_files += 1;
                self.direct_bytes += row.size;
            }
            UploadKind::Chunked { .. } => {
                self.chunked_files += 1;
                self.chunked_bytes += row.size;
                self.parts += kind.parts(row.size);
            }
        }
        match conflict {
            Some(why) => Action::Conflict(kind, why),
            None => Action::Upload(kind),
        }
    }

    /// Upload requests (direct uploads and session creations).
    pub fn uploads(&self) -> u64 {
        self.direct_files + self.chunked_files
    }

    /// All API calls: the destination check, listings of existing folders, folders, direct
    /// uploads, session creates, parts, commits.
    pub fn api_calls(&self) -> u64 {
        RUN_CALLS
            + self.listings
            + self.folders
            + self.direct_files
            + 2 * self.chunked_files
            + self.parts
    }

    /// Bytes to send.
    pub fn upload_bytes(&self) -> u64 {
        self.direct_bytes + self.chunked_bytes
    }

    /// Share of the monthly API allocation this migration uses (1.0 = all of it).
    pub fn monthly_share(&self, limits: &Limits) -> Option<f64> {
        limits
            .monthly_api_calls
            .filter(|&m| m > 0)
            .map(|m| self.api_calls() as f64 / m as f64)
    }

    /// The fewest `--as-user` identities that finish within `window_secs` under `limits` (whose
    /// `identities` is ignored): the API-call and upload bounds shrink with each identity's own
    /// budget, the bandwidth bound does not. `None` when the bandwidth alone needs longer.
    pub fn identities_within(&self, limits: &Limits, window_secs: f64) -> Option<u32> {
        let one = self.timing(&Limits {
            identities: 1,
            ..limits.clone()
        });
        if window_secs <= 0.0 || one.transfer_secs.is_some_and(|t| t > window_secs) {
            return None;
        }
        let rate_bound = one.api_secs.max(one.upload_secs);
        // A hair of tolerance, so that exactly fitting work does not round up an identity.
        let n = (rate_bound / window_secs - 1e-9).ceil().max(1.0);
        (n <= f64::from(u32::MAX)).then_some(n as u32)
    }

    /// Time bounds under `limits`.
    pub fn timing(&self, limits: &Limits) -> Timing {
        let ids = f64::from(limits.identities.max(1));
        Timing {
            api_secs: self.api_calls() as f64 / (limits.api_calls_per_min * ids) * 60.0,
            upload_secs: self.uploads() as f64 / (limits.uploads_per_min * ids) * 60.0,
            transfer_secs: limits.bandwidth.map(|bw| self.upload_bytes() as f64 / bw),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Status;
    use crate::plan::kind::DIRECT_MAX;

    fn file(size: u64, status: Status) -> ManifestRow {
        ManifestRow {
            path: "f".into(),
            kind: Kind::File,
            size,
            mtime: None,
            sha1: String::new(),
            status,
            detail: String::new(),
        }
    }

    #[test]
    fn counts_calls_uploads_and_time() {
        let mut e = Estimate::default();
        let mut dir = file(0, Status::Ok);
        dir.kind = Kind::Dir;
        assert_eq!(e.add(&dir, None, DIRECT_MAX), Action::CreateFolder);
        for _ in 0..10 {
            e.add(&file(1000, Status::Ok), None, DIRECT_MAX);
        }
        // 100 MiB → 13 parts of 8 MiB (the last shorter).
        let big = 100 * 1024 * 1024;
        assert!(matches!(
            e.add(&file(big, Status::Ok), None, DIRECT_MAX),
            Action::Upload(UploadKind::Chunked { .. })
        ));
        e.add(
            &file(5, Status::Skipped(crate::manifest::SkipReason::Symlink)),
            None,
            DIRECT_MAX,
        );
        e.add(&file(7, Status::Ok), Some(&DestState::Same), DIRECT_MAX);
        e.add(
            &file(9, Status::Ok),
            Some(&DestState::Conflict("x")),
            DIRECT_MAX,
        );
        assert_eq!(e.folders, 1);
        assert_eq!((e.direct_files, e.chunked_files, e.parts), (11, 1, 13));
        // The destination check, the destination listed for files and for folders.
        assert_eq!(e.listings, 2);
        assert_eq!(e.api_calls(), 1 + 2 + 1 + 11 + 2 + 13);
        assert_eq!(e.uploads(), 12);
        assert_eq!(e.upload_bytes(), 10_000 + 9 + big);
        assert_eq!((e.existing, e.existing_bytes, e.conflicts), (1, 7, 1));
        assert_eq!(e.problems.get("skipped:symlink"), Some(&1));

        let limits = Limits {
            identities: 2,
            bandwidth: Some(1_000_000.0),
            monthly_api_calls: Some(3000),
            ..Limits::default()
        };
        let t = e.timing(&limits);
        assert!((t.api_secs - 30.0 / 2000.0 * 60.0).abs() < 1e-9);
        assert!((t.upload_secs - 12.0 / 480.0 * 60.0).abs() < 1e-9);
        let (secs, bound) = t.total();
        assert_eq!(bound, "bandwidth");
        assert!((secs - e.upload_bytes() as f64 / 1e6).abs() < 1e-9);
        assert_eq!(e.monthly_share(&limits), Some(0.01));
    }

    #[test]
    fn identities_within_a_window_scale_the_rate_bounds_not_the_bandwidth() {
        // 24,000 direct uploads: 100 min at 240 uploads/min, 24 min of API calls at 1000/min.
        let mut e = Estimate::default();
        for _ in 0..24_000 {
            e.add(&file(1_000_000, Status::Ok), None, DIRECT_MAX);
        }
        let limits = Limits {
            identities: 7,
            ..Limits::default()
        };
        assert_eq!(e.identities_within(&limits, 100.0 * 60.0), Some(1));
        assert_eq!(e.identities_within(&limits, 99.0 * 60.0), Some(2));
        assert_eq!(e.identities_within(&limits, 10.0 * 60.0), Some(10));
        assert_eq!(e.identities_within(&limits, 9.9 * 60.0), Some(11));
        let halved = Limits {
            uploads_per_min: 120.0,
            ..limits.clone()
        };
        assert_eq!(e.identities_within(&halved, 10.0 * 60.0), Some(20));
        // 24 GB at 10 MB/s is 2,400 s: no number of identities fits 2,000 s.
        let slow = Limits {
            bandwidth: Some(10_000_000.0),
            ..limits
        };
        assert_eq!(e.identities_within(&slow, 2_000.0), None);
        assert_eq!(e.identities_within(&slow, 3_000.0), Some(2));
    }
}
