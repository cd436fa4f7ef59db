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

/// A finished process: its exit status, and what it printed (if captured).
pub trait Exited {
    /// The exit status.
    fn exit_status(&self) -> std::process::ExitStatus;
    /// Its output, for the failure message.
    fn printed(&self) -> String {
        String::new()
    }
}

impl Exited for std::process::Output {
    fn exit_status(&self) -> std::process::ExitStatus {
        self.status
    }
    fn printed(&self) -> String {
        format!(
            "\nstdout:\n{}\nstderr:\n{}",
            String::from_utf8_lossy(&self.stdout),
            String::from_utf8_lossy(&self.stderr)
        )
    }
}

impl Exited for std::process::ExitStatus {
    fn exit_status(&self) -> std::process::ExitStatus {
        *self
    }
}

/// Assert a finished process exited with `want`, showing its output when it did not.
#[track_caller]
pub fn assert_exit(out: &impl Exited, want: boxlift::exit::ExitCode) {
    assert_exit_with(out, want, "");
}

/// [`assert_exit`] with a word on why `want` is expected.
#[track_caller]
pub fn assert_exit_with(
    out: &impl Exited,
    want: boxlift::exit::ExitCode,
    why: impl std::fmt::Display,
) {
    let got = out.exit_status();
    assert_eq!(
        got.code(),
        Some(want.code()),
        "expected exit {want:?} ({}), got {got}: {why}{}",
        want.code(),
        out.printed()
    );
}
