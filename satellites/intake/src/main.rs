//! `vote-intake` binary: parse settings, then run the library's [`Application`] until SIGTERM /
//! SIGINT. Exit code 2 for a bad setting (also a JWKS that cannot be read), 1 when it fails.

use std::process::ExitCode;

use vote_intake::Application;
use vote_intake::config::parse_cli;
use vote_runtime::cli::Exit;
use vote_runtime::shutdown;
use vote_satellite_kit::Error;

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
        Err(Error::Config(e)) => Exit::invalid(e).report(),
        Err(e) => {
            tracing::error!(error = %e, "vote-intake failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
