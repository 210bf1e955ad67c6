//! `poll-service` binary: parse settings, then build and run the service; or, as
//! `poll-service tabulate FILE ...`, count a cast-vote record and exit.

use std::process::ExitCode;

use vote_satellite_poll::build;
use vote_satellite_poll::config::parse_cli;
use vote_satellite_poll::tabulate;

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().collect();
    if tabulate::asked(&args) {
        return match tabulate::run(args) {
            Ok(text) => {
                print!("{text}");
                ExitCode::SUCCESS
            }
            Err(exit) => exit.report(),
        };
    }
    vote_satellite_kit::run_binary(parse_cli(args), build).await
}
