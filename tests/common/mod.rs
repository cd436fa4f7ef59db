//! Shared test fixtures: temp trees, the in-process emulator, running the built binary.
#![allow(dead_code)]

pub mod emu;
pub mod rclone;
pub mod tls;
pub mod tree;

/// Path of the `boxlift` binary cargo built for these tests.
pub fn boxlift_bin() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_BIN_EXE_boxlift"))
}
