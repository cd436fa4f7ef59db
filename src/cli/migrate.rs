//! `boxlift migrate`'s arguments and their resolution into a [`MigrateConfig`].
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

use super::BoxArgs;
use crate::box_api::pace::PaceMode;
use crate::fsutil::dated_path;
use crate::log::LogFormat;
use crate::migrate::mirror::MirrorOptions;
use crate::migrate::{MigrateConfig, Paths};
use crate::plan::deletes::MaxDelete;
use crate::plan::units::{parse_bandwidth, parse_bytes, parse_duration};
use crate::progress::ShowProgress;
use crate::scan::shard::Shard;
use crate::upload::{Limits, OnConflict};
use crate::verify::repair::read_repairs;

/// Arguments of `boxlift migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The local directory tree to upload.
    pub src: PathBuf,
    /// Box folder id to mirror the tree into ("0" is All Files).
    #[arg(long)]
    pub dest: String,
    /// Write the scan's manifest here; the previous one there lets unchanged files (same size
    /// and mtime) keep their SHA-1 without being read again. Default: `manifest.csv` in the
    /// state directory.
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// The report CSV: a row for each path this run acted on (uploaded, new version, copied,
    /// folder created...), failed, left invalid or skipped; not the files an earlier run
    /// finished and this one left alone (`skipped_done`: see `--report-all`, and `boxlift
    /// report export` for the whole inventory). Default: `boxlift-report.csv`, or
    /// `.boxlift/report.csv` with `--emulator`. strftime fields name it by date (UTC), e.g.
    /// `reports/%Y-%m-%d.csv`, so nightly runs keep their history (then give `--state`).
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// State journal directory (resume, incremental re-runs). Default: beside the report,
    /// named after it (`boxlift-report.state/`).
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// Plan against the destination without writing anything to Box: every row says what
    /// would happen.
    #[arg(long)]
    pub dry_run: bool,
    /// Keep the `skipped_done` rows in the report too (one row per manifest row): a nightly
    /// run over a migrated tree then repeats every unchanged file.
    #[arg(long)]
    pub report_all: bool,
    /// After the run, keep the newest N reports named by `--report`'s date fields (files, or a
    /// directory per night such as `reports/%Y-%m-%d/`) and remove older ones: a nightly job's
    /// history stays bounded. Needs a dated `--report`.
    #[arg(long, value_name = "N")]
    pub keep_reports: Option<usize>,
    /// When Box holds a file of the same name with other content.
    #[arg(long, value_enum, default_value_t = OnConflict::Version)]
    pub on_conflict: OnConflict,
    /// Files (and folders) in flight at once.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Chunked (big) files in flight at once, on their own permits so they never starve small
    /// files nor the reverse.
    #[arg(long, default_value_t = 3)]
    pub big_concurrency: usize,
    /// Parts in flight per chunked file (Box recommends 3–5).
    #[arg(long, default_value_t = 4)]
    pub part_concurrency: usize,
    /// Files above this size use a chunked upload session (20000000 to 50000000 bytes; units
    /// like 20MB are accepted).
    #[arg(long, value_parser = parse_bytes, default_value = "50000000")]
    pub chunked_threshold: u64,
    /// Upload identical content once; other copies are Box server-side copies.
    #[arg(long)]
    pub dedup: bool,
    /// Mirror moves and renames: a new path whose size and SHA-1 match exactly one file
    /// boxlift uploaded under a path gone from the source is moved in Box, not uploaded again
    /// (a folder moved whole is one call). Ambiguous matches are uploaded.
    #[arg(long)]
    pub track_moves: bool,
    /// Move to Box's trash what boxlift uploaded and the source no longer has (never purged;
    /// never an item boxlift did not upload; one changed in Box since is kept and reported).
    /// Refused, exit 2, after any scan read error, with an empty or missing source root, or
    /// over --max-delete. Try it with --dry-run first (`would_delete` rows).
    #[arg(long)]
    pub delete_missing: bool,
    /// The most files one --delete-missing run may trash: a count (500) or a percentage of the
    /// files boxlift uploaded (10%).
    #[arg(long, value_parser = parse_max_delete, default_value = "10%")]
    pub max_delete: MaxDelete,
    /// Start the built-in Box emulator (data in `.boxlift/emulator/`, persistent) and migrate
    /// into it; prints the report at the end.
    #[arg(long)]
    pub emulator: bool,
    /// Progress display on stderr.
    #[arg(long, value_enum, default_value_t = ShowProgress::Auto)]
    pub progress: ShowProgress,
    /// Seconds between status lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    pub status_interval: u64,
    /// Serve Prometheus metrics at `http://ADDR/metrics` while the run lasts
    /// (`boxlift_files_done_total`, `boxlift_bytes_sent_total`, `boxlift_requests_total`,
    /// `boxlift_retries_total`, `boxlift_eta_seconds`, ...), e.g. `0.0.0.0:9464`.
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// Print a JSON summary on stdout (field names in docs/report.md, "JSON summary"); the human
    /// summary goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Leave out entries whose relative path or name matches this glob (repeatable).
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Take only files whose relative path or name matches this glob (repeatable); folders
    /// are still walked and created. `--exclude` wins over it.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Take only the files listed in FILE (relative paths, one a line; `#` comments), and
    /// their folders; nothing else is walked.
    #[arg(long, value_name = "FILE")]
    pub files_from: Option<PathBuf>,
    /// Home folders owned by their users: a CSV with the header `source,owner,dest`, one line
    /// per directory under SRC (relative path) with its Box owner (login or user id) and a
    /// folder id the owner can write to, or an empty dest for a new folder named after the
    /// directory in the owner's own root. Everything under a source is made and uploaded
    /// As-User its owner (each owner its own rate budget); the rest goes to --dest.
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Grant the collaborations listed in FILE (CSV `path,collaborator,role`, as `boxlift
    /// permissions` writes it) once the run's folders exist. Every collaborator is looked up
    /// first: an unknown one stops the run before any upload (exit 2).
    #[arg(long, value_name = "FILE")]
    pub permissions: Option<PathBuf>,
    /// Skip files modified less than this long ago (`36h`, `15m`): rows `skipped:too_recent`,
    /// taken by a later run. For shares still being written to.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub min_age: Option<Duration>,
    /// Files bigger than this (`5GB`, the account's limit) become `invalid:too_large` rows.
    #[arg(long, value_parser = parse_bytes, value_name = "SIZE")]
    pub max_file_size: Option<u64>,
    /// A window for nightly jobs (`6h`): after it, start nothing new, let the files in flight
    /// finish, and exit 75 ("more to do"); the next run carries on.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub max_duration: Option<Duration>,
    /// Cap upload bandwidth across all uploads (`50M` = 50 MB/s; `100Mbit`).
    #[arg(long, value_parser = parse_bandwidth, value_name = "RATE")]
    pub bwlimit: Option<f64>,
    /// Repair from a verify report (`boxlift verify --report FILE`): its missing and mismatched
    /// paths are forgotten in the journal and sent again (a file Box holds becomes a new
    /// version); every other file is skipped as done.
    #[arg(long, value_name = "VERIFY_CSV")]
    pub repair: Option<PathBuf>,
    /// Migrate only shard K of N (0 <= K < N): N processes, on one host or many, each with its
    /// own report and state, split the tree by a stable hash of each file's path and need no
    /// coordination but Box. In a Kubernetes Indexed Job: `$(JOB_COMPLETION_INDEX)/N`.
    #[arg(long, env = "BOXLIFT_SHARD", value_name = "K/N")]
    pub shard: Option<Shard>,
    /// Divide each per-identity rate limit (API calls, uploads) by M, the number of boxlift
    /// processes that run AT ONCE with the same identities (not the number of shards): an
    /// Indexed Job's `parallelism`. Default: N with `--shard K/N` (safe if all N run at once),
    /// else 1. To set a process's rates directly: `--rate-share 1 --api-calls-per-minute R`.
    #[arg(long, env = "BOXLIFT_RATE_SHARE", value_name = "M")]
    pub rate_share: Option<u32>,
    /// Pacing: `fixed` never goes above the configured rates (Box's documented limits by
    /// default); `probe` starts there and, while Box sends no 429, raises them slowly up to
    /// `--pace-cap`, cutting back on each 429 (for users with raised limits).
    #[arg(long, value_enum, default_value_t = PaceArg::Fixed)]
    pub pace: PaceArg,
    /// Highest rate `--pace probe` may reach, as a multiple of the configured rates (e.g. 4x).
    #[arg(long, value_parser = parse_factor, default_value = "4x", value_name = "FACTOR")]
    pub pace_cap: f64,
    /// Box connection and credentials.
    #[command(flatten)]
    pub box_args: BoxArgs,
}

/// `--pace`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PaceArg {
    /// At most the configured rates.
    Fixed,
    /// Find the server's ceiling from its 429s, up to `--pace-cap`.
    Probe,
}

/// `4x`, `4` or `2.5x`: a factor of at least 1.
fn parse_factor(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n = t.strip_suffix(['x', 'X']).unwrap_or(t);
    match n.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f >= 1.0 => Ok(f),
        _ => Err(format!(
            "{s:?} is not a factor of at least 1 (e.g. 4x: four times the configured rates)"
        )),
    }
}

impl MigrateArgs {
    /// Where the run's files go (defaults filled in).
    pub fn paths(&self) -> Paths {
        Paths::resolve(
            self.report.as_deref(),
            self.state.as_deref(),
            self.manifest.as_deref(),
            self.shard.as_ref(),
            self.emulator,
        )
    }

    /// [`Self::paths`] with strftime fields of `--report` filled in from `now` (UTC): one
    /// report per night beside the last ones. Such a report needs `--state`, or each night
    /// would start a new journal and re-check every file in Box.
    pub fn dated_paths(&self, now: chrono::DateTime<chrono::Utc>) -> anyhow::Result<Paths> {
        let mut paths = self.paths();
        let Some(pattern) = &self.report else {
            return Ok(paths);
        };
        let dated = dated_path(pattern, now)?;
        if dated != *pattern {
            if self.state.is_none() {
                bail!(
                    "--report {} is named by date, so each run writes a new one; give --state DIR \
                     so that every run shares one journal",
                    pattern.display()
                );
            }
            paths.report = dated;
        }
        Ok(paths)
    }

    /// The `--rate-share` divisor: given, or N with `--shard K/N`, or 1.
    pub fn rate_share(&self) -> anyhow::Result<u32> {
        match (self.rate_share, &self.shard) {
            (Some(0), _) => bail!("--rate-share must be at least 1"),
            (Some(m), _) => Ok(m),
            (None, Some(shard)) => Ok(shard.default_rate_share()),
            (None, None) => Ok(1),
        }
    }

    /// The resolved run: Box credentials checked, rates shared out, paths defaulted.
    pub fn to_config(&self, log_format: LogFormat) -> anyhow::Result<MigrateConfig> {
        let mut client = self
            .box_args
            .to_client_config()
            .context("Box credentials")?;
        client.bwlimit = self.bwlimit.map(|b| b as u64);
        let repair = match &self.repair {
            Some(path) => {
                if self.on_conflict != OnConflict::Version {
                    bail!(
                        "--repair uploads a file Box holds with other content as a new version; \
                         it cannot be combined with --on-conflict {}",
                        self.on_conflict
                            .to_possible_value()
                            .map(|v| v.get_name().to_string())
                            .unwrap_or_default()
                    );
                }
                let list = read_repairs(path)?;
                for (p, problem) in &list.by_hand {
                    tracing::warn!(path = %p, %problem, "--repair cannot fix this by sending the file again; fix it in Box by hand");
                }
                list.resend
            }
            None => Vec::new(),
        };
        client.share_rates(self.rate_share()?);
        client.pace = match self.pace {
            PaceArg::Fixed => PaceMode::Fixed,
            PaceArg::Probe => PaceMode::Probe { cap: self.pace_cap },
        };
        // Shards create folders in one tree at once: converge on one of same-named twins.
        client.settle_folder_twins = self.shard.is_some_and(|s| s.count > 1);
        Ok(MigrateConfig {
            src: self.src.clone(),
            dest: self.dest.clone(),
            paths: self.dated_paths(chrono::Utc::now())?,
            dry_run: self.dry_run,
            report_all: self.report_all,
            on_conflict: self.on_conflict,
            limits: Limits {
                files: self.concurrency.max(1),
                big_files: self.big_concurrency.max(1),
            },
            part_concurrency: self.part_concurrency.max(1),
            chunked_threshold: self.chunked_threshold,
            dedup: self.dedup,
            mirror: MirrorOptions {
                track_moves: self.track_moves,
                delete_missing: self.delete_missing,
                max_delete: self.max_delete,
            },
            exclude: self.exclude.clone(),
            include: self.include.clone(),
            files_from: self.files_from.clone(),
            map: self.map.clone(),
            permissions: self.permissions.clone(),
            min_age: self.min_age,
            max_file_size: self.max_file_size,
            max_duration: self.max_duration,
            repair,
            shard: self.shard,
            client,
            progress: self.progress,
            status_interval: Duration::from_secs(self.status_interval.max(1)),
            log_format,
            observer: None,
        })
    }
}

fn parse_max_delete(s: &str) -> Result<MaxDelete, String> {
    s.parse()
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use clap::Parser;

    fn parse(args: &[&str]) -> MigrateArgs {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: MigrateArgs,
        }
        T::try_parse_from(std::iter::once("t").chain(args.iter().copied()))
            .unwrap()
            .a
    }

    #[test]
    fn default_paths_sit_beside_the_report() {
        let a = parse(&["src", "--dest", "0"]);
        let p = a.paths();
        assert_eq!(p.report, Path::new("boxlift-report.csv"));
        assert_eq!(p.state, Path::new("boxlift-report.state"));
        assert_eq!(p.manifest, Path::new("boxlift-report.state/manifest.csv"));
        let a = parse(&["src", "--dest", "0", "--emulator"]);
        assert_eq!(a.paths().report, Path::new(".boxlift/report.csv"));
        assert_eq!(a.paths().state, Path::new(".boxlift/report.state"));
        let a = parse(&[
            "src",
            "--dest",
            "0",
            "--report",
            "/r/x.csv",
            "--chunked-threshold",
            "20MB",
        ]);
        assert_eq!(a.paths().state, Path::new("/r/x.state"));
        assert_eq!(a.chunked_threshold, 20_000_000);
        assert_eq!(a.on_conflict, OnConflict::Version);
        let sharded = parse(&["src", "--dest", "0", "--shard", "2/4"]);
        let p = sharded.paths();
        assert_eq!(p.report, Path::new("boxlift-report-shard-2-of-4.csv"));
        assert_eq!(p.state, Path::new("boxlift-report-shard-2-of-4.state"));
    }

    #[test]
    fn report_names_take_strftime_fields_and_then_need_a_state_directory() {
        let now = chrono::DateTime::parse_from_rfc3339("2026-12-02T21:30:00Z")
            .unwrap()
            .to_utc();
        let a = parse(&[
            "s",
            "--dest",
            "0",
            "--report",
            "/r/%Y-%m-%d/shard-1.csv",
            "--state",
            "/s",
        ]);
        let p = a.dated_paths(now).unwrap();
        assert_eq!(p.report, Path::new("/r/2026-12-02/shard-1.csv"));
        assert_eq!(p.state, Path::new("/s"));
        assert_eq!(p.manifest, Path::new("/s/manifest.csv"));
        let a = parse(&["s", "--dest", "0", "--report", "r/%Y.csv"]);
        let e = a.dated_paths(now).unwrap_err().to_string();
        assert!(e.contains("give --state"), "{e}");
        let a = parse(&["s", "--dest", "0", "--report", "r/%Q.csv", "--state", "x"]);
        let e = a.dated_paths(now).unwrap_err().to_string();
        assert!(e.contains("r/%Q.csv"), "{e}");
        let a = parse(&["s", "--dest", "0", "--report", "r/plain.csv"]);
        assert_eq!(a.dated_paths(now).unwrap(), a.paths());
    }

    #[test]
    fn rate_share_defaults_to_the_shard_count() {
        let share = |a: &[&str]| parse(a).rate_share();
        assert_eq!(share(&["s", "--dest", "0"]).unwrap(), 1);
        assert_eq!(share(&["s", "--dest", "0", "--shard", "1/4"]).unwrap(), 4);
        let a = ["s", "--dest", "0", "--shard", "1/4", "--rate-share", "2"];
        assert_eq!(share(&a).unwrap(), 2);
        let e = share(&["s", "--dest", "0", "--rate-share", "0"]).unwrap_err();
        assert!(e.to_string().contains("at least 1"), "{e}");
        let bad = MigrateArgs::augment_args(clap::Command::new("t"))
            .try_get_matches_from(["t", "s", "--dest", "0", "--shard", "4/4"])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("K must be less than N"), "{bad}");
    }

    #[test]
    fn pace_probe_carries_its_cap_and_bad_caps_are_refused() {
        let c = |a: &[&str]| {
            let mut v = vec!["s", "--dest", "0", "--developer-token", "t"];
            v.extend_from_slice(a);
            parse(&v).to_config(LogFormat::Text).unwrap().client.pace
        };
        assert_eq!(c(&[]), PaceMode::Fixed);
        assert_eq!(c(&["--pace", "probe"]), PaceMode::Probe { cap: 4.0 });
        assert_eq!(
            c(&["--pace", "probe", "--pace-cap", "2.5x"]),
            PaceMode::Probe { cap: 2.5 }
        );
        let bad = MigrateArgs::augment_args(clap::Command::new("t"))
            .try_get_matches_from(["t", "s", "--dest", "0", "--pace-cap", "0.5x"])
            .unwrap_err()
            .to_string();
        assert!(bad.contains("at least 1"), "{bad}");
    }

    #[test]
    fn to_config_shares_rates_and_settles_twins_for_shards() {
        let a = parse(&[
            "s",
            "--dest",
            "0",
            "--shard",
            "1/4",
            "--developer-token",
            "t",
            "--api-calls-per-minute",
            "1000",
        ]);
        let c = a.to_config(LogFormat::Text).unwrap();
        assert_eq!(c.client.api_calls_per_minute, 250);
        assert!(c.client.settle_folder_twins);
        assert_eq!(c.paths, a.paths());
    }
}
