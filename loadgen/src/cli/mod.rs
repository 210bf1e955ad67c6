//! The `loadgen` command line: one module per subcommand (its flags and what it does); the
//! broker, database and log settings are the runtime's, with the same names as every binary.

/// Like `println!`, but a closed stdout (`loadgen ... | head -1`) is not an error: the work is
/// done and the reader has seen what it wanted.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod drain;
mod http;
mod publish;
mod run;
mod send;
mod verify;

use std::ffi::OsString;
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};
use vote_mq::QueueType;
use vote_runtime::cli::Exit;
use vote_runtime::config::{ConfigError, LogArgs, Validate};

pub use self::drain::DrainArgs;
pub use self::http::HttpArgs;
pub use self::publish::{LoadArgs, PublishArgs};
pub use self::run::RunArgs;
pub use self::send::SendArgs;
pub use self::verify::{VerifyArgs, WaitArgs};
use crate::{DEFAULT_QUEUE, DEFAULT_QUEUE_TYPE, Error};

const EXIT_CODES: &str = "Exit codes: 0 done (and exact, for verify and run); 1 the database differs from the \
expected totals; 2 invalid settings; 3 a server failed or could not be reached.";

/// Load generator for the vote engine: publishes votes with confirms, verifies exact totals,
/// measures the broker ceiling and end-to-end latency.
#[derive(Debug, Parser)]
#[command(name = "loadgen", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Logs (to stderr; LOG_LEVEL defaults to warn).
    #[command(flatten)]
    pub logs: LogArgs,
}

impl From<ConfigError> for Error {
    fn from(error: ConfigError) -> Self {
        Error::Config(error.to_string())
    }
}

/// Parses the command line and environment; a bad value is one line naming the variable,
/// exit code 2 (settings a command uses are checked when it starts, before any I/O).
pub fn parse<I, T>(args: I) -> Result<Cli, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let command = Cli::command()
        .mut_arg("log_level", |a| a.default_value("warn").global(true))
        .mut_arg("log_format", |a| a.global(true));
    vote_runtime::cli::parse(command, args)
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Publish votes (persistent, with publisher confirms) and write the exact expected totals.
    Publish(PublishArgs),
    /// Wait until PostgreSQL reaches the expected totals, then compare law by law.
    Verify(VerifyArgs),
    /// Consume and ack a queue as fast as possible, doing nothing else: the broker ceiling.
    Drain(DrainArgs),
    /// Publish hand-written message bodies as they are (arguments, or stdin lines when none).
    Send(SendArgs),
    /// Publish, then verify, then report end-to-end latency; the engine must be running.
    #[command(after_help = "End-to-end latency of a vote is vote_audit.recorded_at minus vote_audit.\"timestamp\": \
the timestamp is the publish time loadgen wrote into the vote, recorded_at is when the engine wrote the row \
inside the transaction that counted it (so commit time is not included). Only this run's laws are read. \
It is also given from the broker's confirm on (the same minus the message's send-to-confirm latency): \
with a quorum queue, which delivers a message when it confirms it, that is the engine's share \
(a classic queue can deliver before it confirms: such samples read 1 µs).\n\n\
Exit codes: 0 exact; 1 the database differs from the expected totals; 2 invalid settings; 3 a server failed \
or could not be reached.")]
    Run(RunArgs),
    /// Vote through vote-intake over HTTP (a token per citizen) and write the expected totals.
    Http(HttpArgs),
    /// Print a bearer token for the services, signed with the local development key.
    Token(crate::token::TokenArgs),
}

/// The engine's vote queue, as loadgen declares and addresses it.
#[derive(Debug, Clone, Args)]
pub struct QueueArgs {
    /// Queue of the engine; declared like the engine declares it (dead letters to
    /// `<queue>.dlq` through `votes.dlx`). Messages go to the default exchange with the queue
    /// name as routing key.
    #[arg(long, env = "RABBITMQ_QUEUE", default_value = DEFAULT_QUEUE)]
    pub queue: String,
    /// Type of the queue if it has to be declared: quorum or classic (as the engine's
    /// RABBITMQ_QUEUE_TYPE; an existing queue must match).
    #[arg(long, env = "RABBITMQ_QUEUE_TYPE", default_value_t = DEFAULT_QUEUE_TYPE)]
    pub queue_type: QueueType,
    /// Publish to this consistent-hash exchange instead, with each vote's law id as routing key:
    /// the sharded intake (`votes`, declared by an engine run with VOTE_SHARDS).
    #[arg(long)]
    pub exchange: Option<String>,
}

/// How a command ended when it did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Done; exact where a check was made.
    Done,
    /// The database differs from the expected totals.
    Mismatch,
}

/// Sets up logging and a runtime, runs the command, and maps the result to the exit code.
pub fn main(cli: Cli) -> ExitCode {
    let logs = match cli.logs.validate() {
        Ok(logs) => logs,
        Err(e) => return Exit::invalid(e).report(),
    };
    logs.init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("cannot start the async runtime: {e}");
            return ExitCode::from(3);
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::Mismatch) => ExitCode::from(1),
        Err(Error::Config(problem)) => Exit::invalid(problem).report(),
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(3)
        }
    }
}

/// Runs one command.
pub async fn run(command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Publish(args) => publish::publish_command(args).await,
        Command::Verify(args) => verify::verify_command(args).await,
        Command::Drain(args) => drain::drain_command(args).await,
        Command::Send(args) => send::send_command(args).await,
        Command::Run(args) => run::run_command(args).await,
        Command::Http(args) => http::http_command(args).await,
        Command::Token(args) => {
            say!("{}", crate::token::make_token(&args)?);
            Ok(Outcome::Done)
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn publish_defaults_to_ten_thousand_messages_unless_a_duration_is_given() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Publish(p) => p.load.to_config(&p.queue),
            other => panic!("{other:?}"),
        };
        let config = parse(&["loadgen", "publish"]);
        assert_eq!((config.count, config.duration, config.queue.as_str()), (Some(10_000), None, DEFAULT_QUEUE));
        let config = parse(&["loadgen", "publish", "--duration", "5s", "--law-prefix", "law-x-", "--seed", "3"]);
        assert_eq!((config.count, config.duration), (None, Some(Duration::from_secs(5))));
        assert_eq!((config.generator.law_prefix.as_str(), config.generator.seed), ("law-x-", 3));
        assert_ne!(
            parse(&["loadgen", "publish"]).generator.law_prefix,
            parse(&["loadgen", "publish"]).generator.law_prefix
        );
    }
}
