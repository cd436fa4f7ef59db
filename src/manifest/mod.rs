//! The manifest: one CSV row per file or directory of a scanned tree. It is the contract between
//! `scan` (which writes it), `audit` and `migrate` (which read it), so its shape lives here alone.
//!
//! Columns, in order: `path`, `kind`, `size`, `mtime`, `sha1`, `status`, `detail`
//! (see `manifests/README.md`).

pub mod read;
pub mod row;
pub mod write;

pub use row::{InvalidReason, Kind, ManifestRow, SkipReason, Status};
