//! `meeting-service` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_election::config::{MEETING_DEFAULTS, parse_cli};
use vote_satellite_election::meeting;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_cli(&MEETING_DEFAULTS, std::env::args_os()), meeting::build).await
}
