//! boxlift moves very large directory trees into Box (box.com) as fast as Box allows,
//! without losing or duplicating a file, and proves at the end that every file arrived
//! with the right SHA-1.
//!
//! # Layout
//!
//! One module per pipeline stage:
//!
//! ```text
//! cli ─► config (TOML file, under flags and env) ─► cmd::<verb>
//! scan (walkdir) ─bounded─► hash (rayon, mmap) ─► manifest (CSV, streamed)
//!                                   │ ManifestRow
//! state (skip what is done) ───────►plan (folders, upload kind, conflicts, estimates)
//!                                   │ upload tasks (bounded)
//!                         upload (file + part semaphores)
//!                calls │                               │ Event
//!   box_api: pace ► auth ► retry ► reqwest ► Box       └─► report · progress · state
//! ```
//!
//! `box_api` is the only door to Box. The `emulator` is a Box-compatible server used by tests,
//! benches and `--emulator`; it shares only `box_api::model` (JSON shapes) with the client, so
//! a client bug cannot hide an emulator bug.
#![warn(missing_debug_implementations)]

pub mod box_api;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod emulator;
pub mod exit;
pub mod fsutil;
pub mod hash;
pub mod manifest;
pub mod plan;
pub mod progress;
pub mod report;
pub mod scan;
pub mod state;
pub mod upload;
