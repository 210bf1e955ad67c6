//! What a satellite binary's `main` does once clap has run: print and exit on `--help` or a
//! bad setting, set up logging, run the service until SIGTERM / SIGINT, report a failure.

use std::future::Future;
use std::process::ExitCode;

use vote_runtime::cli::Exit;
use vote_runtime::shutdown;

use crate::config::ServiceSettings;
use crate::{Application, Error};

/// Runs a service binary: `parsed` is the outcome of the binary's `parse_cli`; `build` builds
/// the service from the settings, which then runs until the first SIGTERM or SIGINT. Exit code
/// 0 after a clean stop, 1 when the service failed, 2 for bad settings (also those checked at
/// start, such as an unreadable AUTH_JWKS_FILE).
pub async fn run_binary<S, F, Fut>(parsed: Result<S, Exit>, build: F) -> ExitCode
where
    S: AsRef<ServiceSettings>,
    F: FnOnce(S) -> Fut,
    Fut: Future<Output = Result<Application, Error>>,
{
    let settings = match parsed {
        Ok(settings) => settings,
        Err(exit) => return exit.report(),
    };
    let service = settings.as_ref();
    service.logs.init();
    let name = service.service_name.clone();
    let outcome = async { build(settings).await?.run_until_stopped(shutdown::on_signal()).await };
    match outcome.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(Error::Config(e)) => Exit::invalid(e).report(),
        Err(e) => {
            tracing::error!(error = %e, service = %name, "service failed");
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
