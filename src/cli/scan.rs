//! `boxlift scan`'s arguments and the scan options they describe.
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;

use crate::plan::units::{parse_bytes, parse_duration};
use crate::scan::{Progress, ScanOptions};

/// Arguments of `boxlift scan`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The directory tree to scan.
    pub src: PathBuf,
    /// Write the manifest to this file (default: standard output). Written to a temporary file
    /// beside it and renamed at the end, so a failed scan never leaves half a manifest.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// A previous manifest of the same tree: files with unchanged size and mtime keep their
    /// SHA-1 without being read.
    #[arg(long)]
    pub previous: Option<PathBuf>,
    /// Do not compute SHA-1s (sizes, mtimes and problems only).
    #[arg(long)]
    pub no_hash: bool,
    /// Follow symlinks (loops are detected and reported) instead of skipping them.
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Leave out entries whose relative path or name matches this glob (repeatable); a
    /// matching directory is left out with everything in it.
    #[arg(long)]
    pub exclude: Vec<String>,
    /// Take only files whose relative path or name matches this glob (repeatable); folders
    /// are still walked. `--exclude` wins over it.
    #[arg(long, value_name = "GLOB")]
    pub include: Vec<String>,
    /// Take only the files listed in FILE (relative paths, one a line; `#` comments), and
    /// their folders.
    #[arg(long, value_name = "FILE")]
    pub files_from: Option<PathBuf>,
    /// Files modified less than this long ago (`36h`) are rows `skipped:too_recent`.
    #[arg(long, value_parser = parse_duration, value_name = "DURATION")]
    pub min_age: Option<std::time::Duration>,
    /// The Box account's maximum file size (e.g. 5GB, 15GB); bigger files are invalid:too_large.
    #[arg(long, value_parser = parse_bytes)]
    pub max_file_size: Option<u64>,
    /// Seconds between status lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10, value_name = "SECONDS")]
    pub status_interval: u64,
}

impl ScanArgs {
    /// The scan these arguments ask for, counting into `progress` if given.
    pub fn to_options(&self, progress: Option<Arc<Progress>>) -> ScanOptions {
        ScanOptions {
            root: self.src.clone(),
            hash: !self.no_hash,
            follow_symlinks: self.follow_symlinks,
            exclude: self.exclude.clone(),
            include: self.include.clone(),
            files_from: self.files_from.clone(),
            min_age: self.min_age,
            previous: self.previous.clone(),
            resume: None,
            known: None,
            max_file_size: self.max_file_size,
            progress,
            shard: None,
        }
    }
}
