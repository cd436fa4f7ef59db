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
        (LogFormat::Text, _) => write_stderr(format!("boxlift: {msg}\n").as_bytes()),
        (LogFormat::Json, false) => tracing::info!(target: STATUS_TARGET, "{msg}"),
        (LogFormat::Json, true) => tracing::warn!(target: STATUS_TARGET, "{msg}"),
    }
}

/// The progress bar on stderr now, if any: lines written while it is drawn must suspend it,
/// or each one leaves a copy of the bar behind (issue 12 item 6).
static BAR: std::sync::Mutex<Option<indicatif::ProgressBar>> = std::sync::Mutex::new(None);

/// Register (or, with `None`, forget) the bar drawn on stderr.
pub fn set_bar(bar: Option<indicatif::ProgressBar>) {
    *BAR.lock().unwrap_or_else(|e| e.into_inner()) = bar;
}

/// Write to stderr at once, with the bar (if any) cleared meanwhile and drawn again after.
pub fn write_stderr(buf: &[u8]) {
    use std::io::Write;
    let bar = BAR.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let write = || {
        let _ = std::io::stderr().lock().write_all(buf);
    };
    match bar {
        Some(b) => b.suspend(write),
        None => write(),
    }
}

/// The tracing writer for stderr: each event is buffered and written whole by
/// [`write_stderr`], so log lines and the progress bar never interleave.
#[derive(Debug, Clone, Copy, Default)]
pub struct StderrLines;

/// One event's text, written out when tracing drops it.
#[derive(Debug, Default)]
pub struct StderrLine(Vec<u8>);

impl std::io::Write for StderrLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for StderrLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            write_stderr(&self.0);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for StderrLines {
    type Writer = StderrLine;

    fn make_writer(&'a self) -> Self::Writer {
        StderrLine::default()
    }
}
