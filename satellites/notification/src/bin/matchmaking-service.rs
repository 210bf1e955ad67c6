//! `matchmaking-service` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_notification::config::parse_matchmaking_cli;
use vote_satellite_notification::matchmaking;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_matchmaking_cli(std::env::args_os()), matchmaking::build).await
}
