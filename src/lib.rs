//! boxlift moves very large directory trees into Box (box.com) as fast as Box allows,
//! without losing or duplicating a file, and proves at the end that every file arrived
//! with the right SHA-1.
//!
//! # Layout
//!
//! One module per pipeline stage. Imports only point down this order (`tests/layout.rs`
//! enforces it), so no stage knows who sits above it:
//!
//! ```text
//! leaves     exit · log · manifest · box_api · model (Event, ReportRow, Cancel)
//! stages     hash ◄ scan ◄ state ◄ plan ◄ upload
//! observers  report · progress
//! job        migrate::run(MigrateConfig, Cancel) -> Summary
//! CLI        cli (clap, the TOML config → resolved configs) ◄ cmd (one file per verb)
//! ```
//!
//! The data flow of [`migrate::run`]: one event stream, observed by the report, the state
//! journal and progress.
//!
//! ```text
//! scan (thread) ─► manifest CSV ─► plan::Planner (ManifestRow; journal: skip what is done)
//!                                       │ Work (bounded)
//! upload::execute (tokio) ─► box_api: pace ► auth ► retry ► reqwest ─► Box
//!        │ Event                              │ Retried (retry hook)
//!        └──────────────► sink thread: progress · state · report · summary · Observer
//! ```
//!
//! `audit` and `verify` are the read-only verbs' stages (`audit::run`, `verify::run`), on-disk
//! indexes instead of in-memory trees so their memory does not grow with the tree.
//!
//! `box_api` is the only door to Box. The `emulator` is a Box-compatible server used by tests,
//! benches and `--emulator`; it shares only `box_api::model` (JSON shapes) with the client, so
//! a client bug cannot hide an emulator bug.
#![warn(missing_debug_implementations)]

pub mod audit;
pub mod box_api;
pub mod cli;
pub mod cmd;
pub mod emulator;
pub mod exit;
pub mod fsutil;
pub mod hash;
pub mod log;
pub mod manifest;
pub mod metrics;
pub mod migrate;
pub mod model;
pub mod permissions;
pub mod plan;
pub mod progress;
pub mod report;
pub mod scan;
pub mod state;
pub mod upload;
pub mod verify;
