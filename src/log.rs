//! Log output settings shared by the library and the command line: the stderr line format and
//! the tracing target of operator-facing status events. A leaf, so `progress` and `migrate` can
//! log as the CLI asked without importing `cli` or `cmd`.

/// The tracing target of the events a scheduled job's log collector reads: periodic status and
/// the end-of-run summary. Under `--log-format json` it is shown at the default verbosity.
pub const STATUS_TARGET: &str = "boxlift::status";

/// Log line format on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// A line for the operator on stderr: plain text (`boxlift: ...`), or under `--log-format json`
/// a tracing event, so that every stderr line of a scheduled job is machine-readable.
pub fn notice(format: LogFormat, warn: bool, msg: &str) {
    match (format, warn) {
        (LogFormat::Text, _) => eprintln!("boxlift: {msg}"),
        (LogFormat::Json, false) => tracing::info!(target: STATUS_TARGET, "{msg}"),
        (LogFormat::Json, true) => tracing::warn!(target: STATUS_TARGET, "{msg}"),
    }
}
