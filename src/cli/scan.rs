//! `boxlift scan`'s arguments.
use std::path::PathBuf;

use clap::Args;

use crate::plan::units::parse_bytes;

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
    /// The Box account's maximum file size (e.g. 5GB, 15GB); bigger files are invalid:too_large.
    #[arg(long, value_parser = parse_bytes)]
    pub max_file_size: Option<u64>,
}
