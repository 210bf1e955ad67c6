//! `order-service` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_ordering::config::parse_order_cli;
use vote_satellite_ordering::order;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_order_cli(std::env::args_os()), order::build).await
}
