//! `results-service` binary: parse settings, then run the library's [`Application`] until
//! SIGTERM / SIGINT.

use std::process::ExitCode;

use vote_runtime::shutdown;
use vote_satellite_results::Application;
use vote_satellite_results::config::parse_cli;

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match parse_cli(std::env::args_os()) {
        Ok(settings) => settings,
        Err(exit) => return exit.report(),
    };
    settings.logs.init();
    let outcome = async { Application::build(&settings).await?.run_until_stopped(shutdown::on_signal()).await };
    match outcome.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "results-service failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
