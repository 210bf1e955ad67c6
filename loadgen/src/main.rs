//! `loadgen`: load generator for the vote engine. See `loadgen --help`.

use std::process::ExitCode;

use vote_loadgen::cli;

fn main() -> ExitCode {
    match cli::parse(std::env::args_os()) {
        Ok(parsed) => cli::main(parsed),
        Err(exit) => exit.report(),
    }
}
