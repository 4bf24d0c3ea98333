//! The `profiledb` command: parse, run, map the outcome to an exit code.

use clap::Parser;
use profiledb_tools::{run, Cli, Outcome};
use std::process::ExitCode;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with status 2.
    let cli = Cli::parse();
    match run(&cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::ProblemsFound) => ExitCode::from(1),
        // A reader that stopped early (`profiledb dump | head`) is not a failure.
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            if let Some(hint) = error.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(1)
        }
    }
}
