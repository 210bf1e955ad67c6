//! `notification-service` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_notification::config::parse_notification_cli;
use vote_satellite_notification::service;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_notification_cli(std::env::args_os()), service::build).await
}
