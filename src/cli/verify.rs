//! `boxlift verify`'s arguments, and their resolution into a [`VerifyConfig`].
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;

use super::BoxArgs;
use crate::log::LogFormat;
use crate::progress::ShowProgress;
use crate::verify::{DifferencesTo, VerifyConfig};

/// Arguments of `boxlift verify`.
#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The manifest of the tree (as `scan` or `migrate` wrote it).
    #[arg(long)]
    pub manifest: PathBuf,
    /// The Box folder the tree was migrated into.
    #[arg(long)]
    pub dest: String,
    /// Write the differences as CSV here (path, problem, expected_size, box_size,
    /// expected_sha1, box_sha1, box_id). Default: listed on standard output.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Verify against the built-in emulator (data in `.boxlift/emulator/`).
    #[arg(long)]
    pub emulator: bool,
    /// Print a JSON summary on stdout (field names in docs/report.md, "JSON summary"); the human
    /// summary goes to stderr.
    #[arg(long)]
    pub json: bool,
    /// Progress display on stderr (files of the manifest's compared so far).
    #[arg(long, value_enum, default_value_t = ShowProgress::Auto)]
    pub progress: ShowProgress,
    /// Seconds between status lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    pub status_interval: u64,
    /// Fail (exit 1) on items in Box that the manifest lacks (`extra` rows) too: Box must equal
    /// the source, as after a cutover run. Without it they are listed but do not fail.
    #[arg(long)]
    pub exact: bool,
    /// Also compare the collaborations on each folder FILE names (CSV `path,collaborator,role`,
    /// as `migrate --permissions` took it) with Box's: missing, extra, other role. Differences
    /// are listed (and written to `<report>.permissions.csv` beside `--report`); any fails (exit 1).
    #[arg(long, value_name = "FILE")]
    pub permissions: Option<PathBuf>,
    /// The `migrate --map` file (`source,owner,dest`): each source's files are checked in its
    /// owner's home folder, listed As-User the owner (the service account cannot see it).
    #[arg(long, value_name = "FILE")]
    pub map: Option<PathBuf>,
    /// Box connection and credentials.
    #[command(flatten)]
    pub box_args: BoxArgs,
}

impl VerifyArgs {
    /// The resolved verification: Box credentials checked, and where the differences go
    /// (`--report`'s CSV; else listed on stdout, or on stderr when stdout carries `--json`).
    pub fn to_config(&self, log_format: LogFormat) -> anyhow::Result<VerifyConfig> {
        let differences = match (&self.report, self.json) {
            (Some(path), _) => DifferencesTo::Csv(path.clone()),
            (None, true) => DifferencesTo::Stderr,
            (None, false) => DifferencesTo::Stdout,
        };
        Ok(VerifyConfig {
            manifest: self.manifest.clone(),
            dest: self.dest.clone(),
            client: self
                .box_args
                .to_client_config()
                .context("Box credentials")?,
            progress: self.progress,
            status_interval: Duration::from_secs(self.status_interval.max(1)),
            log_format,
            differences,
            exact: self.exact,
            map: self.map.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn config(args: &[&str]) -> VerifyConfig {
        #[derive(Parser)]
        struct T {
            #[command(flatten)]
            a: VerifyArgs,
        }
        let base = ["t", "--manifest", "m.csv", "--dest", "0"];
        let base = base.iter().copied().chain(["--developer-token", "t"]);
        T::try_parse_from(base.chain(args.iter().copied()))
            .unwrap()
            .a
            .to_config(LogFormat::Text)
            .unwrap()
    }

    #[test]
    fn differences_go_to_the_report_or_the_stream_json_leaves_free() {
        assert_eq!(config(&[]).differences, DifferencesTo::Stdout);
        assert_eq!(config(&["--json"]).differences, DifferencesTo::Stderr);
        assert_eq!(
            config(&["--json", "--report", "r.csv"]).differences,
            DifferencesTo::Csv("r.csv".into())
        );
    }

    #[test]
    fn progress_flags_are_migrate_s() {
        let c = config(&[]);
        assert_eq!(c.progress, ShowProgress::Auto);
        assert_eq!(c.status_interval, Duration::from_secs(10));
        let c = config(&["--progress", "lines", "--status-interval", "0"]);
        assert_eq!(c.progress, ShowProgress::Lines);
        assert_eq!(c.status_interval, Duration::from_secs(1));
    }
}
