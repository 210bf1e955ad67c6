//! The `loadgen` command line: settings (flags mirroring env vars) and the commands.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;
use vote_mq::{AmqpUrl, QueueType};
use vote_runtime::logging::{self, LogFormat};
use vote_runtime::postgres::DbTarget;

use crate::drain::{DrainConfig, DrainReport, drain};
use crate::expected::Expected;
use crate::generate::{GeneratorConfig, random_law_prefix};
use crate::latency::{LatencySummary, end_to_end};
use crate::publish::{PublishConfig, PublishReport, publish};
use crate::verify::{Report, WaitOptions, wait_and_verify_with};
use crate::{DEFAULT_AMQP_URL, DEFAULT_DATABASE_URL, DEFAULT_QUEUE, DEFAULT_QUEUE_TYPE, Error};

/// Like `println!`, but a closed stdout (`loadgen ... | head -1`) is not an error: the work is
/// done and the reader has seen what it wanted.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

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
    /// Log level or filter (`warn`, `info,vote_mq=debug`); logs go to stderr.
    #[arg(long, env = "LOG_LEVEL", default_value = "warn", global = true)]
    pub log_level: String,
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
}

/// Where the broker and the queue are.
#[derive(Debug, Clone, Args)]
pub struct BrokerArgs {
    /// AMQP URI of the broker (vhost percent-encoded: `/%2f` is `/`).
    #[arg(long, env = "AMQP_URL", default_value = DEFAULT_AMQP_URL, hide_env_values = true)]
    pub amqp_url: String,
    /// Queue of the engine; declared like the engine declares it (dead letters to
    /// `<queue>.dlq` through `votes.dlx`). Messages go to the default exchange with the queue
    /// name as routing key.
    #[arg(long, env = "RABBITMQ_QUEUE", default_value = DEFAULT_QUEUE)]
    pub queue: String,
    /// Type of the queue if it has to be declared: quorum or classic (as the engine's
    /// RABBITMQ_QUEUE_TYPE; an existing queue must match).
    #[arg(long, env = "RABBITMQ_QUEUE_TYPE", default_value_t = DEFAULT_QUEUE_TYPE)]
    pub queue_type: QueueType,
}

/// Where the database is.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL of the engine's database.
    #[arg(long, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL, hide_env_values = true)]
    pub database_url: String,
}

/// What to publish and how fast.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Messages to publish, duplicates and garbage included [default: 10000 unless --duration].
    #[arg(long)]
    pub count: Option<u64>,
    /// Publish for this long (`30s`, `2m`, `500ms`, or seconds); with --count, whichever ends first.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Target rate in messages per second over all connections [default: flat out].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Connections, each a confirming publisher.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Unconfirmed messages allowed per connection.
    #[arg(long, default_value_t = 1000)]
    pub window: usize,
    /// Number of laws (ids `<law-prefix>00001`...).
    #[arg(long, default_value_t = 100)]
    pub laws: u32,
    /// Number of distinct citizens; each votes at most once per law (duplicates aside).
    #[arg(long, default_value_t = 1_000_000)]
    pub citizens: u32,
    /// Zipf exponent of law popularity: 0 uniform, 1 classic skew, higher hotter.
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// Fraction of messages that are duplicates: half resends (same vote_hash), half revotes
    /// (same citizen and law, new vote_hash, same choice).
    #[arg(long, default_value_t = 0.05)]
    pub duplicate_ratio: f64,
    /// Fraction of messages that are garbage the engine must dead-letter (bad JSON, missing or
    /// empty fields, wrong types, bad choice or timestamp, over-long strings, NUL, invalid
    /// UTF-8, wrong envelopes, bodies over 64 KiB).
    #[arg(long, default_value_t = 0.01)]
    pub invalid_ratio: f64,
    /// Fraction of votes wrapped in a `vote.cast` event envelope.
    #[arg(long, default_value_t = 0.1)]
    pub envelope_ratio: f64,
    /// Seed of the message stream [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Prefix of this run's law ids, so verification only looks at this run [default: a random
    /// `law-xxxxxx-`].
    #[arg(long)]
    pub law_prefix: Option<String>,
    /// Where to write the expected totals (JSON).
    #[arg(long, default_value = "loadgen.expected.json")]
    pub expected: PathBuf,
    /// Give up when nothing was confirmed for this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub stall_timeout: Duration,
    /// Never draw the progress bar (it is only drawn on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

impl LoadArgs {
    /// The publish settings these flags describe.
    pub fn to_config(&self, broker: &BrokerArgs) -> PublishConfig {
        let generator = GeneratorConfig {
            law_prefix: self.law_prefix.clone().unwrap_or_else(random_law_prefix),
            laws: self.laws,
            citizens: self.citizens,
            zipf: self.zipf,
            duplicate_ratio: self.duplicate_ratio,
            invalid_ratio: self.invalid_ratio,
            envelope_ratio: self.envelope_ratio,
            seed: self.seed.unwrap_or_else(rand::random),
        };
        let count = match (self.count, self.duration) {
            (None, None) => Some(10_000),
            (count, _) => count,
        };
        PublishConfig {
            queue: broker.queue.clone(),
            queue_type: broker.queue_type,
            count,
            duration: self.duration,
            rate: self.rate,
            connections: self.connections,
            window: self.window,
            generator,
            stall_timeout: self.stall_timeout,
            progress: !self.no_progress,
            record_confirm_times: false,
        }
    }
}

/// `loadgen publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Load.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// How long to wait for the engine.
#[derive(Debug, Clone, Args)]
pub struct WaitArgs {
    /// Give up waiting for the expected total after this long, and compare what is there.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Once the total is reached, it must stay unchanged this long (catches late double counts).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    pub settle: Duration,
    /// Time between two looks at the database (one connection, one cheap query each).
    #[arg(long, default_value = "200ms", value_parser = parse_duration)]
    pub poll: Duration,
}

impl WaitArgs {
    fn options(&self) -> WaitOptions {
        WaitOptions { settle: self.settle, poll: self.poll, ..WaitOptions::with_timeout(self.timeout) }
    }
}

/// `loadgen verify`.
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The expected totals written by `publish`.
    #[arg(long, default_value = "loadgen.expected.json")]
    pub expected: PathBuf,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print the report as JSON on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `loadgen drain`.
#[derive(Debug, Clone, Args)]
pub struct DrainArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Unacked deliveries in flight per consumer.
    #[arg(long, default_value_t = 1000)]
    pub prefetch: u16,
    /// Consumers, each on its own connection.
    #[arg(long, default_value_t = 2)]
    pub consumers: usize,
    /// Ack with multiple=true every this many messages.
    #[arg(long, default_value_t = 250)]
    pub ack_every: u64,
    /// Stop once the queue stayed empty this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub idle_ms: u64,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `loadgen send`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Message bodies, e.g. a seed-format vote; read one per line from stdin when none given.
    pub bodies: Vec<String>,
}

/// `loadgen run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Load.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print a JSON summary on stdout (rate, counts, latency, verify result) instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Parses `250ms`, `30s`, `2m`, `1h` or a plain number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().map_err(|_| format!("not a duration: {text:?} (try 30s, 500ms, 2m)"))?;
    let seconds = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown duration unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
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
    let filter = match logging::parse_filter(&cli.log_level) {
        Ok(filter) => filter,
        Err(e) => {
            eprintln!("LOG_LEVEL: {e}");
            return ExitCode::from(2);
        }
    };
    logging::init(filter, LogFormat::Text);
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
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::from(if matches!(e, Error::Config(_)) { 2 } else { 3 })
        }
    }
}

/// Runs one command.
pub async fn run(command: Command) -> Result<Outcome, Error> {
    match command {
        Command::Publish(args) => publish_command(args).await,
        Command::Verify(args) => verify_command(args).await,
        Command::Drain(args) => drain_command(args).await,
        Command::Send(args) => send_command(args).await,
        Command::Run(args) => run_command(args).await,
    }
}

fn amqp_url(broker: &BrokerArgs) -> Result<AmqpUrl, Error> {
    AmqpUrl::parse(&broker.amqp_url).map_err(|e| Error::Config(format!("AMQP_URL: {e}")))
}

fn db_target(database: &DatabaseArgs) -> Result<DbTarget, Error> {
    DbTarget::parse(&database.database_url).map_err(|e| Error::Config(format!("DATABASE_URL: {e}")))
}

async fn publish_command(args: PublishArgs) -> Result<Outcome, Error> {
    let url = amqp_url(&args.broker)?;
    let config = args.load.to_config(&args.broker);
    let report = publish(&url, &config).await?;
    report.expected.write(&args.load.expected)?;
    if args.json {
        say!("{}", json!({ "publish": publish_json(&report, &config), "expected_file": args.load.expected }));
    } else {
        print_publish(&report, &config, &args.load.expected);
    }
    Ok(Outcome::Done)
}

async fn verify_command(args: VerifyArgs) -> Result<Outcome, Error> {
    let db = db_target(&args.database)?;
    let expected = Expected::read(&args.expected)?;
    let client = db.connect().await?;
    let report = verify_with_progress(&client, &expected, &args.wait.options(), !args.json).await?;
    if args.json {
        say!("{}", json!({ "exact": report.is_exact(), "verify": report }));
    } else {
        say!("{report}");
    }
    Ok(if report.is_exact() { Outcome::Done } else { Outcome::Mismatch })
}

async fn drain_command(args: DrainArgs) -> Result<Outcome, Error> {
    let url = amqp_url(&args.broker)?;
    let config = DrainConfig {
        queue: args.broker.queue.clone(),
        queue_type: args.broker.queue_type,
        prefetch: args.prefetch,
        consumers: args.consumers,
        ack_every: args.ack_every,
        idle: Duration::from_millis(args.idle_ms),
        limit: args.count,
        keep_bodies: false,
    };
    let report = drain(&url, &config).await?;
    if args.json {
        say!("{}", drain_json(&report, &config));
    } else {
        say!(
            "drained {} messages from {} in {:.2} s: {:.0} msg/s ({} consumers, prefetch {}, ack every {})",
            report.messages,
            config.queue,
            report.elapsed.as_secs_f64(),
            report.rate(),
            config.consumers,
            config.prefetch,
            config.ack_every
        );
    }
    Ok(Outcome::Done)
}

async fn send_command(args: SendArgs) -> Result<Outcome, Error> {
    let url = amqp_url(&args.broker)?;
    let bodies = if args.bodies.is_empty() {
        std::io::stdin()
            .lines()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("reading bodies from stdin: {e}")))?
    } else {
        args.bodies
    };
    crate::declare_queue(&url, &args.broker.queue, args.broker.queue_type).await?;
    let publisher = vote_mq::Publisher::connect(&url, "loadgen-send").await?;
    let mut sent = 0;
    for body in bodies.into_iter().filter(|b| !b.trim().is_empty()) {
        let message = vote_mq::OutgoingMessage::json("", &args.broker.queue, body.into_bytes());
        tokio::time::timeout(Duration::from_secs(30), publisher.publish(&message))
            .await
            .map_err(|_| Error::Stalled("no confirm within 30 s".to_owned()))??;
        sent += 1;
    }
    publisher.close().await;
    say!("sent {sent} message(s) to {}, confirmed", args.broker.queue);
    Ok(Outcome::Done)
}

async fn run_command(args: RunArgs) -> Result<Outcome, Error> {
    let url = amqp_url(&args.broker)?;
    let db = db_target(&args.database)?;
    // Reach the database before publishing anything, so a typo fails fast.
    let client = db.connect().await?;
    let config = PublishConfig { record_confirm_times: true, ..args.load.to_config(&args.broker) };
    let published = publish(&url, &config).await?;
    published.expected.write(&args.load.expected)?;
    if !args.json {
        print_publish(&published, &config, &args.load.expected);
    }
    let report = verify_with_progress(&client, &published.expected, &args.wait.options(), !args.json).await?;
    let latency = end_to_end(&client, &published.expected, &published.confirm_times).await?;
    let (total, after_confirm) = (LatencySummary::of(&latency.total), LatencySummary::of(&latency.after_confirm));
    if args.json {
        let summary = json!({
            "exact": report.is_exact(),
            "law_prefix": published.expected.law_prefix,
            "seed": published.expected.seed,
            "expected_file": args.load.expected,
            "publish": publish_json(&published, &config),
            "verify": report,
            "end_to_end_latency_us": total,
            "after_confirm_latency_us": after_confirm,
        });
        say!("{summary}");
    } else {
        say!("{report}");
        say!("end-to-end latency (vote_audit.recorded_at - timestamp): {total}");
        say!("  of which after the broker's confirm (delivery, batching, write): {after_confirm}");
    }
    Ok(if report.is_exact() { Outcome::Done } else { Outcome::Mismatch })
}

async fn verify_with_progress(
    client: &tokio_postgres::Client,
    expected: &Expected,
    options: &WaitOptions,
    show: bool,
) -> Result<Report, Error> {
    let bar = if show && std::io::stderr().is_terminal() {
        let bar = ProgressBar::new(expected.total);
        if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {human_pos}/{human_len} counted")
        {
            bar.set_style(style);
        }
        bar
    } else {
        ProgressBar::hidden()
    };
    let on_poll = bar.clone();
    let report = wait_and_verify_with(client, expected, options, &mut move |total| on_poll.set_position(total)).await;
    bar.finish_and_clear();
    report
}

fn publish_json(report: &PublishReport, config: &PublishConfig) -> serde_json::Value {
    let e = &report.expected;
    json!({
        "queue": config.queue,
        "law_prefix": e.law_prefix,
        "seed": e.seed,
        "connections": config.connections,
        "window": config.window,
        "target_rate": config.rate,
        "messages": e.messages_sent,
        "seconds": report.elapsed.as_secs_f64(),
        "rate": report.rate(),
        "unique_votes": e.total,
        "oui": e.oui,
        "non": e.non,
        "duplicates_sent": e.duplicates_sent,
        "invalid_sent": e.invalid_sent,
        "envelopes_sent": e.envelopes_sent,
        "republished": e.republished,
        "confirm_latency_us": report.confirm_summary(),
    })
}

fn print_publish(report: &PublishReport, config: &PublishConfig, path: &std::path::Path) {
    let e = &report.expected;
    say!(
        "published {} messages to {} in {:.2} s: {:.0} msg/s ({} connections, window {})",
        e.messages_sent,
        config.queue,
        report.elapsed.as_secs_f64(),
        report.rate(),
        config.connections,
        config.window
    );
    say!(
        "  unique votes {} (oui {}, non {}), duplicates {} ({} resends, {} revotes), invalid {}, envelopes {}, republished {}",
        e.total,
        e.oui,
        e.non,
        e.duplicates_sent,
        e.resends_sent,
        e.revotes_sent,
        e.invalid_sent,
        e.envelopes_sent,
        e.republished
    );
    say!("  confirm latency: {}", report.confirm_summary());
    say!("  expected totals written to {} (law prefix {}, seed {})", path.display(), e.law_prefix, e.seed);
}

fn drain_json(report: &DrainReport, config: &DrainConfig) -> serde_json::Value {
    json!({
        "queue": config.queue,
        "messages": report.messages,
        "seconds": report.elapsed.as_secs_f64(),
        "rate": report.rate(),
        "consumers": config.consumers,
        "prefetch": config.prefetch,
        "ack_every": config.ack_every,
    })
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn durations_take_units() {
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("soon").is_err());
        assert!(parse_duration("3 weeks").is_err());
    }

    #[test]
    fn publish_defaults_to_ten_thousand_messages_unless_a_duration_is_given() {
        let parse = |args: &[&str]| match Cli::try_parse_from(args).unwrap().command {
            Command::Publish(p) => p.load.to_config(&p.broker),
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
