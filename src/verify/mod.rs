//! `verify`: walk the Box destination folder by folder (listings with `fields=sha1,size`, no
//! download) and compare it with the manifest, naming every difference: missing, extra, other
//! size, other SHA-1 (which catches zero-byte and truncated uploads), kind mismatches and twin
//! folders.
//!
//! Memory does not grow with the tree (a 10-million-row manifest needs no big machine): the
//! manifest goes into an on-disk index keyed by (parent folder, name) ([`index`]), each listed
//! folder is compared with that folder's rows alone, and differences go to disk and come back
//! sorted. What stays in memory is the listings in flight and the queue of folders still to
//! list.
pub mod index;
pub mod output;
pub mod repair;

use std::collections::{BTreeMap, VecDeque};
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::task::JoinSet;

use crate::box_api::names::box_name_key;
use crate::box_api::{ApiError, BoxClient, ClientConfig, Item};
use crate::log::LogFormat;
use crate::manifest::Kind;
use crate::manifest::read::{ReadError, Reader};
use crate::model::ItemKind;
use crate::plan::owners::{MapError, OwnerMap};
use crate::progress::{Counters, Progress, ShowProgress};
use crate::upload::folders::{LIST_FIELDS, Listing};
pub use index::Expected;
use index::Index;
pub use output::DifferencesTo;
use output::Sink;

/// Folder listings in flight at once.
const LISTINGS_IN_FLIGHT: usize = 8;

/// Kinds of difference (declared in report order: a path's rows sort by this order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Problem {
    /// In the manifest, not in Box.
    Missing,
    /// In Box, not in the manifest.
    Extra,
    /// Another size in Box.
    SizeMismatch,
    /// Same size, another SHA-1.
    Sha1Mismatch,
    /// A file where a folder should be, or the reverse.
    KindMismatch,
    /// Two folders of the same name in one parent (a create race).
    DuplicateFolder,
}

impl Problem {
    const ALL: [Problem; 6] = [
        Problem::Missing,
        Problem::Extra,
        Problem::SizeMismatch,
        Problem::Sha1Mismatch,
        Problem::KindMismatch,
        Problem::DuplicateFolder,
    ];

    fn from_index(i: i64) -> Problem {
        Problem::ALL[i as usize]
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Problem::Missing => "missing",
            Problem::Extra => "extra",
            Problem::SizeMismatch => "size_mismatch",
            Problem::Sha1Mismatch => "sha1_mismatch",
            Problem::KindMismatch => "kind_mismatch",
            Problem::DuplicateFolder => "duplicate_folder",
        })
    }
}

/// One difference (a row of verify's CSV).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// Path relative to the destination.
    pub path: String,
    /// What differs.
    pub problem: Problem,
    /// Size the manifest expects.
    pub expected_size: Option<u64>,
    /// Size in Box.
    pub box_size: Option<u64>,
    /// SHA-1 the manifest expects.
    pub expected_sha1: String,
    /// SHA-1 in Box.
    pub box_sha1: String,
    /// Box id of the item.
    pub box_id: String,
}

impl Difference {
    /// The CSV's header, in field order: written even when there is no difference, so an
    /// empty report says "no differences", not "nothing was written".
    pub const COLUMNS: [&'static str; 7] = [
        "path",
        "problem",
        "expected_size",
        "box_size",
        "expected_sha1",
        "box_sha1",
        "box_id",
    ];
}

/// What `verify` needs, resolved (no flags, no environment).
#[derive(Debug, Clone)]
pub struct VerifyConfig {
    /// The manifest of the tree (as `scan` or `migrate` wrote it).
    pub manifest: PathBuf,
    /// Box folder id the tree was migrated into.
    pub dest: String,
    /// Box connection.
    pub client: ClientConfig,
    /// Progress on stderr (files compared of the manifest's), as migrate shows it.
    pub progress: ShowProgress,
    /// Time between status lines when there is no bar.
    pub status_interval: Duration,
    /// Format of status lines.
    pub log_format: LogFormat,
    /// Where [`run`] writes the differences.
    pub differences: DifferencesTo,
    /// `--exact`: Box must hold nothing the source lacks, so `extra` rows fail the run too
    /// (see [`VerifySummary::failing`]).
    pub exact: bool,
    /// `--map`: the `migrate --map` file; each source is checked in its owner's home folder.
    pub map: Option<PathBuf>,
}

/// What a verification found (the differences themselves went to the caller's sink).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct VerifySummary {
    /// Manifest rows that should be in Box (`ok` files and directories, distinct paths).
    pub expected_rows: u64,
    /// Files that matched.
    pub files_ok: u64,
    /// Folders that matched.
    pub folders_ok: u64,
    /// Listing calls made.
    pub listings: u64,
    /// Differences by problem.
    pub problems: BTreeMap<Problem, u64>,
    /// Whether `extra` rows fail the run ([`VerifyConfig::exact`]).
    pub exact: bool,
}

impl VerifySummary {
    /// All differences.
    pub fn differences(&self) -> u64 {
        self.problems.values().sum()
    }

    /// Differences that fail the run: all of them with `--exact`. Without it, `extra` rows
    /// (items in Box the source lacks: files deleted from the share since, or put in Box by
    /// someone else) are listed but do not fail: Box holding more than the source is the
    /// normal state of a migration whose source still changes; a cutover asks for `--exact`.
    pub fn failing(&self) -> u64 {
        let extra = match self.exact {
            true => 0,
            false => self.problems.get(&Problem::Extra).copied().unwrap_or(0),
        };
        self.differences() - extra
    }

    /// The summary line: rows, matches, differences by problem, listings.
    pub fn line(&self) -> String {
        let detail: Vec<String> = self
            .problems
            .iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect::<BTreeMap<_, _>>()
            .iter()
            .map(|(k, v)| format!("{v} {k}"))
            .collect();
        let extra = self.problems.get(&Problem::Extra).copied().unwrap_or(0);
        let not_failing = if extra > 0 && !self.exact {
            "; extra items do not fail without --exact"
        } else {
            ""
        };
        format!(
            "verify: {} manifest rows; {} files and {} folders match; {} differences{}{} ({} listings){not_failing}",
            self.expected_rows,
            self.files_ok,
            self.folders_ok,
            self.differences(),
            if detail.is_empty() { "" } else { ": " },
            detail.join(", "),
            self.listings
        )
    }
}

/// Why `verify` could not run to the end.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The manifest could not be read.
    #[error("manifest {path}: {source}")]
    Manifest {
        /// The manifest.
        path: String,
        /// Why.
        source: ReadError,
    },
    /// A Box call failed (after its retries).
    #[error("listing Box folder {dest}: {source}{}", source.dest_hint())]
    Box {
        /// The destination folder id.
        dest: String,
        /// Why (boxed: `ApiError` is large and errors travel in every `Result`).
        source: Box<ApiError>,
    },
    /// The on-disk index failed (disk full, temporary directory not writable).
    #[error("verify's temporary index: {0}")]
    Index(#[from] rusqlite::Error),
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(std::io::Error),
    /// The `--map` file is wrong or names owners Box does not know.
    #[error(transparent)]
    Map(#[from] MapError),
    /// The caller's sink refused a difference (e.g. the report file could not be written).
    #[error("writing a difference: {0}")]
    Sink(#[source] std::io::Error),
    /// The differences CSV (`--report`) could not be created or written.
    #[error("{what} {}", path.display())]
    Report {
        /// What failed: "cannot create", "cannot write"...
        what: &'static str,
        /// The report file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Verify Box folder `config.dest` against `config.manifest`, writing each difference, in path
/// order, where `config.differences` says; returns the counts.
pub fn run(config: &VerifyConfig) -> Result<VerifySummary, VerifyError> {
    // Opened first: a report that cannot be written fails before any listing is made.
    let mut sink = Sink::open(&config.differences)?;
    let summary = run_with(config, &mut |d| sink.write(d))?;
    sink.finish()?;
    Ok(summary)
}

/// [`run`], handing each difference to `sink` in path order instead
/// (`config.differences` is not used).
pub fn run_with(
    config: &VerifyConfig,
    sink: &mut dyn FnMut(&Difference) -> Result<(), VerifyError>,
) -> Result<VerifySummary, VerifyError> {
    let mut index = Index::open()?;
    let manifest_err = |source| VerifyError::Manifest {
        path: config.manifest.display().to_string(),
        source,
    };
    let progress = Progress::start(
        config.progress,
        config.status_interval,
        config.log_format,
        None,
    );
    let counters = progress.counters();
    // Only rows that should be in Box: `ok` files and directories.
    for row in Reader::open(&config.manifest).map_err(manifest_err)? {
        let row = row.map_err(manifest_err)?;
        if !row.status.is_ok() {
            continue;
        }
        if row.kind != Kind::Dir {
            counters.files_total.fetch_add(1, Relaxed);
            counters.bytes_total.fetch_add(row.size, Relaxed);
        }
        index.add(&Expected {
            kind: row.kind,
            size: row.size,
            sha1: row.sha1,
            path: row.path,
        })?;
    }
    let mut summary = VerifySummary {
        expected_rows: index.loaded()?,
        exact: config.exact,
        ..Default::default()
    };
    counters.scan_done.store(true, Relaxed);
    let box_err = |source| VerifyError::Box {
        dest: config.dest.clone(),
        source: Box::new(source),
    };
    let client = BoxClient::new(config.client.clone()).map_err(box_err)?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(VerifyError::Runtime)?;
    let homes = match &config.map {
        Some(file) => rt.block_on(homes(&client, &OwnerMap::read(file)?))?,
        None => Homes::default(),
    };
    // A found home folder is walked from the owner's root, not from its parent under dest.
    for (path, _) in homes.found() {
        index.remove(path)?;
    }
    rt.block_on(walk(
        (&client, &homes),
        &config.dest,
        &mut index,
        &mut summary,
        counters,
    ))?;
    progress.finish();
    index.sweep_missing()?;
    index.differences(&mut |d| {
        *summary.problems.entry(d.problem).or_default() += 1;
        sink(&d)
    })?;
    Ok(summary)
}

fn join(rel: &str, name: &str) -> String {
    if rel.is_empty() {
        name.to_string()
    } else {
        format!("{rel}/{name}")
    }
}

/// The `--map` home folders Box holds: local source path → (its owner's client, the folder).
#[derive(Default)]
struct Homes(std::collections::HashMap<String, (BoxClient, Option<String>)>);

impl Homes {
    /// The home folders found in Box, by source path.
    fn found(&self) -> impl Iterator<Item = (&String, &String)> {
        self.0
            .iter()
            .filter_map(|(p, (_, id))| id.as_ref().map(|id| (p, id)))
    }

    /// The client that lists local path `rel`: its owner's under a `--map` source.
    fn client_for<'a>(&'a self, service: &'a BoxClient, rel: &str) -> &'a BoxClient {
        if self.0.is_empty() {
            return service;
        }
        let mut p = rel;
        loop {
            if let Some((c, _)) = self.0.get(p) {
                return c;
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => return service,
            }
        }
    }
}

/// Resolve the map's owners and find each source's home folder as its owner sees it: the
/// line's dest, or the folder named after the source in the owner's root (`None`: not in
/// Box, so its files are reported missing).
async fn homes(client: &BoxClient, map: &OwnerMap) -> Result<Homes, VerifyError> {
    let owners = map.resolve(client).await?;
    let mut out = Homes::default();
    for e in &map.entries {
        let Some(id) = owners.id(&e.owner) else {
            continue;
        };
        let owner = client.as_user(id);
        let folder =
            match &e.dest {
                Some(dest) => Some(dest.clone()),
                None => {
                    let root = owner.list_folder("0", &["name"]).await.map_err(|source| {
                        VerifyError::Box {
                            dest: format!("0 (As-User {id})"),
                            source: Box::new(source),
                        }
                    })?;
                    Listing::from_items(root)
                        .get(e.home_name())
                        .filter(|x| x.kind == ItemKind::Folder)
                        .map(|x| x.id.clone())
                }
            };
        out.0.insert(e.source.clone(), (owner, folder));
    }
    Ok(out)
}

/// List the tree under `dest` breadth-first, [`LISTINGS_IN_FLIGHT`] listings at a time, and
/// compare each folder with its expected rows as its listing arrives. Runs on the thread that
/// blocks on the runtime, so the index's (blocking, short) SQLite calls never stall a worker.
async fn walk(
    (client, homes): (&BoxClient, &Homes),
    dest: &str,
    index: &mut Index,
    out: &mut VerifySummary,
    progress: &Counters,
) -> Result<(), VerifyError> {
    let box_err = |source| VerifyError::Box {
        dest: dest.to_string(),
        source: Box::new(source),
    };
    let mut queue: VecDeque<(String, String)> = VecDeque::from([(dest.to_string(), String::new())]);
    queue.extend(homes.found().map(|(path, id)| (id.clone(), path.clone())));
    let mut running = JoinSet::new();
    loop {
        while running.len() < LISTINGS_IN_FLIGHT
            && let Some((id, rel)) = queue.pop_front()
        {
            let c = homes.client_for(client, &rel).clone();
            running.spawn(async move {
                let items = c.list_folder(&id, LIST_FIELDS).await;
                (rel, items)
            });
        }
        let Some(done) = running.join_next().await else {
            break;
        };
        let (rel, items) = done.map_err(|e| {
            box_err(ApiError::new(
                crate::box_api::ErrorKind::Other,
                format!("listing task failed: {e}"),
            ))
        })?;
        let items = items.map_err(box_err)?;
        out.listings += 1;
        compare_folder(&rel, items, index, &mut queue, out, progress)?;
    }
    Ok(())
}

/// Compare one listed folder (`rel`, as the manifest spells it) with its expected rows;
/// sub-folders that match go on `queue`.
fn compare_folder(
    rel: &str,
    items: Vec<Item>,
    index: &mut Index,
    queue: &mut VecDeque<(String, String)>,
    out: &mut VerifySummary,
    progress: &Counters,
) -> Result<(), VerifyError> {
    let mut expected = index.take_folder(&box_name_key(rel))?;
    // Every expected row of this folder is decided here: matched, different or missing.
    for e in expected.values().filter(|e| e.kind == Kind::File) {
        progress.files_done.fetch_add(1, Relaxed);
        progress.bytes_done.fetch_add(e.size, Relaxed);
    }
    let twins = Listing::from_items(items.clone()).duplicate_folders;
    for name in twins {
        index.push(&Difference {
            path: join(rel, &name),
            problem: Problem::DuplicateFolder,
            expected_size: None,
            box_size: None,
            expected_sha1: String::new(),
            box_sha1: String::new(),
            box_id: String::new(),
        })?;
    }
    for item in items {
        let (kind, f) = match item {
            Item::File(f) => (ItemKind::File, f),
            Item::Folder(f) => (ItemKind::Folder, f),
            Item::WebLink(f) => (ItemKind::WebLink, f),
        };
        let is_folder = kind == ItemKind::Folder;
        let name = f.name.clone().unwrap_or_default();
        let path = join(rel, &name);
        let diff = |problem, exp: Option<&Expected>| Difference {
            path: exp.map_or(path.clone(), |e| e.path.clone()),
            problem,
            expected_size: exp.filter(|e| e.kind == Kind::File).map(|e| e.size),
            box_size: if is_folder { None } else { f.size },
            expected_sha1: exp.map(|e| e.sha1.clone()).unwrap_or_default(),
            box_sha1: f.sha1.clone().unwrap_or_default(),
            box_id: f.id.clone(),
        };
        match expected.remove(&box_name_key(&name)) {
            None => index.push(&diff(Problem::Extra, None))?,
            Some(e) if (e.kind == Kind::Dir) != is_folder => {
                index.push(&diff(Problem::KindMismatch, Some(&e)))?
            }
            Some(e) if is_folder => {
                out.folders_ok += 1;
                queue.push_back((f.id.clone(), e.path.clone()));
            }
            Some(e) if f.size != Some(e.size) => {
                index.push(&diff(Problem::SizeMismatch, Some(&e)))?
            }
            Some(e)
                if !e.sha1.is_empty()
                    && !f
                        .sha1
                        .as_deref()
                        .is_some_and(|s| s.eq_ignore_ascii_case(&e.sha1)) =>
            {
                index.push(&diff(Problem::Sha1Mismatch, Some(&e)))?
            }
            Some(_) => out.files_ok += 1,
        }
    }
    // Expected here, not listed: missing (and, for folders, everything below them, which the
    // final sweep reports since their folder is never listed).
    for (_, e) in expected {
        index.push(&Difference {
            path: e.path.clone(),
            problem: Problem::Missing,
            expected_size: (e.kind == Kind::File).then_some(e.size),
            box_size: None,
            expected_sha1: e.sha1,
            box_sha1: String::new(),
            box_id: String::new(),
        })?;
    }
    Ok(())
}
