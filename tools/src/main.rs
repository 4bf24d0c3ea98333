//! The `profiledb` command: parse, run, map the outcome to an exit code.

use clap::Parser;
use profiledb_tools::{run, Cli, Outcome};
use std::io::Write;
use std::process::ExitCode;

// The engine makes many short-lived allocations while ingesting; mimalloc's per-thread
// free lists serve them far faster than glibc malloc.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // clap prints usage errors itself and exits with status 2.
    let cli = Cli::parse();
    match run(&cli) {
        Ok(Outcome::Clean) => ExitCode::SUCCESS,
        Ok(Outcome::ProblemsFound) => ExitCode::from(1),
        // A reader that stopped early (`profiledb dump | head`) is not a failure.
        Err(error) if error.is_broken_pipe() => ExitCode::SUCCESS,
        Err(error) => {
            // Ignore a closed stderr: there is nowhere left to report to.
            let mut stderr = std::io::stderr().lock();
            let _ = writeln!(stderr, "error: {error}");
            if let Some(hint) = error.hint() {
                let _ = writeln!(stderr, "hint: {hint}");
            }
            ExitCode::from(error.exit_code())
        }
    }
}
