//! `audit`: a dry-run summary of a manifest (upload kinds, problems, API calls and time under
//! Box's limits) and, given a destination, what already exists there. It never writes to Box.
//!
//! Streams both sides, so memory does not grow with the tree: the manifest row by row into the
//! audit CSV, and the destination listing into an on-disk index ([`DiskIndex`], a private temporary
//! SQLite database), so a 10-million-row audit against a full destination runs in the memory of a
//! small one.
pub mod access;
pub mod fit;
pub mod mirror;
pub mod owners;

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use chrono::{DateTime, Utc};
use rusqlite::{Connection, OptionalExtension, params};

use crate::box_api::model::Item;
use crate::box_api::names::box_name_key;
use crate::box_api::{ApiError, BoxClient, ClientConfig};
use crate::log::LogFormat;
use crate::manifest::read::{ReadError, Reader};
use crate::manifest::{Kind, ManifestRow};
use crate::plan::dest::{
    DestItem, DestinationIndex, FolderLister, Listed, compare, index_destination,
};
use crate::plan::estimate::{Action, Estimate, Limits};
use crate::plan::kind::UploadKind;
use crate::plan::units::{human_bytes, human_duration, thousands};
use crate::progress::{Progress, ShowProgress};

/// Where to compare with.
#[derive(Debug, Clone)]
pub enum Destination {
    /// A live Box folder (read-only listings).
    Box {
        /// The folder id.
        folder_id: String,
        /// The connection (boxed: `ClientConfig` is large).
        client: Box<ClientConfig>,
    },
    /// A destination listing saved in manifest form.
    Listing(PathBuf),
}

/// What `audit` needs, resolved (no flags, no environment).
#[derive(Debug, Clone)]
pub struct AuditConfig {
    /// The manifest to audit.
    pub manifest: PathBuf,
    /// Where the per-row audit CSV goes.
    pub output: PathBuf,
    /// The destination to compare with, if any.
    pub dest: Option<Destination>,
    /// Files above this size go up in sessions (checked with `check_threshold`).
    pub threshold: u64,
    /// The limits the migration would run under.
    pub limits: Limits,
    /// Progress on stderr while `--dest` is listed (files of the manifest's found in Box so
    /// far), shown as verify and migrate show theirs.
    pub progress: ShowProgress,
    /// Seconds between status lines when stderr is not a terminal.
    pub status_interval: Duration,
    /// Text or JSON status lines.
    pub log_format: LogFormat,
    /// `--state`: a migration's journal, to forecast its next mirror run.
    pub state: Option<PathBuf>,
    /// `--map`: home folders owned by their users; the plan per owner.
    pub map: Option<PathBuf>,
}

/// The planner's question (`--deadline`, `--within`): finish by this time.
#[derive(Debug, Clone, PartialEq)]
pub struct Deadline {
    /// When the migration must be done.
    pub at: DateTime<Utc>,
    /// Seconds from now until then.
    pub secs: f64,
}

/// A deadline that has already passed.
#[derive(Debug, thiserror::Error)]
#[error(
    "the deadline {at} is not in the future (now {now}); give a later --deadline or a --within"
)]
pub struct PastDeadline {
    at: String,
    now: String,
}

impl Deadline {
    /// The deadline `at`, seen from `now`.
    pub fn at(at: DateTime<Utc>, now: DateTime<Utc>) -> Result<Deadline, PastDeadline> {
        let secs = (at - now).as_seconds_f64();
        if secs <= 0.0 {
            return Err(PastDeadline {
                at: at.format(DEADLINE_FORMAT).to_string(),
                now: now.format(DEADLINE_FORMAT).to_string(),
            });
        }
        Ok(Deadline { at, secs })
    }
}

const DEADLINE_FORMAT: &str = "%Y-%m-%d %H:%M UTC";

/// What an audit found.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditSummary {
    /// The totals.
    pub estimate: Estimate,
    /// A destination was compared.
    pub compared: bool,
    /// With a live `--dest`: whether each identity can upload there (checked before a run, so
    /// a missing collaboration is not found by failing uploads).
    pub access: Vec<access::IdentityAccess>,
    /// The Box account's storage, read with `--dest` (`None` without a live destination, or
    /// when Box did not say).
    pub space: Option<AccountSpace>,
}

/// The Box account's storage against what the migration would send (the same check migrate
/// makes before its first upload).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountSpace {
    /// Bytes the account can still store; `None` for an unlimited account.
    pub free: Option<u64>,
    /// Bytes it stores.
    pub used: u64,
}

impl AccountSpace {
    /// The summary line: free space against the bytes to upload, and whether they fit.
    pub fn render(&self, to_send: u64) -> String {
        match self.free {
            None => format!(
                "Box account space: unlimited ({} used)\n",
                human_bytes(self.used)
            ),
            Some(free) if to_send <= free => format!(
                "Box account space: {} free ({} used); the {} to upload fit\n",
                human_bytes(free),
                human_bytes(self.used),
                human_bytes(to_send)
            ),
            Some(free) => format!(
                "Box account space: {} free ({} used); the {} to upload DO NOT FIT: migrate would refuse to start (exit 2)\n",
                human_bytes(free),
                human_bytes(self.used),
                human_bytes(to_send)
            ),
        }
    }
}

/// `GET /users/me` for the account's storage; a failure is a warning (the audit goes on).
fn account_space(client: &ClientConfig) -> Option<AccountSpace> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    let client = BoxClient::new(client.clone()).ok()?;
    match rt.block_on(client.current_user()) {
        Ok(u) => Some(AccountSpace {
            free: u.free_space(),
            used: u.space_used.unwrap_or(0).max(0) as u64,
        }),
        Err(e) => {
            tracing::warn!("cannot read the account's free space (GET /users/me): {e}");
            None
        }
    }
}

/// Why `audit` could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// A manifest (or saved listing) could not be read.
    #[error("{what} {path}: {source}")]
    Manifest {
        /// "manifest" or "destination listing".
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        source: ReadError,
    },
    /// Listing the Box destination failed.
    #[error("listing destination folder {folder}: {source}")]
    Box {
        /// The folder id.
        folder: String,
        /// Why (boxed: `ApiError` is large and errors travel in every `Result`).
        source: Box<ApiError>,
    },
    /// The on-disk index failed.
    #[error("audit's temporary index: {0}")]
    Index(#[from] rusqlite::Error),
    /// The audit CSV could not be written.
    #[error("audit CSV {path}: {source}")]
    Output {
        /// Its path.
        path: String,
        /// Why.
        source: csv::Error,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// `--map` could not be read or parsed.
    #[error(transparent)]
    Map(#[from] crate::plan::owners::MapError),
    /// `--state`: the journal could not be read.
    #[error("state journal: {0}")]
    State(Box<crate::state::StateError>),
}

/// The default audit CSV: the manifest's name with `.audit.csv`, beside it.
pub fn default_output(manifest: &Path) -> PathBuf {
    let stem = manifest
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "manifest".into());
    manifest.with_file_name(format!("{stem}.audit.csv"))
}

/// Run the audit: index the destination (if any), then stream the manifest into the CSV.
pub fn run(config: &AuditConfig) -> Result<AuditSummary, AuditError> {
    let mut access = Vec::new();
    let dest = match &config.dest {
        None => None,
        Some(Destination::Box { folder_id, client }) => {
            access = check_access(client, folder_id)?;
            Some(list_destination(config, client, folder_id)?)
        }
        Some(Destination::Listing(p)) => Some(load_listing(p)?),
    };
    let estimate = audit_to_csv(
        &config.manifest,
        &config.output,
        dest.as_ref().map(|d| d as &dyn DestinationIndex),
        config.threshold,
    )?;
    let space = match &config.dest {
        Some(Destination::Box { client, .. }) => account_space(client),
        _ => None,
    };
    Ok(AuditSummary {
        estimate,
        compared: dest.is_some(),
        access,
        space,
    })
}

/// Can each identity (the service account, each `--as-user`) upload into `folder_id`?
fn check_access(
    client: &ClientConfig,
    folder_id: &str,
) -> Result<Vec<access::IdentityAccess>, AuditError> {
    let client = BoxClient::new(client.clone()).map_err(|source| AuditError::Box {
        folder: folder_id.to_string(),
        source: Box::new(source),
    })?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AuditError::Runtime)?;
    Ok(rt.block_on(access::check(&client, folder_id)))
}

/// The destination by path, on disk: (Box name key of the path) → item; plus the manifest's
/// directories, which say which destination folders are worth listing.
#[derive(Debug)]
pub struct DiskIndex {
    db: Connection,
}

impl DiskIndex {
    /// An empty index in a private temporary database.
    pub fn open() -> rusqlite::Result<DiskIndex> {
        let db = crate::fsutil::scratch_db(
            "CREATE TABLE items(key TEXT PRIMARY KEY, folder INTEGER NOT NULL,
               size INTEGER NOT NULL, sha1 TEXT NOT NULL) WITHOUT ROWID;
             CREATE TABLE dirs(key TEXT PRIMARY KEY) WITHOUT ROWID;",
        )?;
        Ok(DiskIndex { db })
    }

    /// Record the item at `path` (the first recorded wins, as Box lists twins oldest first).
    pub fn insert(&self, path: &str, item: &DestItem) -> rusqlite::Result<()> {
        let (folder, size, sha1) = match item {
            DestItem::Folder => (true, 0, ""),
            DestItem::File { size, sha1 } => (false, *size, sha1.as_str()),
        };
        self.db
            .prepare_cached("INSERT OR IGNORE INTO items VALUES (?1, ?2, ?3, ?4)")?
            .execute(params![box_name_key(path), folder, size as i64, sha1])?;
        Ok(())
    }

    fn add_dir(&self, path: &str) -> rusqlite::Result<()> {
        self.db
            .prepare_cached("INSERT OR IGNORE INTO dirs VALUES (?1)")?
            .execute([box_name_key(path)])?;
        Ok(())
    }

    fn has_dir(&self, path: &str) -> rusqlite::Result<bool> {
        self.db
            .prepare_cached("SELECT 1 FROM dirs WHERE key = ?1")?
            .query_row([box_name_key(path)], |_| Ok(()))
            .optional()
            .map(|o| o.is_some())
    }

    fn lookup(&self, path: &str) -> rusqlite::Result<Option<DestItem>> {
        self.db
            .prepare_cached("SELECT folder, size, sha1 FROM items WHERE key = ?1")?
            .query_row([box_name_key(path)], |r| {
                Ok(if r.get::<_, bool>(0)? {
                    DestItem::Folder
                } else {
                    DestItem::File {
                        size: r.get::<_, i64>(1)? as u64,
                        sha1: r.get(2)?,
                    }
                })
            })
            .optional()
    }
}

impl DestinationIndex for DiskIndex {
    fn get(&self, path: &str) -> Option<DestItem> {
        // A read of a database this process just wrote; a failure (disk gone) reads as
        // "not there", which the audit reports as an upload: the costlier, safe estimate.
        self.lookup(path).unwrap_or_else(|e| {
            tracing::warn!("audit index lookup of {path}: {e}");
            None
        })
    }
}

/// [`FolderLister`] over the live Box client: `GET /folders/{id}/items` with
/// `fields=name,size,sha1`, marker paging, read-only.
struct BoxLister {
    rt: tokio::runtime::Runtime,
    client: BoxClient,
    root: String,
}

impl FolderLister for BoxLister {
    type Error = AuditError;

    fn list(&mut self, folder_id: &str) -> Result<Vec<Listed>, AuditError> {
        let items = self
            .rt
            .block_on(
                self.client
                    .list_folder(folder_id, &["name", "size", "sha1"]),
            )
            .map_err(|source| AuditError::Box {
                folder: self.root.clone(),
                source: Box::new(source),
            })?;
        Ok(items
            .into_iter()
            .filter_map(|item| {
                let (f, dest) = match item {
                    Item::Folder(f) => (f, DestItem::Folder),
                    Item::File(f) => {
                        let dest = DestItem::File {
                            size: f.size.unwrap_or(0),
                            sha1: f.sha1.clone().unwrap_or_default(),
                        };
                        (f, dest)
                    }
                    Item::WebLink(_) => return None,
                };
                Some(Listed {
                    id: f.id,
                    name: f.name.unwrap_or_default(),
                    item: dest,
                })
            })
            .collect())
    }
}

fn read_err<'a>(what: &'static str, path: &'a Path) -> impl Fn(ReadError) -> AuditError + 'a {
    move |source| AuditError::Manifest {
        what,
        path: path.display().to_string(),
        source,
    }
}

/// List the live destination folder (read-only) into a [`DiskIndex`], descending only into
/// folders the manifest has, so a big destination costs only the listings that matter.
fn list_destination(
    config: &AuditConfig,
    client: &ClientConfig,
    root_id: &str,
) -> Result<DiskIndex, AuditError> {
    let manifest = config.manifest.as_path();
    let index = DiskIndex::open()?;
    let progress = Progress::start(
        config.progress,
        config.status_interval,
        config.log_format,
        None,
    );
    let counters = progress.counters();
    for row in Reader::open(manifest).map_err(read_err("manifest", manifest))? {
        let row = row.map_err(read_err("manifest", manifest))?;
        match row.kind {
            Kind::Dir => index.add_dir(&row.path)?,
            _ if row.status.is_ok() => {
                counters.files_total.fetch_add(1, Relaxed);
                counters.bytes_total.fetch_add(row.size, Relaxed);
            }
            _ => {}
        }
    }
    counters.scan_done.store(true, Relaxed);
    let box_err = |source| AuditError::Box {
        folder: root_id.to_string(),
        source: Box::new(source),
    };
    let client = BoxClient::new(client.clone()).map_err(box_err)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(AuditError::Runtime)?;
    let mut lister = BoxLister {
        rt,
        client,
        root: root_id.to_string(),
    };
    // Box names are case-insensitive: `Docs` in Box is the manifest's `docs`. A failed
    // lookup of the directory set reads as "do not descend" and is logged.
    index_destination(
        &mut lister,
        root_id,
        &|p| {
            index.has_dir(p).unwrap_or_else(|e| {
                tracing::warn!("audit index lookup of {p}: {e}");
                false
            })
        },
        |path, item| {
            if let DestItem::File { size, .. } = &item {
                counters.files_done.fetch_add(1, Relaxed);
                counters.bytes_done.fetch_add(*size, Relaxed);
            }
            Ok(index.insert(path, &item)?)
        },
    )?;
    progress.finish();
    Ok(index)
}

/// Load a destination listing saved in manifest form.
fn load_listing(path: &Path) -> Result<DiskIndex, AuditError> {
    let index = DiskIndex::open()?;
    for row in Reader::open(path).map_err(read_err("destination listing", path))? {
        let row = row.map_err(read_err("destination listing", path))?;
        let item = match row.kind {
            Kind::Dir => DestItem::Folder,
            Kind::File => DestItem::File {
                size: row.size,
                sha1: row.sha1,
            },
        };
        index.insert(&row.path, &item)?;
    }
    Ok(index)
}

/// Stream the manifest into the audit CSV and return the totals.
pub fn audit_to_csv(
    manifest: &Path,
    out: &Path,
    dest: Option<&dyn DestinationIndex>,
    threshold: u64,
) -> Result<Estimate, AuditError> {
    let out_err = |source| AuditError::Output {
        path: out.display().to_string(),
        source,
    };
    crate::fsutil::create_parent(out).map_err(|e| out_err(e.into()))?;
    let file = File::create(out).map_err(|e| out_err(e.into()))?;
    let mut w = csv::Writer::from_writer(BufWriter::new(file));
    w.write_record([
        "path",
        "kind",
        "size",
        "status",
        "action",
        "upload_kind",
        "parts",
        "api_calls",
        "dest",
        "detail",
    ])
    .map_err(out_err)?;
    let mut est = Estimate::default();
    for row in Reader::open(manifest).map_err(read_err("manifest", manifest))? {
        let row: ManifestRow = row.map_err(read_err("manifest", manifest))?;
        let state = if row.status.is_ok() {
            dest.map(|d| compare(&row, d))
        } else {
            None
        };
        let action = est.add(&row, state.as_ref(), threshold);
        let (kind, parts, calls, detail) = match &action {
            Action::Upload(k) => (
                Some(*k),
                k.parts(row.size),
                k.api_calls(row.size),
                String::new(),
            ),
            Action::Conflict(k, why) if row.kind == Kind::File => (
                Some(*k),
                k.parts(row.size),
                k.api_calls(row.size),
                why.to_string(),
            ),
            Action::Conflict(_, why) => (None, 0, 1, why.to_string()),
            Action::CreateFolder => (None, 0, 1, String::new()),
            Action::Skip => (None, 0, 0, String::new()),
            Action::NotMigrated => (None, 0, 0, row.detail.clone()),
        };
        w.write_record([
            row.path.as_str(),
            row.kind.as_str(),
            &row.size.to_string(),
            &row.status.to_string(),
            action.as_str(),
            kind.map(UploadKind::as_str).unwrap_or(""),
            &parts.to_string(),
            &calls.to_string(),
            state.as_ref().map(|s| s.as_str()).unwrap_or(""),
            &detail,
        ])
        .map_err(out_err)?;
    }
    w.flush().map_err(|e| out_err(e.into()))?;
    Ok(est)
}

/// The printed summary table.
pub fn render(
    manifest: &Path,
    out: &Path,
    e: &Estimate,
    l: &Limits,
    compared: bool,
    deadline: Option<&Deadline>,
) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "boxlift audit of {} (dry run: nothing sent to Box)",
        manifest.display()
    );
    render_counts(&mut s, e, compared);
    let _ = writeln!(s);
    render_calls(&mut s, e, l);
    let total = render_time(&mut s, e, l);
    if let Some(d) = deadline {
        render_deadline(&mut s, e, l, d, total);
    }
    let _ = writeln!(s, "audit CSV: {}", out.display());
    s
}

/// The table of items and bytes: uploads by kind, folders, what Box holds, problems.
fn render_counts(s: &mut String, e: &Estimate, compared: bool) {
    use std::fmt::Write;
    let _ = writeln!(s, "{:<28}{:>14}{:>14}", "", "items", "bytes");
    let mut line = |label: &str, n: u64, bytes: Option<u64>, note: String| {
        let b = bytes.map(human_bytes).unwrap_or_default();
        let _ = writeln!(s, "{label:<28}{:>14}{b:>14}  {note}", thousands(n));
    };
    line(
        "direct uploads",
        e.direct_files,
        Some(e.direct_bytes),
        String::new(),
    );
    line(
        "chunked uploads",
        e.chunked_files,
        Some(e.chunked_bytes),
        format!("{} parts", thousands(e.parts)),
    );
    line("folders to create", e.folders, None, String::new());
    if compared {
        line(
            "already in Box (skip)",
            e.existing,
            Some(e.existing_bytes),
            String::new(),
        );
        line(
            "conflicts",
            e.conflicts,
            None,
            "counted above as uploads (new versions)".into(),
        );
    }
    let problems: u64 = e.problems.values().sum();
    line(
        "not migrated (problems)",
        problems,
        Some(e.problem_bytes),
        String::new(),
    );
    for (status, n) in &e.problems {
        line(&format!("  {status}"), *n, None, String::new());
    }
}

/// API calls by kind, upload requests, the share of the monthly allocation.
fn render_calls(s: &mut String, e: &Estimate, l: &Limits) {
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "API calls           {:>14}  (check {} + listings {} + folders {} + direct {} + sessions {}×2 + parts {})",
        thousands(e.api_calls()),
        thousands(crate::plan::estimate::RUN_CALLS),
        thousands(e.listings),
        thousands(e.folders),
        thousands(e.direct_files),
        thousands(e.chunked_files),
        thousands(e.parts)
    );
    let _ = writeln!(s, "upload requests     {:>14}", thousands(e.uploads()));
    if let Some(share) = e.monthly_share(l) {
        let _ = writeln!(
            s,
            "monthly allocation  {:>13.2}%  of {} calls",
            share * 100.0,
            thousands(l.monthly_api_calls.unwrap_or(0))
        );
    }
}

/// The estimated time and what bounds it (API calls, uploads, bandwidth); returns the total
/// in seconds.
fn render_time(s: &mut String, e: &Estimate, l: &Limits) -> f64 {
    use std::fmt::Write;
    let t = e.timing(l);
    let (total, bound) = t.total();
    let _ = writeln!(
        s,
        "estimated time      {:>14}  (bound: {bound}; {} identit{})",
        human_duration(total),
        l.identities,
        if l.identities == 1 { "y" } else { "ies" }
    );
    let _ = writeln!(
        s,
        "  at {:.0} calls/min  {:>14}",
        l.api_calls_per_min * f64::from(l.identities),
        human_duration(t.api_secs)
    );
    let _ = writeln!(
        s,
        "  at {:.0} uploads/min {:>13}",
        l.uploads_per_min * f64::from(l.identities),
        human_duration(t.upload_secs)
    );
    match (t.transfer_secs, l.bandwidth) {
        (Some(secs), Some(bw)) => {
            let _ = writeln!(
                s,
                "  {} at {}/s {:>8}",
                human_bytes(e.upload_bytes()),
                human_bytes(bw as u64),
                human_duration(secs)
            );
        }
        _ => {
            let _ = writeln!(s, "  bandwidth: not given (--bandwidth), not bounded");
        }
    }
    total
}

/// The deadline and how many identities make it (`total`: the estimated seconds).
fn render_deadline(s: &mut String, e: &Estimate, l: &Limits, d: &Deadline, total: f64) {
    use std::fmt::Write;
    let _ = writeln!(
        s,
        "deadline            {}  (in {})",
        d.at.format(DEADLINE_FORMAT),
        human_duration(d.secs)
    );
    let _ = match e.identities_within(l, d.secs) {
        Some(n) => writeln!(
            s,
            "identities needed   {:>14}  (--as-user ids, each with its own {:.0} calls/min and {:.0} uploads/min; {} given: {})",
            thousands(u64::from(n)),
            l.api_calls_per_min,
            l.uploads_per_min,
            l.identities,
            if total <= d.secs { "on time" } else { "late" }
        ),
        None => writeln!(
            s,
            "identities needed   {:>14}  (the bandwidth alone needs {}: more identities cannot make the deadline)",
            "none suffice",
            human_duration(e.timing(l).transfer_secs.unwrap_or_default())
        ),
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_output_sits_beside_the_manifest() {
        assert_eq!(
            default_output(Path::new("manifests/nas.csv")),
            PathBuf::from("manifests/nas.audit.csv")
        );
    }

    #[test]
    fn the_disk_index_matches_as_box_does_and_keeps_the_first_twin() {
        let idx = DiskIndex::open().unwrap();
        let file = |n| DestItem::File {
            size: n,
            sha1: "a".repeat(40),
        };
        idx.insert("Docs", &DestItem::Folder).unwrap();
        idx.insert("Docs/Report.PDF", &file(3)).unwrap();
        idx.insert("docs/report.pdf", &file(4)).unwrap();
        assert_eq!(idx.get("docs"), Some(DestItem::Folder));
        assert_eq!(idx.get("DOCS/report.pdf"), Some(file(3)));
        assert_eq!(idx.get("docs/none"), None);
        idx.add_dir("A/B").unwrap();
        assert!(idx.has_dir("a/b").unwrap() && !idx.has_dir("a").unwrap());
    }
}
