//! `loadgen`: load generator for the vote engine. See `loadgen --help`.

use std::process::ExitCode;

use clap::Parser;
use vote_loadgen::cli::{self, Cli};

fn main() -> ExitCode {
    cli::main(Cli::parse())
}
