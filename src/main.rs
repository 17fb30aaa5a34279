//! `cellgate`: parse arguments, run the command, map errors to exit codes.

use std::process::ExitCode;

use clap::Parser;

mod commands;

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"))
        .format_timestamp_millis()
        .init();
    let cli = commands::Cli::parse();
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("cellgate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
