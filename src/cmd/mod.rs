//! One file per verb: arguments in, one library call, printing and an [`ExitCode`] out.
//! `anyhow` lives here (and in `cli`'s conversions and `main`), typed errors everywhere below.
use crate::cli::{Cli, Command, GlobalArgs, LogFormat};
use crate::exit::ExitCode;
use crate::log::STATUS_TARGET;

pub mod audit;
pub mod emulator;
pub mod migrate;
pub mod permissions;
pub mod report;
pub mod scan;
pub mod shell;
pub mod status;
pub mod verify;

/// Run the verb the user asked for.
pub fn run(cli: Cli) -> ExitCode {
    let format = cli.global.log_format;
    if let Err(err) = init_tracing(&cli.global) {
        fail_before_start(&*err, format == LogFormat::Json);
        return ExitCode::CouldNotRun;
    }
    let result = match cli.command {
        Command::Scan(args) => scan::run(args, &cli.global),
        Command::Audit(args) => audit::run(args, &cli.global),
        Command::Migrate(args) => migrate::run(*args, &cli.global),
        Command::Permissions(args) => permissions::run(args, &cli.global),
        Command::Verify(args) => verify::run(args, &cli.global),
        Command::Emulator(args) => emulator::run(*args, &cli.global),
        Command::Report(args) => report::run(args, &cli.global),
        Command::Status(args) => status::run(args, &cli.global),
        Command::Completions(args) => shell::completions(args),
        Command::Man(args) => shell::man(args),
    };
    let code = match result {
        Ok(code) => code,
        Err(err) => {
            let err = chain_text(err.as_ref());
            match format {
                LogFormat::Text => crate::log::text_line(true, &format!("error: {err}")),
                LogFormat::Json => {
                    tracing::error!(target: STATUS_TARGET, error = %err, "could not run")
                }
            }
            ExitCode::CouldNotRun
        }
    };
    crate::log::exit_line(code.code(), exit_reason(code));
    code
}

/// The exit code in words, for the text log file's last line.
fn exit_reason(code: ExitCode) -> &'static str {
    match code {
        ExitCode::Success => "success",
        ExitCode::SomeFailed => "some rows failed or differ (see the report)",
        ExitCode::CouldNotRun => "could not run (the error is above)",
        ExitCode::Interrupted => "interrupted; a re-run resumes",
        ExitCode::MoreToDo => "--max-duration reached; a re-run carries on",
    }
}

/// `--json`: one JSON document on stdout, pretty-printed, then a newline.
pub(crate) fn print_json(v: &serde_json::Value) -> std::io::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, v)?;
    writeln!(out)?;
    out.flush()
}

/// Add `extra`'s fields (a struct serialized as an object) to the object `v`.
pub(crate) fn merge_json(v: &mut serde_json::Value, extra: &impl serde::Serialize) {
    if let (Some(obj), Ok(serde_json::Value::Object(more))) =
        (v.as_object_mut(), serde_json::to_value(extra))
    {
        obj.extend(more);
    }
}

/// Report an error found before any verb runs (the config file), as text or one JSON line.
pub fn fail_before_start(err: &(dyn std::error::Error + 'static), json: bool) {
    if json {
        let line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "ERROR",
            "fields": { "message": "could not run", "error": chain_text(err) },
            "target": STATUS_TARGET,
        });
        eprintln!("{line}");
    } else {
        eprintln!("boxlift: error: {}", chain_text(err));
    }
}

/// An error and its causes on one line, `a: b: c`, leaving out a cause whose text the line
/// already holds (a message that quotes its source would otherwise say it twice). A Box
/// error's text already says its cause in words (host, "connection refused", the file and
/// the OS error), so the chain ends there, before reqwest's "error sending request".
pub fn chain_text(err: &(dyn std::error::Error + 'static)) -> String {
    use crate::box_api::ApiError;
    let is_api = |e: &(dyn std::error::Error + 'static)| {
        e.downcast_ref::<ApiError>().is_some() || e.downcast_ref::<Box<ApiError>>().is_some()
    };
    let mut line = err.to_string();
    let mut next = (!is_api(err)).then(|| err.source()).flatten();
    while let Some(e) = next {
        let text = e.to_string();
        if !text.is_empty() && !line.contains(&text) {
            line.push_str(": ");
            line.push_str(&text);
        }
        next = (!is_api(e)).then(|| e.source()).flatten();
    }
    line
}

/// Logs to stderr (suspending the progress bar, colours only on a terminal) and, with
/// `--log-file`, to that file too (no colours; created with its directory).
fn init_tracing(global: &GlobalArgs) -> anyhow::Result<()> {
    use std::io::IsTerminal;

    use anyhow::Context;
    use tracing_subscriber::EnvFilter;
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    let default = match global.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Status events replace the text status lines under json, so they show without -v.
    let default = format!("{default},{STATUS_TARGET}=info");
    let filter = EnvFilter::try_from_env("BOXLIFT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let json = global.log_format == LogFormat::Json;
    let stderr = tracing_subscriber::fmt::layer()
        .with_writer(crate::log::StderrLines)
        .with_ansi(std::io::stderr().is_terminal());
    let stderr = if json {
        stderr.json().boxed()
    } else {
        stderr.boxed()
    };
    let file = match &global.log_file {
        None => None,
        Some(path) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir).with_context(|| {
                    format!("--log-file: cannot create the directory {}", dir.display())
                })?;
            }
            let f = crate::log::LogFile::open(path, global.log_format)
                .with_context(|| format!("--log-file: cannot open {}", path.display()))?;
            let layer = tracing_subscriber::fmt::layer()
                .with_writer(f)
                .with_ansi(false);
            Some(if json {
                layer.json().boxed()
            } else {
                layer.boxed()
            })
        }
    };
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(stderr)
        .with(file)
        .try_init();
    Ok(())
}
