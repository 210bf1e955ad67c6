//! `vote-engine` binary: parse settings, then run the library's [`Application`].

use std::process::ExitCode;

use vote_engine::app::{declare, migrate};
use vote_engine::config::parse_cli;
use vote_engine::{Application, Command, recount};
use vote_runtime::shutdown;

fn main() -> ExitCode {
    let (command, settings) = match parse_cli(std::env::args_os()) {
        Ok(parsed) => parsed,
        Err(exit) => return exit.report(),
    };
    settings.logs.init();
    // One thread: the engine waits on I/O and one task owns the pipeline, so more threads would
    // only add cross-thread wake-ups (docs/decisions/001-single-threaded-runtime.md).
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async move {
        let stop = shutdown::on_signal();
        match command {
            Command::Recount { law } => {
                return Ok(recount::command(&settings.database, law.as_deref(), settings.revote_rule).await);
            }
            Command::Declare => {
                declare(&settings).await?;
                tracing::info!(broker = %settings.amqp_url, queues = settings.queues.len(), "topology declared");
            }
            Command::Migrate => {
                let applied = migrate(&settings.database, &stop).await?;
                tracing::info!(applied, database = %settings.database, "migrations applied");
            }
            Command::Run => {
                let app = Application::build(settings, &stop).await?;
                tracing::info!(port = app.ops_port(), "serving /metrics, /healthz and /readyz");
                app.run_until_stopped(stop).await?;
            }
        }
        anyhow::Ok(ExitCode::SUCCESS)
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            tracing::error!(error = format!("{e:#}"), "vote-engine failed");
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
