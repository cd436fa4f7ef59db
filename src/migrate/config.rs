//! `MigrateConfig`: everything one migration run needs, resolved (no clap types), and the
//! default places of its files (report, state journal, manifest).
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::box_api::ClientConfig;
use crate::log::LogFormat;
use crate::model::Event;
use crate::progress::ShowProgress;
use crate::scan::shard::Shard;
use crate::upload::{Limits, OnConflict};

/// A resolved migration: what to upload where, how, and where its files go.
#[derive(Debug)]
pub struct MigrateConfig {
    /// The local directory tree to upload.
    pub src: PathBuf,
    /// Box folder id to mirror the tree into ("0" is All Files).
    pub dest: String,
    /// Where the run's report, journal and manifest go.
    pub paths: Paths,
    /// Plan against the destination without writing anything to Box.
    pub dry_run: bool,
    /// Report the `skipped_done` rows too (by default the report holds what this run did).
    pub report_all: bool,
    /// When Box holds a file of the same name with other content.
    pub on_conflict: OnConflict,
    /// Files (and folders), and chunked files, in flight at once.
    pub limits: Limits,
    /// Parts in flight per chunked file.
    pub part_concurrency: usize,
    /// Files above this size use a chunked upload session.
    pub chunked_threshold: u64,
    /// Upload identical content once; other copies are Box server-side copies.
    pub dedup: bool,
    /// Globs of entries to leave out.
    pub exclude: Vec<String>,
    /// Globs of files to take (others are left out; directories are still walked).
    pub include: Vec<String>,
    /// A file listing the relative paths to take (one per line); nothing else is walked.
    pub files_from: Option<PathBuf>,
    /// `--map`: home folders owned by their users (`source,owner,dest` CSV).
    pub map: Option<PathBuf>,
    /// Files modified less than this long ago are skipped (`skipped:too_recent`), and retried
    /// by the next run: files still being written on a live share.
    pub min_age: Option<Duration>,
    /// Files bigger than this are `invalid:too_large` rows, never sent.
    pub max_file_size: Option<u64>,
    /// After this long, start nothing new, finish what is in flight and end with
    /// [`crate::exit::ExitCode::MoreToDo`] (a nightly window).
    pub max_duration: Option<Duration>,
    /// Paths to send again (`--repair VERIFY.csv`): forgotten in the journal before the run.
    pub repair: Vec<String>,
    /// Only this shard's rows.
    pub shard: Option<Shard>,
    /// The Box client's config (rates already shared out for `--shard`/`--rate-share`).
    pub client: ClientConfig,
    /// Progress display on stderr.
    pub progress: ShowProgress,
    /// Time between status lines when there is no bar.
    pub status_interval: Duration,
    /// Format of status lines.
    pub log_format: LogFormat,
    /// `--permissions FILE`: collaborations to grant once the run's folders exist.
    pub permissions: Option<PathBuf>,
    /// `--track-moves`, `--delete-missing`, `--max-delete`.
    pub mirror: super::mirror::MirrorOptions,
    /// One more observer of the event stream, after the report, journal and progress (tests,
    /// embedding programs).
    pub observer: Option<Observer>,
}

/// Where a run's files go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// The report CSV.
    pub report: PathBuf,
    /// The state journal directory.
    pub state: PathBuf,
    /// The manifest this run writes (and whose previous version speeds up the scan).
    pub manifest: PathBuf,
}

impl Paths {
    /// Fill in the defaults: the report is `boxlift-report.csv` (or `.boxlift/report.csv` in
    /// `emulator` mode), shards get their own names; the state directory sits beside the report,
    /// named after it; the manifest lives in the state directory.
    pub fn resolve(
        report: Option<&Path>,
        state: Option<&Path>,
        manifest: Option<&Path>,
        shard: Option<&Shard>,
        emulator: bool,
    ) -> Paths {
        let report = report.map(Path::to_path_buf).unwrap_or_else(|| {
            // Shards started in one directory must not share a report, state or manifest.
            let name = match shard {
                Some(s) => format!("report-shard-{}-of-{}.csv", s.index, s.count),
                None => "report.csv".to_string(),
            };
            if emulator {
                Path::new(".boxlift").join(name)
            } else {
                PathBuf::from(format!("boxlift-{name}"))
            }
        });
        let state = state.map(Path::to_path_buf).unwrap_or_else(|| {
            let stem = report
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "boxlift-report".into());
            report.with_file_name(format!("{stem}.state"))
        });
        let manifest = manifest
            .map(Path::to_path_buf)
            .unwrap_or_else(|| state.join("manifest.csv"));
        Paths {
            report,
            state,
            manifest,
        }
    }
}

/// A caller's observer of the event stream: called on the sink thread for every event, after
/// the built-in observers have seen it (a `FileDone` row is journalled; it reaches the report
/// once the journal has committed it, within 200 ms).
pub struct Observer(Box<dyn FnMut(&Event) + Send>);

impl Observer {
    /// An observer calling `f`.
    pub fn new(f: impl FnMut(&Event) + Send + 'static) -> Self {
        Observer(Box::new(f))
    }

    pub(super) fn on_event(&mut self, event: &Event) {
        (self.0)(event);
    }
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Observer")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_paths_sit_beside_the_report() {
        let p = Paths::resolve(None, None, None, None, false);
        assert_eq!(p.report, Path::new("boxlift-report.csv"));
        assert_eq!(p.state, Path::new("boxlift-report.state"));
        assert_eq!(p.manifest, Path::new("boxlift-report.state/manifest.csv"));
        let p = Paths::resolve(None, None, None, None, true);
        assert_eq!(p.report, Path::new(".boxlift/report.csv"));
        assert_eq!(p.state, Path::new(".boxlift/report.state"));
        let p = Paths::resolve(Some(Path::new("/r/x.csv")), None, None, None, false);
        assert_eq!(p.state, Path::new("/r/x.state"));
        let shard: Shard = "2/4".parse().unwrap();
        let p = Paths::resolve(None, None, None, Some(&shard), false);
        assert_eq!(p.report, Path::new("boxlift-report-shard-2-of-4.csv"));
        assert_eq!(p.state, Path::new("boxlift-report-shard-2-of-4.state"));
    }
}
