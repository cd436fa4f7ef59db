//! boxlift's integration tests: one binary, one module per behaviour story. Every test talks to
//! the Box-compatible emulator over real HTTP on 127.0.0.1, or runs the built `boxlift` binary.
mod common;

mod ceiling;
mod client;
mod clients;
mod config;
mod contract;
mod deploy;
mod docs;
mod emulator;
mod layout;
mod migrate;
mod newcomer;
mod permissions;
mod report;
mod scan;
mod shard;
mod verify;
