//! `inventory-service` binary: parse settings, then build and run the service.

use std::process::ExitCode;

use vote_satellite_ordering::config::parse_inventory_cli;
use vote_satellite_ordering::inventory;

#[tokio::main]
async fn main() -> ExitCode {
    vote_satellite_kit::run_binary(parse_inventory_cli(std::env::args_os()), inventory::build).await
}
