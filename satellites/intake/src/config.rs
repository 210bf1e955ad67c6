//! Settings: one environment variable per knob, each with a CLI flag; a bad value is one line
//! naming the variable (exit code 2), and the receipt key never appears in a message.

use std::ffi::OsString;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use vote_mq::AmqpUrl;
use vote_mq::config::BrokerArgs;
use vote_runtime::cli::Exit;
use vote_runtime::config::{self, ConfigError, Database, DatabaseArgs, LogArgs, LogSettings, Validate};
use vote_satellite_kit::auth::AuthArgs;

/// Shortest INTAKE_RECEIPT_KEY accepted, in bytes: an HMAC key as strong as its SHA-256.
pub const MIN_RECEIPT_KEY_BYTES: usize = 32;
/// Most votes one `vote.batch` message may carry (the engine's 64 KiB body holds ~150 votes of
/// the longest identifiers; the byte size closes a batch too).
const MAX_BATCH_SIZE: usize = 1000;
/// Longest linger accepted, in milliseconds.
const MAX_LINGER_MS: u64 = 100;
/// Longest wait for a confirm: a request must have its answer within a second.
const CONFIRM_TIMEOUT_MS: std::ops::RangeInclusive<u64> = 50..=900;

/// Settings as given.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "vote-intake",
    version,
    about = "vote-intake: votes over HTTP with a proven identity, acknowledged once the broker confirmed them."
)]
pub struct Args {
    /// The broker (the intake's user may only publish votes, see scripts/rabbitmq-users.sh).
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Queue the engine consumes: votes are published to it through the default exchange (the
    /// engine declares it).
    #[arg(long, env = "RABBITMQ_QUEUE", value_name = "RABBITMQ_QUEUE", default_value = "votes.aggregation")]
    pub rabbitmq_queue: String,
    /// The engine's database, read to answer 409 to a changed vote once the first is counted
    /// (SELECT on `vote_audit (vote_hash)` is enough: sql/roles/intake_role.sql).
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Port of the API and /metrics, /healthz, /readyz.
    #[arg(long, env = "HTTP_PORT", value_name = "HTTP_PORT", default_value_t = 5030)]
    pub http_port: u16,
    /// Secret key of the receipts (HMAC-SHA256), at least 32 bytes: whoever holds it can tell
    /// a citizen's receipt, so it stays with the intake. Changing it changes every receipt.
    #[arg(long, env = "INTAKE_RECEIPT_KEY", value_name = "INTAKE_RECEIPT_KEY", hide_env_values = true)]
    pub intake_receipt_key: Option<SecretString>,
    /// Most votes in one `vote.batch` message.
    #[arg(long, env = "INTAKE_BATCH_SIZE", value_name = "INTAKE_BATCH_SIZE", default_value_t = 100)]
    pub intake_batch_size: usize,
    /// How long the first vote of a batch waits for company before the batch is published, in
    /// milliseconds.
    #[arg(long, env = "INTAKE_BATCH_LINGER_MS", value_name = "INTAKE_BATCH_LINGER_MS", default_value_t = 2)]
    pub intake_batch_linger_ms: u64,
    /// How long a request waits for the broker's confirm before it is answered 503, in
    /// milliseconds (at most 900: every answer comes within a second).
    #[arg(long, env = "INTAKE_CONFIRM_TIMEOUT_MS", value_name = "INTAKE_CONFIRM_TIMEOUT_MS", default_value_t = 800)]
    pub intake_confirm_timeout_ms: u64,
    /// Requests one citizen (or gateway) may make per minute, on average.
    #[arg(long, env = "INTAKE_RATE_PER_MINUTE", value_name = "INTAKE_RATE_PER_MINUTE", default_value_t = 60)]
    pub intake_rate_per_minute: u32,
    /// Requests one caller may make at once above the average.
    #[arg(long, env = "INTAKE_RATE_BURST", value_name = "INTAKE_RATE_BURST", default_value_t = 20)]
    pub intake_rate_burst: u32,
    /// Bearer-token authentication (AUTH_*), checked at start.
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Logging.
    #[command(flatten)]
    pub logs: LogArgs,
}

/// How votes are grouped into messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Batching {
    /// INTAKE_BATCH_SIZE.
    pub max_votes: usize,
    /// INTAKE_BATCH_LINGER_MS.
    pub linger: Duration,
}

/// Per-caller request rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// INTAKE_RATE_PER_MINUTE.
    pub per_minute: u32,
    /// INTAKE_RATE_BURST.
    pub burst: u32,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The broker.
    pub amqp_url: AmqpUrl,
    /// RABBITMQ_QUEUE.
    pub queue: String,
    /// The engine's database.
    pub database: Database,
    /// HTTP port (0 picks a free one).
    pub http_port: u16,
    /// INTAKE_RECEIPT_KEY's bytes.
    pub receipt_key: SecretSlice<u8>,
    /// Grouping of votes.
    pub batching: Batching,
    /// INTAKE_CONFIRM_TIMEOUT_MS.
    pub confirm_timeout: Duration,
    /// Per-caller limit.
    pub rate: RateLimit,
    /// AUTH_* as given, checked and read at start.
    pub auth: AuthArgs,
    /// Logging.
    pub logs: LogSettings,
}

impl Validate for Args {
    type Settings = Settings;

    fn validate(self) -> Result<Settings, ConfigError> {
        let key = self.intake_receipt_key.unwrap_or_default();
        if key.expose_secret().len() < MIN_RECEIPT_KEY_BYTES {
            return Err(ConfigError::new(
                "INTAKE_RECEIPT_KEY",
                format!("required, at least {MIN_RECEIPT_KEY_BYTES} bytes (e.g. openssl rand -hex 32)"),
            ));
        }
        if !(1..=MAX_BATCH_SIZE).contains(&self.intake_batch_size) {
            return Err(ConfigError::new("INTAKE_BATCH_SIZE", format!("must be from 1 to {MAX_BATCH_SIZE}")));
        }
        if self.intake_batch_linger_ms > MAX_LINGER_MS {
            return Err(ConfigError::new("INTAKE_BATCH_LINGER_MS", format!("must be at most {MAX_LINGER_MS}")));
        }
        if !CONFIRM_TIMEOUT_MS.contains(&self.intake_confirm_timeout_ms) {
            return Err(ConfigError::new(
                "INTAKE_CONFIRM_TIMEOUT_MS",
                format!("must be from {} to {}", CONFIRM_TIMEOUT_MS.start(), CONFIRM_TIMEOUT_MS.end()),
            ));
        }
        if self.intake_rate_per_minute == 0 {
            return Err(ConfigError::new("INTAKE_RATE_PER_MINUTE", "must be at least 1"));
        }
        if self.intake_rate_burst == 0 {
            return Err(ConfigError::new("INTAKE_RATE_BURST", "must be at least 1"));
        }
        Ok(Settings {
            amqp_url: self.broker.validate()?,
            queue: config::non_empty("RABBITMQ_QUEUE", &self.rabbitmq_queue)?,
            database: self.database.validate()?,
            http_port: self.http_port,
            receipt_key: key.expose_secret().as_bytes().to_vec().into(),
            batching: Batching {
                max_votes: self.intake_batch_size,
                linger: Duration::from_millis(self.intake_batch_linger_ms),
            },
            confirm_timeout: Duration::from_millis(self.intake_confirm_timeout_ms),
            rate: RateLimit { per_minute: self.intake_rate_per_minute, burst: self.intake_rate_burst },
            auth: self.auth,
            logs: self.logs.validate()?,
        })
    }
}

/// Parses the command line and environment into validated settings; `Err` says what to print
/// and the exit code (0 for `--help` / `--version`, 2 for a bad value).
pub fn parse_cli<I, T>(args: I) -> Result<Settings, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    config::parse::<Args, _, _>(Args::command(), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "0123456789abcdef0123456789abcdef-hunter2";

    fn parse(args: &[&str]) -> Result<Settings, Exit> {
        let key = format!("--intake-receipt-key={KEY}");
        parse_cli(["vote-intake", key.as_str()].into_iter().chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let s = parse(&[]).unwrap();
        assert_eq!((s.http_port, s.queue.as_str()), (5030, "votes.aggregation"));
        assert_eq!(s.batching, Batching { max_votes: 100, linger: Duration::from_millis(2) });
        assert_eq!(s.confirm_timeout, Duration::from_millis(800));
        assert_eq!(s.rate, RateLimit { per_minute: 60, burst: 20 });
        assert_eq!(s.database.target.dbname(), "election_votes");
        assert_eq!(s.receipt_key.expose_secret(), KEY.as_bytes());
        assert!(!format!("{s:?}").contains(KEY), "the key stays out of Debug");
    }

    #[test]
    fn bad_values_give_one_line_naming_the_variable() {
        for (args, variable) in [
            (vec!["--intake-receipt-key", "short-hunter2"], "INTAKE_RECEIPT_KEY"),
            (vec!["--intake-batch-size", "0"], "INTAKE_BATCH_SIZE"),
            (vec!["--intake-batch-size", "1001"], "INTAKE_BATCH_SIZE"),
            (vec!["--intake-batch-linger-ms", "101"], "INTAKE_BATCH_LINGER_MS"),
            (vec!["--intake-confirm-timeout-ms", "901"], "INTAKE_CONFIRM_TIMEOUT_MS"),
            (vec!["--intake-confirm-timeout-ms", "10"], "INTAKE_CONFIRM_TIMEOUT_MS"),
            (vec!["--intake-rate-per-minute", "0"], "INTAKE_RATE_PER_MINUTE"),
            (vec!["--intake-rate-burst", "0"], "INTAKE_RATE_BURST"),
            (vec!["--http-port", "abc"], "HTTP_PORT"),
            (vec!["--amqp-url", "http://u:hunter2@host/"], "AMQP_URL"),
            (vec!["--rabbitmq-queue", ""], "RABBITMQ_QUEUE"),
            (vec!["--log-level", "loud"], "LOG_LEVEL"),
        ] {
            let exit = parse(&args).unwrap_err();
            assert_eq!(exit.code, 2, "{}", exit.message);
            assert!(exit.message.contains(variable), "{}", exit.message);
            assert!(!exit.message.contains('\n') && !exit.message.contains("hunter2"), "{}", exit.message);
        }
    }

    #[test]
    fn the_receipt_key_is_required() {
        let exit = parse_cli(["vote-intake"]).unwrap_err();
        assert_eq!(exit.code, 2);
        assert!(exit.message.contains("INTAKE_RECEIPT_KEY"), "{}", exit.message);
    }
}
