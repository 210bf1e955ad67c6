//! `order-callback` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_ordering::callback;
use vote_satellite_ordering::config::parse_callback_cli;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_callback_cli(std::env::args_os()), callback::build).await
}
