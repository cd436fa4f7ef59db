//! One file per verb: arguments in, one library call, printing and an [`ExitCode`] out.
//! `anyhow` lives here (and in `cli`'s conversions and `main`), typed errors everywhere below.
use crate::cli::{Cli, Command, GlobalArgs, LogFormat};
use crate::exit::ExitCode;
use crate::log::STATUS_TARGET;

pub mod audit;
pub mod emulator;
pub mod migrate;
pub mod report;
pub mod scan;
pub mod verify;

/// Run the verb the user asked for.
pub fn run(cli: Cli) -> ExitCode {
    init_tracing(&cli.global);
    let format = cli.global.log_format;
    let result = match cli.command {
        Command::Scan(args) => scan::run(args, &cli.global),
        Command::Audit(args) => audit::run(args, &cli.global),
        Command::Migrate(args) => migrate::run(*args, &cli.global),
        Command::Verify(args) => verify::run(args, &cli.global),
        Command::Emulator(args) => emulator::run(*args, &cli.global),
        Command::Report(args) => report::run(args, &cli.global),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            let err = format!("{err:#}");
            match format {
                LogFormat::Text => eprintln!("boxlift: error: {err}"),
                LogFormat::Json => {
                    tracing::error!(target: STATUS_TARGET, error = %err, "could not run")
                }
            }
            ExitCode::CouldNotRun
        }
    }
}

/// Report an error found before any verb runs (the config file), as text or one JSON line.
pub fn fail_before_start(err: &dyn std::error::Error, json: bool) {
    if json {
        let line = serde_json::json!({
            "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
            "level": "ERROR",
            "fields": { "message": "could not run", "error": err.to_string() },
            "target": STATUS_TARGET,
        });
        eprintln!("{line}");
    } else {
        eprintln!("boxlift: error: {err}");
    }
}

fn init_tracing(global: &GlobalArgs) {
    use tracing_subscriber::EnvFilter;
    let default = match global.verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    // Status events replace the text status lines under json, so they show without -v.
    let default = format!("{default},{STATUS_TARGET}=info");
    let filter = EnvFilter::try_from_env("BOXLIFT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match global.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
