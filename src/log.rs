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
        (LogFormat::Text, _) => text_line(warn, msg),
        (LogFormat::Json, false) => tracing::info!(target: STATUS_TARGET, "{msg}"),
        (LogFormat::Json, true) => tracing::warn!(target: STATUS_TARGET, "{msg}"),
    }
}

/// The progress bar on stderr now, if any: lines written while it is drawn must suspend it,
/// or each one leaves a copy of the bar behind.
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

/// The `--log-file`, shared by the tracing layer that writes into it and by the lines a text
/// log would otherwise miss: status lines, the summary and the exit reason, which text mode
/// prints on stderr or stdout rather than as tracing events.
static LOG_FILE: std::sync::Mutex<Option<LogFile>> = std::sync::Mutex::new(None);

/// An open `--log-file`: a tracing writer (each event written whole) and the target of
/// [`file_lines`].
#[derive(Debug, Clone)]
pub struct LogFile {
    file: std::sync::Arc<std::sync::Mutex<std::fs::File>>,
    /// Lines from [`file_lines`] are written only in text mode: under json the status and
    /// summary are already tracing events.
    text: bool,
}

impl LogFile {
    /// Open `path` for appending (its directory must exist) and make it the log file.
    pub fn open(path: &std::path::Path, format: LogFormat) -> std::io::Result<LogFile> {
        let f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        let log = LogFile {
            file: std::sync::Arc::new(std::sync::Mutex::new(f)),
            text: format == LogFormat::Text,
        };
        *LOG_FILE.lock().unwrap_or_else(|e| e.into_inner()) = Some(log.clone());
        Ok(log)
    }

    fn write(&self, buf: &[u8]) {
        use std::io::Write;
        let mut f = self.file.lock().unwrap_or_else(|e| e.into_inner());
        let _ = f.write_all(buf);
    }
}

/// One event's text for the log file, written whole when tracing drops it.
#[derive(Debug)]
pub struct LogFileLine(Vec<u8>, LogFile);

impl std::io::Write for LogFileLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for LogFileLine {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            self.1.write(&self.0);
        }
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogFile {
    type Writer = LogFileLine;

    fn make_writer(&'a self) -> Self::Writer {
        LogFileLine(Vec::new(), self.clone())
    }
}

/// In text mode, copy `text` (one or more lines) into the `--log-file`, if any, each line
/// stamped and levelled like the tracing lines around it.
pub fn file_lines(warn: bool, text: &str) {
    let Some(log) = LOG_FILE
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .filter(|l| l.text)
    else {
        return;
    };
    let stamp = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true);
    let level = if warn { " WARN" } else { " INFO" };
    let mut buf = String::new();
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        buf.push_str(&format!("{stamp} {level} {STATUS_TARGET}: {line}\n"));
    }
    log.write(buf.as_bytes());
}

/// A text line for the operator: `boxlift: msg` on stderr, and the same in the log file.
pub fn text_line(warn: bool, msg: &str) {
    write_stderr(format!("boxlift: {msg}\n").as_bytes());
    file_lines(warn, msg);
}

/// Why the process ends, for the log file (text mode; json logs have their own events):
/// `exit 2: could not run`.
pub fn exit_line(code: i32, reason: &str) {
    file_lines(code != 0, &format!("exit {code}: {reason}"));
}
