//! `election-service` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_election::config::parse_election_cli;
use vote_satellite_election::election;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_election_cli(std::env::args_os()), election::build_with_page).await
}
