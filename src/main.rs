//! boxlift's entry point: parse the command line, set up logging, run one verb, exit with its code.
use clap::Parser;

fn main() {
    let cli = boxlift::cli::Cli::parse();
    let code = boxlift::cmd::run(cli);
    std::process::exit(code.code());
}
