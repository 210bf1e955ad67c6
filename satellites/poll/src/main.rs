//! `poll-service` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_poll::build;
use vote_satellite_poll::config::parse_cli;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_cli(std::env::args_os()), build).await
}
