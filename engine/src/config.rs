//! Settings: the seed's environment variables (plus AMQP_URL / DATABASE_URL, which win when
//! set), each with a CLI flag. The broker, database and log groups are the runtime's (the same
//! names as every binary); the rest is the engine's own. clap reads the raw values, then
//! [`Validate`] checks them into [`Settings`]; any problem is one line naming the variable.

use std::time::Duration;

use clap::{Args, CommandFactory, Parser, Subcommand};
use vote_mq::config::BrokerArgs;
use vote_mq::{AmqpUrl, QueueTopology, QueueType, ShardSet};
use vote_runtime::cli::Exit;
use vote_runtime::config::{
    self, ConfigError, DatabaseArgs, LogArgs, LogSettings, Millis, Validate, at_least_one, non_empty,
};
use vote_runtime::postgres::DbTarget;

use crate::batch::BatchPolicy;
use crate::rule::RevoteRule;
use crate::store::WriteRetryPolicy;

/// The duration settings: `_MS`, or the seed's `_SECONDS` names.
const BATCH_TIMEOUT: Millis = Millis {
    variable: "BATCH_TIMEOUT_MS",
    seconds_variable: "BATCH_TIMEOUT_SECONDS",
    default: Duration::from_secs(1),
    zero_ok: false,
};
const RETRY_DELAY: Millis = Millis {
    variable: "RETRY_DELAY_MS",
    seconds_variable: "RETRY_DELAY_SECONDS",
    default: Duration::from_secs(1),
    zero_ok: true,
};
const SHUTDOWN_TIMEOUT: Millis = Millis {
    variable: "SHUTDOWN_TIMEOUT_MS",
    seconds_variable: "SHUTDOWN_TIMEOUT_SECONDS",
    default: Duration::from_secs(10),
    zero_ok: true,
};

/// Command line: an optional subcommand plus the settings flags.
#[derive(Debug, Parser)]
#[command(name = "vote-engine", version, about = "Batch vote aggregator: RabbitMQ -> PostgreSQL, exactly once.")]
pub struct Cli {
    /// What to do (default: run).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings, from flags or environment.
    #[command(flatten)]
    pub settings: RawSettings,
}

/// Subcommands.
#[derive(Debug, Clone, PartialEq, Eq, Subcommand)]
pub enum Command {
    /// Consume, count and ack votes until SIGTERM/SIGINT (the default).
    Run,
    /// Declare the broker topology and exit: the vote queue, or with VOTE_SHARDS the exchange and
    /// every shard with its dead-letter queue (for producers that start before any engine).
    Declare,
    /// Apply the database migrations and exit (run as the schema owner when the engine itself
    /// runs with a role that has no DDL rights).
    Migrate,
    /// Decide every recorded vote again by REVOTE_RULE (vote_audit and duplicate_attempts) and
    /// compare each law with vote_results and vote_audit; print each difference. Exit 0 when
    /// they agree, 1 when they differ, 3 when the recount cannot run, 4 when the law given is
    /// unknown. A read-only role is enough; the outcome is recorded in recount_runs when the
    /// role may write it.
    Recount {
        /// Recount only this law.
        #[arg(long, value_name = "LAW_ID", value_parser = parse_law_id)]
        law: Option<String>,
    },
}

/// A law id as the engine accepts it: not empty, at most 128 bytes, no NUL.
fn parse_law_id(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 128 || value.contains('\0') {
        return Err("a law id is 1 to 128 bytes without NUL".to_owned());
    }
    Ok(value.to_owned())
}

/// Settings as given; see [`Settings`] for their meaning once validated.
#[derive(Debug, Clone, Args)]
pub struct RawSettings {
    /// The broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// Queue to consume votes from (declared durable by the engine).
    #[arg(long, env = "RABBITMQ_QUEUE", value_name = "RABBITMQ_QUEUE", default_value = "votes.aggregation")]
    pub rabbitmq_queue: String,
    /// Type of the vote queue: quorum or classic. Must match the queue if it already exists.
    #[arg(long, env = "RABBITMQ_QUEUE_TYPE", value_name = "RABBITMQ_QUEUE_TYPE", default_value = "quorum")]
    pub rabbitmq_queue_type: String,
    /// Unacked deliveries in flight; with VOTES_PER_MESSAGE, must carry more than BATCH_SIZE
    /// votes [default: BATCH_SIZE x (MAX_INFLIGHT_BATCHES + 2) / VOTES_PER_MESSAGE].
    #[arg(long, env = "RABBITMQ_PREFETCH_COUNT", value_name = "RABBITMQ_PREFETCH_COUNT")]
    pub rabbitmq_prefetch_count: Option<u32>,
    /// Votes a message carries on average: 1, or more when producers send `vote.batch`
    /// messages; sizes the default prefetch in messages.
    #[arg(long, env = "VOTES_PER_MESSAGE", value_name = "VOTES_PER_MESSAGE", default_value_t = 1)]
    pub votes_per_message: usize,
    /// Direct exchange invalid votes are dead-lettered through.
    #[arg(long, env = "DEAD_LETTER_EXCHANGE", value_name = "DEAD_LETTER_EXCHANGE", default_value = "votes.dlx")]
    pub dead_letter_exchange: String,
    /// Dead-letter queue [default: <RABBITMQ_QUEUE>.dlq].
    #[arg(long, env = "DEAD_LETTER_QUEUE", value_name = "DEAD_LETTER_QUEUE")]
    pub dead_letter_queue: Option<String>,
    /// Shards of the sharded intake: queues <RABBITMQ_QUEUE>.0 ... .<N-1> behind the
    /// consistent-hash exchange VOTE_EXCHANGE (0: the single queue RABBITMQ_QUEUE).
    #[arg(long, env = "VOTE_SHARDS", value_name = "VOTE_SHARDS", default_value_t = 0)]
    pub vote_shards: u16,
    /// Shards this engine consumes, comma-separated (e.g. `0,1`) [default: all of VOTE_SHARDS].
    #[arg(long, env = "SHARD_INDEXES", value_name = "SHARD_INDEXES")]
    pub shard_indexes: Option<String>,
    /// Consistent-hash exchange of the sharded intake (producers publish there, routing key =
    /// law id).
    #[arg(long, env = "VOTE_EXCHANGE", value_name = "VOTE_EXCHANGE", default_value = "votes")]
    pub vote_exchange: String,
    /// Queues to consume instead of RABBITMQ_QUEUE, comma-separated, each dead-lettering to
    /// `<queue>.dlq` (for shards whose exchange and bindings are managed elsewhere).
    #[arg(long, env = "RABBITMQ_QUEUES", value_name = "RABBITMQ_QUEUES")]
    pub rabbitmq_queues: Option<String>,
    /// The database and the pool.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Votes per batch (flush when this many are pending).
    #[arg(long, env = "BATCH_SIZE", value_name = "BATCH_SIZE", default_value_t = 1000)]
    pub batch_size: usize,
    /// Flush when the oldest pending vote has waited this long, in milliseconds [default: 1000].
    #[arg(long, env = "BATCH_TIMEOUT_MS", value_name = "BATCH_TIMEOUT_MS")]
    pub batch_timeout_ms: Option<u64>,
    /// BATCH_TIMEOUT_MS under its older name, in seconds.
    #[arg(long, env = "BATCH_TIMEOUT_SECONDS", value_name = "BATCH_TIMEOUT_SECONDS")]
    pub batch_timeout_seconds: Option<f64>,
    /// How long the oldest vote of a non-full batch waits for company before it is written.
    #[arg(long, env = "BATCH_LINGER_MS", value_name = "BATCH_LINGER_MS", default_value_t = 2)]
    pub batch_linger_ms: u64,
    /// Batches written concurrently (each on its own connection).
    #[arg(long, env = "MAX_INFLIGHT_BATCHES", value_name = "MAX_INFLIGHT_BATCHES", default_value_t = 2)]
    pub max_inflight_batches: usize,
    /// Which of a citizen's votes on a law counts, whatever order they arrive in: `first` (the
    /// earliest timestamp) or `last` (the latest, for systems that allow re-voting); ties by
    /// vote_hash in byte order.
    #[arg(long, env = "REVOTE_RULE", value_name = "REVOTE_RULE", default_value = "first")]
    pub revote_rule: String,
    /// Attempts for a batch failing with a non-connection error before it is split.
    #[arg(long, env = "MAX_RETRY_ATTEMPTS", value_name = "MAX_RETRY_ATTEMPTS", default_value_t = 3)]
    pub max_retry_attempts: u32,
    /// First retry delay after a database error, in milliseconds; doubles per attempt (max
    /// 30 s) [default: 1000].
    #[arg(long, env = "RETRY_DELAY_MS", value_name = "RETRY_DELAY_MS")]
    pub retry_delay_ms: Option<u64>,
    /// RETRY_DELAY_MS under its older name, in seconds.
    #[arg(long, env = "RETRY_DELAY_SECONDS", value_name = "RETRY_DELAY_SECONDS")]
    pub retry_delay_seconds: Option<f64>,
    /// Port of /metrics, /healthz and /readyz.
    #[arg(long, env = "PROMETHEUS_PORT", value_name = "PROMETHEUS_PORT", default_value_t = 8001)]
    pub prometheus_port: u16,
    /// Logs.
    #[command(flatten)]
    pub logs: LogArgs,
    /// Distinct law_id label values exported in metrics (the rest are summed under `_other`).
    #[arg(long, env = "METRICS_MAX_LAWS", value_name = "METRICS_MAX_LAWS", default_value_t = 1000)]
    pub metrics_max_laws: usize,
    /// Apply migrations at start (false when a least-privilege role runs the engine).
    #[arg(long, env = "RUN_MIGRATIONS", value_name = "RUN_MIGRATIONS", default_value_t = true, action = clap::ArgAction::Set)]
    pub run_migrations: bool,
    /// On SIGTERM, how long to wait for in-flight batches before exiting, in milliseconds
    /// (unacked votes are redelivered and deduplicated) [default: 10000].
    #[arg(long, env = "SHUTDOWN_TIMEOUT_MS", value_name = "SHUTDOWN_TIMEOUT_MS")]
    pub shutdown_timeout_ms: Option<u64>,
    /// SHUTDOWN_TIMEOUT_MS under its older name, in seconds.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECONDS", value_name = "SHUTDOWN_TIMEOUT_SECONDS")]
    pub shutdown_timeout_seconds: Option<f64>,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Broker.
    pub amqp_url: AmqpUrl,
    /// The queues consumed (each with its dead-letter queue), one pipeline and one connection
    /// each.
    pub queues: Vec<QueueTopology>,
    /// The sharded intake they belong to, if sharded: declared whole on every (re)connect.
    pub shard_set: Option<ShardSet>,
    /// Prefetch (> batch size).
    pub prefetch: u16,
    /// Database.
    pub database: DbTarget,
    /// Connections opened at start.
    pub db_min_connections: usize,
    /// Pool size.
    pub db_max_connections: usize,
    /// When to flush.
    pub batch: BatchPolicy,
    /// Batches written concurrently.
    pub max_inflight_batches: usize,
    /// Database retry policy.
    pub retry: WriteRetryPolicy,
    /// Which of conflicting votes counts.
    pub revote_rule: RevoteRule,
    /// Ops HTTP port (0 = any free port).
    pub prometheus_port: u16,
    /// LOG_LEVEL and LOG_FORMAT.
    pub logs: LogSettings,
    /// Law label budget for metrics.
    pub metrics_max_laws: usize,
    /// Apply migrations at start.
    pub run_migrations: bool,
    /// Grace period for in-flight work on shutdown.
    pub shutdown_timeout: Duration,
}

impl Validate for RawSettings {
    type Settings = Settings;

    fn validate(self) -> Result<Settings, ConfigError> {
        let intake = self.intake()?;
        let amqp_url = self.broker.validate()?;
        let database = self.database.validate()?;
        let batch_size = at_least_one("BATCH_SIZE", self.batch_size)?;
        let max_inflight_batches = at_least_one("MAX_INFLIGHT_BATCHES", self.max_inflight_batches)?;
        let batch_timeout = BATCH_TIMEOUT.resolve(self.batch_timeout_ms, self.batch_timeout_seconds)?;
        let retry_delay = RETRY_DELAY.resolve(self.retry_delay_ms, self.retry_delay_seconds)?;
        let shutdown_timeout = SHUTDOWN_TIMEOUT.resolve(self.shutdown_timeout_ms, self.shutdown_timeout_seconds)?;
        let votes_per_message = at_least_one("VOTES_PER_MESSAGE", self.votes_per_message)?;
        let prefetch = match self.rabbitmq_prefetch_count {
            Some(p) if p as usize * votes_per_message <= batch_size => {
                return Err(ConfigError::new(
                    "RABBITMQ_PREFETCH_COUNT",
                    format!(
                        "must carry more than BATCH_SIZE ({batch_size}) votes at VOTES_PER_MESSAGE \
                         ({votes_per_message}) so the next batch fills while one commits"
                    ),
                ));
            }
            Some(p) => p,
            None => (batch_size * (max_inflight_batches + 2)).div_ceil(votes_per_message) as u32,
        };
        let prefetch = u16::try_from(prefetch).map_err(|_| {
            ConfigError::new(
                "RABBITMQ_PREFETCH_COUNT",
                "must be at most 65535 (lower BATCH_SIZE or MAX_INFLIGHT_BATCHES)",
            )
        })?;
        let revote_rule = self.revote_rule.parse().map_err(|e: String| ConfigError::new("REVOTE_RULE", e))?;
        if self.max_retry_attempts == 0 {
            return Err(ConfigError::new("MAX_RETRY_ATTEMPTS", "must be at least 1"));
        }
        let (queues, shard_set) = intake;
        Ok(Settings {
            amqp_url,
            queues,
            shard_set,
            prefetch,
            database: database.target,
            db_min_connections: database.min_connections,
            db_max_connections: database.max_connections,
            batch: BatchPolicy {
                max_size: batch_size,
                max_age: batch_timeout,
                linger: Duration::from_millis(self.batch_linger_ms).min(batch_timeout),
            },
            max_inflight_batches,
            retry: WriteRetryPolicy { initial_delay: retry_delay, max_attempts: self.max_retry_attempts },
            revote_rule,
            prometheus_port: self.prometheus_port,
            logs: self.logs.validate()?,
            metrics_max_laws: self.metrics_max_laws,
            run_migrations: self.run_migrations,
            shutdown_timeout,
        })
    }
}

impl RawSettings {
    /// The queues to consume and the shard set they belong to: the single queue (the seed's
    /// topology), shards of VOTE_SHARDS, or the RABBITMQ_QUEUES list.
    fn intake(&self) -> Result<(Vec<QueueTopology>, Option<ShardSet>), ConfigError> {
        let queue = non_empty("RABBITMQ_QUEUE", &self.rabbitmq_queue)?;
        let dead_letter_exchange = non_empty("DEAD_LETTER_EXCHANGE", &self.dead_letter_exchange)?;
        let queue_type: QueueType =
            self.rabbitmq_queue_type.parse().map_err(|e: String| ConfigError::new("RABBITMQ_QUEUE_TYPE", e))?;
        let one_dlq_only = |variable| {
            ConfigError::new(variable, "several queues each dead-letter to <queue>.dlq: leave DEAD_LETTER_QUEUE unset")
        };
        if let Some(list) = &self.rabbitmq_queues {
            if self.vote_shards > 0 {
                return Err(ConfigError::new("RABBITMQ_QUEUES", "set either RABBITMQ_QUEUES or VOTE_SHARDS, not both"));
            }
            let names = distinct_list("RABBITMQ_QUEUES", list, |name| Ok(name.to_owned()))?;
            if names.len() > 1 && self.dead_letter_queue.is_some() {
                return Err(one_dlq_only("RABBITMQ_QUEUES"));
            }
            let topology = |name: &String| {
                let dlq = self.dead_letter_queue.clone().unwrap_or_else(|| format!("{name}.dlq"));
                QueueTopology::new(name, &dead_letter_exchange, &dlq).with_queue_type(queue_type)
            };
            return Ok((names.iter().map(topology).collect(), None));
        }
        if self.vote_shards == 0 {
            if self.shard_indexes.is_some() {
                return Err(ConfigError::new("SHARD_INDEXES", "needs VOTE_SHARDS"));
            }
            let dlq = self.dead_letter_queue.clone().unwrap_or_else(|| format!("{queue}.dlq"));
            return Ok((
                vec![QueueTopology::new(&queue, &dead_letter_exchange, &dlq).with_queue_type(queue_type)],
                None,
            ));
        }
        if self.dead_letter_queue.is_some() {
            return Err(one_dlq_only("VOTE_SHARDS"));
        }
        let exchange = non_empty("VOTE_EXCHANGE", &self.vote_exchange)?;
        let set = ShardSet::new(&exchange, &queue, self.vote_shards, queue_type, &dead_letter_exchange);
        let indexes = match &self.shard_indexes {
            None => (0..self.vote_shards).collect(),
            Some(list) => distinct_list("SHARD_INDEXES", list, |index| match index.parse::<u16>() {
                Ok(i) if i < self.vote_shards => Ok(i),
                _ => Err(format!("{index:?} is not a shard index below VOTE_SHARDS ({})", self.vote_shards)),
            })?,
        };
        let consumed = indexes.into_iter().map(|i| set.shards[usize::from(i)].clone()).collect();
        Ok((consumed, Some(set)))
    }
}

/// A comma-separated list of distinct, non-empty items, each checked by `item`.
fn distinct_list<T: PartialEq>(
    variable: &'static str,
    list: &str,
    item: impl Fn(&str) -> Result<T, String>,
) -> Result<Vec<T>, ConfigError> {
    let mut items = Vec::new();
    for text in list.split(',').map(str::trim) {
        if text.is_empty() {
            return Err(ConfigError::new(variable, "an empty item in the list"));
        }
        let value = item(text).map_err(|e| ConfigError::new(variable, e))?;
        if items.contains(&value) {
            return Err(ConfigError::new(variable, format!("{text:?} is listed twice")));
        }
        items.push(value);
    }
    Ok(items)
}

impl Validate for Cli {
    type Settings = (Command, Settings);

    fn validate(self) -> Result<(Command, Settings), ConfigError> {
        Ok((self.command.unwrap_or(Command::Run), self.settings.validate()?))
    }
}

/// Parses the command line and environment into the command and validated settings; on
/// failure, the [`Exit`] says what to print (one line naming the variable, or the help text).
pub fn parse_cli<I, T>(args: I) -> Result<(Command, Settings), Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    config::parse::<Cli, _, _>(Cli::command(), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<(Command, Settings), (String, u8)> {
        parse_cli(std::iter::once("vote-engine").chain(args.iter().copied())).map_err(|e| (e.message, e.code))
    }

    #[test]
    fn seed_defaults() {
        let (command, s) = parse(&[]).unwrap();
        assert_eq!(command, Command::Run);
        assert_eq!(s.queues.len(), 1);
        assert_eq!(s.queues[0].queue, "votes.aggregation");
        assert_eq!(s.queues[0].dead_letter_queue, "votes.aggregation.dlq");
        assert_eq!(s.queues[0].queue_type, QueueType::Quorum);
        assert!(s.shard_set.is_none());
        assert_eq!(s.batch.max_size, 1000);
        assert_eq!(s.batch.max_age, Duration::from_secs(1));
        assert_eq!(s.retry.max_attempts, 3);
        assert_eq!(s.retry.initial_delay, Duration::from_secs(1));
        assert_eq!(s.prometheus_port, 8001);
        assert!(s.prefetch as usize > s.batch.max_size);
        assert_eq!(s.database.dbname(), "election_votes");
        assert_eq!(s.revote_rule, RevoteRule::First);
    }

    #[test]
    fn the_revote_rule_is_first_or_last() {
        let (_, s) = parse(&["--revote-rule", "last"]).unwrap();
        assert_eq!(s.revote_rule, RevoteRule::Last);
    }

    #[test]
    fn durations_are_milliseconds_or_the_seeds_seconds() {
        let (_, defaults) = parse(&[]).unwrap();
        assert_eq!(defaults.batch.max_age, Duration::from_secs(1));
        assert_eq!(defaults.retry.initial_delay, Duration::from_secs(1));
        assert_eq!(defaults.shutdown_timeout, Duration::from_secs(10));
        let (_, ms) =
            parse(&["--batch-timeout-ms", "250", "--retry-delay-ms", "20", "--shutdown-timeout-ms", "0"]).unwrap();
        let (_, seconds) = parse(&[
            "--batch-timeout-seconds",
            "0.25",
            "--retry-delay-seconds",
            "0.02",
            "--shutdown-timeout-seconds",
            "0",
        ])
        .unwrap();
        for s in [ms, seconds] {
            assert_eq!(s.batch.max_age, Duration::from_millis(250));
            assert_eq!(s.retry.initial_delay, Duration::from_millis(20));
            assert_eq!(s.shutdown_timeout, Duration::ZERO);
        }
    }

    #[test]
    fn the_default_prefetch_holds_the_same_votes_whatever_a_message_carries() {
        let (_, one) = parse(&[]).unwrap();
        let (_, hundred) = parse(&["--votes-per-message", "100"]).unwrap();
        assert_eq!((one.prefetch, hundred.prefetch), (4000, 40));
        let (_, given) = parse(&["--votes-per-message", "100", "--rabbitmq-prefetch-count", "11"]).unwrap();
        assert_eq!(given.prefetch, 11);
    }

    #[test]
    fn an_engine_consumes_the_shards_it_is_given_and_declares_them_all() {
        let (_, s) = parse(&["--vote-shards", "4", "--shard-indexes", "3, 1"]).unwrap();
        let consumed: Vec<_> = s.queues.iter().map(|q| (q.queue.as_str(), q.dead_letter_queue.as_str())).collect();
        assert_eq!(
            consumed,
            [("votes.aggregation.3", "votes.aggregation.3.dlq"), ("votes.aggregation.1", "votes.aggregation.1.dlq")]
        );
        let set = s.shard_set.expect("a shard set");
        assert_eq!((set.exchange.as_str(), set.shards.len()), ("votes", 4));
        assert_eq!(set.shards[1], s.queues[1]);

        let (_, all) = parse(&["--vote-shards", "2"]).unwrap();
        let names: Vec<_> = all.queues.iter().map(|q| q.queue.as_str()).collect();
        assert_eq!(names, ["votes.aggregation.0", "votes.aggregation.1"]);

        let (_, listed) = parse(&["--rabbitmq-queues", "a, b"]).unwrap();
        let listed: Vec<_> = listed.queues.iter().map(|q| (q.queue.as_str(), q.dead_letter_queue.as_str())).collect();
        assert_eq!(listed, [("a", "a.dlq"), ("b", "b.dlq")]);
    }

    #[test]
    fn urls_win_over_parts_and_are_decoded() {
        let (_, s) = parse(&[
            "--amqp-url",
            "amqp://guest:guest@127.0.0.1:5672/%2f",
            "--rabbitmq-host",
            "ignored",
            "--database-url",
            "postgres://u:p@db:5433/votes",
        ])
        .unwrap();
        assert_eq!((s.amqp_url.host.as_str(), s.amqp_url.vhost.as_str()), ("127.0.0.1", "/"));
        assert_eq!(s.database.to_string(), "postgres://u@db:5433/votes");
    }

    #[test]
    fn bad_values_give_one_line_naming_the_variable() {
        for (args, variable) in [
            (vec!["--batch-size", "abc"], "BATCH_SIZE"),
            (vec!["--batch-size", "0"], "BATCH_SIZE"),
            (vec!["--batch-timeout-seconds=-1"], "BATCH_TIMEOUT_SECONDS"),
            (vec!["--batch-timeout-ms", "0"], "BATCH_TIMEOUT_MS"),
            (vec!["--retry-delay-ms", "200", "--retry-delay-seconds", "0.2"], "RETRY_DELAY_MS"),
            (vec!["--rabbitmq-prefetch-count", "50"], "RABBITMQ_PREFETCH_COUNT"),
            (vec!["--rabbitmq-prefetch-count", "5", "--votes-per-message", "100"], "RABBITMQ_PREFETCH_COUNT"),
            (vec!["--votes-per-message", "0"], "VOTES_PER_MESSAGE"),
            (vec!["--amqp-url", "http://guest:topsecret@h/"], "AMQP_URL"),
            (vec!["--log-level", "loud!"], "LOG_LEVEL"),
            (vec!["--prometheus-port", "70000"], "PROMETHEUS_PORT"),
            (vec!["--rabbitmq-queue-type", "stream"], "RABBITMQ_QUEUE_TYPE"),
            (vec!["--revote-rule", "latest"], "REVOTE_RULE"),
            (vec!["--revote-rule", ""], "REVOTE_RULE"),
            (vec!["--vote-shards", "4", "--shard-indexes", "0,4"], "SHARD_INDEXES"),
            (vec!["--vote-shards", "4", "--shard-indexes", "1,1"], "SHARD_INDEXES"),
            (vec!["--vote-shards", "4", "--shard-indexes", "1,"], "SHARD_INDEXES"),
            (vec!["--shard-indexes", "0"], "SHARD_INDEXES"),
            (vec!["--vote-shards", "2", "--dead-letter-queue", "dlq"], "VOTE_SHARDS"),
            (vec!["--vote-shards", "2", "--rabbitmq-queues", "a"], "RABBITMQ_QUEUES"),
            (vec!["--rabbitmq-queues", "a,b", "--dead-letter-queue", "dlq"], "RABBITMQ_QUEUES"),
        ] {
            let (message, code) = parse(&args).unwrap_err();
            assert_eq!(code, 2);
            assert!(message.contains(variable), "{message}");
            assert!(!message.contains('\n'), "{message}");
            assert!(!message.contains("topsecret"), "{message}");
        }
    }

    #[test]
    fn the_seeds_broker_and_database_parts_are_used() {
        let (_, s) = parse(&[
            "--rabbitmq-host",
            "rabbitmq",
            "--rabbitmq-port",
            "5673",
            "--rabbitmq-user",
            "vote",
            "--rabbitmq-password",
            "p@ss",
            "--postgres-host",
            "db",
            "--postgres-db",
            "votes",
            "--postgres-min-connections",
            "3",
            "--postgres-max-connections",
            "4",
        ])
        .unwrap();
        let url = &s.amqp_url;
        assert_eq!(
            (url.host.as_str(), url.port, url.username.as_str(), url.password.as_str()),
            ("rabbitmq", 5673, "vote", "p@ss")
        );
        assert_eq!(s.database.to_string(), "postgres://postgres@db:5432/votes");
        assert_eq!((s.db_min_connections, s.db_max_connections), (3, 4));
    }

    #[test]
    fn help_lists_every_variable() {
        let (help, code) = parse(&["--help"]).unwrap_err();
        assert_eq!(code, 0);
        for var in ["RABBITMQ_HOST", "POSTGRES_MAX_CONNECTIONS", "BATCH_TIMEOUT_SECONDS", "AMQP_URL", "DATABASE_URL"] {
            assert!(help.contains(var), "{var} missing from --help");
        }
    }
}
