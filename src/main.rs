//! boxlift's entry point: parse the command line (with its config file), set up logging, run one
//! verb, exit with its code.
use boxlift::cli::config::{Failure, parse_cli};

fn main() {
    let cli = match parse_cli(std::env::args_os()) {
        Ok(cli) => cli,
        Err(Failure::Clap(err)) => err.exit(),
        Err(Failure::Config { error, json }) => {
            boxlift::cmd::fail_before_start(&error, json);
            std::process::exit(boxlift::exit::ExitCode::CouldNotRun.code());
        }
    };
    let code = boxlift::cmd::run(cli);
    std::process::exit(code.code());
}
