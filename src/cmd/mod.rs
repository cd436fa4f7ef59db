//! One file per verb; each wires stages together and returns an [`ExitCode`]. `anyhow` lives
//! here and in `main`, typed errors everywhere below.
use crate::cli::{Cli, Command, GlobalArgs, LogFormat};
use crate::exit::ExitCode;

pub mod audit;
pub mod emulator;
pub mod migrate;
pub mod report;
pub mod scan;
pub mod verify;

/// Run the verb the user asked for.
pub fn run(cli: Cli) -> ExitCode {
    init_tracing(&cli.global);
    let result = match cli.command {
        Command::Scan(args) => scan::run(args, &cli.global),
        Command::Audit(args) => audit::run(args, &cli.global),
        Command::Migrate(args) => migrate::run(args, &cli.global),
        Command::Verify(args) => verify::run(args, &cli.global),
        Command::Emulator(args) => emulator::run(*args, &cli.global),
        Command::Report(args) => report::run(args, &cli.global),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("boxlift: error: {err:#}");
            ExitCode::CouldNotRun
        }
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
    let filter = EnvFilter::try_from_env("BOXLIFT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match global.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
}
