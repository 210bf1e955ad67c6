//! Settings of the satellite services: the runtime's shared groups (broker, exchange,
//! database, logs; see [`vote_runtime::config`]) plus what every service has
//! ([`ServiceArgs`]: name, HTTP port) and the queue it consumes ([`QueueArgs`]). A binary
//! flattens the groups it needs into its own clap struct, or uses [`Args`] when it needs
//! exactly service, queue and database; its [`Defaults`] fill in what differs between binaries.
//! A group of its own (e.g. an HTTP client's URL) implements [`Validate`] like the others.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Command, FromArgMatches};
use vote_mq::config::{BrokerArgs, ExchangeArgs};
use vote_mq::{AmqpUrl, QueueTopology, QueueType, RedeliveryPolicy, SubscriptionConfig, parse_bindings};
use vote_runtime::cli::Exit;
pub use vote_runtime::config::{ConfigError, Database, DatabaseArgs, Validate, non_empty};
use vote_runtime::config::{LogArgs, LogSettings};

use crate::auth::AuthArgs;
use crate::limits::{HttpArgs, HttpLimits};

/// Unacked deliveries the broker may push ahead of the one being handled.
pub const PREFETCH: u16 = 16;
/// Longest MQ_RETRY_DELAY_MS accepted.
const MAX_RETRY_DELAY_MS: u64 = 60_000;
/// POSTGRES_MAX_CONNECTIONS of a service: its handlers need few, and every service shares the
/// server with the engine.
const POOL_SIZE: &str = "8";

/// Settings every service has. `service_name` and `http_port` have no default here: the
/// binary's [`Defaults`] give them.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// The broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The events exchange.
    #[command(flatten)]
    pub exchange: ExchangeArgs,
    /// Name of this service: the envelope's `producer` and the broker connection name.
    #[arg(long, env = "SERVICE_NAME", value_name = "SERVICE_NAME")]
    pub service_name: String,
    /// Port of the HTTP API, which also serves /metrics, /healthz and /readyz.
    #[arg(long, env = "HTTP_PORT", value_name = "HTTP_PORT")]
    pub http_port: u16,
    /// Timeouts, connections and rate limit of the HTTP API.
    #[command(flatten)]
    pub http: HttpArgs,
    /// Type of the queues this service declares: `classic`, or `quorum` to replicate them on
    /// the nodes of a broker cluster (an existing queue must already have it).
    #[arg(long, env = "MQ_QUEUE_TYPE", value_name = "MQ_QUEUE_TYPE", default_value = "classic")]
    pub mq_queue_type: String,
    /// Logs.
    #[command(flatten)]
    pub logs: LogArgs,
    /// Bearer-token authentication (AUTH_*), checked when the service starts.
    #[command(flatten)]
    pub auth: AuthArgs,
}

/// The queue a service consumes. `mq_queue` and `mq_bindings` come from the binary's
/// [`Defaults`].
#[derive(Debug, Clone, clap::Args)]
pub struct QueueArgs {
    /// Durable queue this service consumes.
    #[arg(long, env = "MQ_QUEUE", value_name = "MQ_QUEUE")]
    pub mq_queue: String,
    /// Routing keys the queue is bound to on MQ_EXCHANGE, comma-separated (wildcards allowed).
    #[arg(long, env = "MQ_BINDINGS", value_name = "MQ_BINDINGS")]
    pub mq_bindings: String,
    /// Queue that receives dead-lettered messages (through the exchange `<MQ_EXCHANGE>.dlx`);
    /// `<MQ_QUEUE>.dlq` when unset.
    #[arg(long, env = "MQ_DEAD_LETTER_QUEUE", value_name = "MQ_DEAD_LETTER_QUEUE")]
    pub mq_dead_letter_queue: Option<String>,
    /// Attempts for a message failing with a retriable error before it is dead-lettered.
    #[arg(long, env = "MQ_MAX_ATTEMPTS", value_name = "MQ_MAX_ATTEMPTS", default_value_t = 5)]
    pub mq_max_attempts: u32,
    /// Delay before the second attempt, in milliseconds; doubles per attempt (max 5 s).
    #[arg(long, env = "MQ_RETRY_DELAY_MS", value_name = "MQ_RETRY_DELAY_MS", default_value_t = 200)]
    pub mq_retry_delay_ms: u64,
}

/// The usual service: it consumes one queue and keeps its state in a database.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// Broker, exchange, name, HTTP port, logs.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The consumed queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Validated [`ServiceArgs`].
#[derive(Debug, Clone)]
pub struct ServiceSettings {
    /// Broker.
    pub amqp_url: AmqpUrl,
    /// Topic exchange.
    pub exchange: String,
    /// SERVICE_NAME.
    pub service_name: String,
    /// HTTP port (0 picks a free one).
    pub http_port: u16,
    /// HTTP_* limits.
    pub http: HttpLimits,
    /// Type of the queues the service declares.
    pub queue_type: QueueType,
    /// LOG_LEVEL and LOG_FORMAT.
    pub logs: LogSettings,
    /// AUTH_* as given; [`crate::Service::build`] checks them and reads the JWKS (exit code 2
    /// when wrong), so that parsing needs no file.
    pub auth: AuthArgs,
}

impl AsRef<ServiceSettings> for ServiceSettings {
    fn as_ref(&self) -> &ServiceSettings {
        self
    }
}

/// Validated [`QueueArgs`].
#[derive(Debug, Clone)]
pub struct QueueSettings {
    /// Queue consumed.
    pub queue: String,
    /// Its dead-letter queue.
    pub dead_letter_queue: String,
    /// Routing-key patterns bound to the queue on the exchange; none for a queue that
    /// producers address directly (default exchange).
    pub bindings: Vec<String>,
    /// Retries of failing messages.
    pub retry: RedeliveryPolicy,
}

impl QueueSettings {
    /// A queue that producers publish to directly (no bindings), dead-lettering to
    /// `<queue>.dlq`, with `retry`.
    pub fn direct(queue: &str, retry: RedeliveryPolicy) -> Self {
        Self { queue: queue.to_owned(), dead_letter_queue: format!("{queue}.dlq"), bindings: Vec::new(), retry }
    }

    /// What the consumer (or a producer making sure the queue exists) declares: the queue of
    /// `service`'s queue type with its dead-letter route through `<exchange>.dlx`, bound to the
    /// exchange when it has bindings. `name` is the connection name.
    pub fn subscription(&self, service: &ServiceSettings, name: &str) -> SubscriptionConfig {
        let exchange = &service.exchange;
        SubscriptionConfig {
            topology: QueueTopology::new(&self.queue, &format!("{exchange}.dlx"), &self.dead_letter_queue)
                .with_queue_type(service.queue_type),
            bindings: (!self.bindings.is_empty()).then(|| (exchange.to_owned(), self.bindings.clone())),
            prefetch: PREFETCH,
            name: name.to_owned(),
        }
    }
}

/// Validated [`Args`].
#[derive(Debug, Clone)]
pub struct Settings {
    /// Broker, exchange, name, HTTP port, logs.
    pub service: ServiceSettings,
    /// The consumed queue.
    pub queue: QueueSettings,
    /// The database.
    pub database: Database,
}

impl AsRef<ServiceSettings> for Settings {
    fn as_ref(&self) -> &ServiceSettings {
        &self.service
    }
}

impl Validate for ServiceArgs {
    type Settings = ServiceSettings;

    fn validate(self) -> Result<ServiceSettings, ConfigError> {
        Ok(ServiceSettings {
            amqp_url: self.broker.validate()?,
            exchange: self.exchange.validate()?,
            service_name: non_empty("SERVICE_NAME", &self.service_name)?,
            http_port: self.http_port,
            http: self.http.validate()?,
            queue_type: self.mq_queue_type.parse().map_err(|e: String| ConfigError::new("MQ_QUEUE_TYPE", e))?,
            logs: self.logs.validate()?,
            auth: self.auth,
        })
    }
}

impl Validate for QueueArgs {
    type Settings = QueueSettings;

    fn validate(self) -> Result<QueueSettings, ConfigError> {
        let queue = non_empty("MQ_QUEUE", &self.mq_queue)?;
        let bindings = parse_bindings(&self.mq_bindings);
        if bindings.is_empty() {
            return Err(ConfigError::new("MQ_BINDINGS", "must name at least one routing key"));
        }
        let dead_letter_queue = match &self.mq_dead_letter_queue {
            Some(name) => non_empty("MQ_DEAD_LETTER_QUEUE", name)?,
            None => format!("{queue}.dlq"),
        };
        if dead_letter_queue == queue {
            return Err(ConfigError::new("MQ_DEAD_LETTER_QUEUE", "must differ from MQ_QUEUE"));
        }
        Ok(QueueSettings { queue, dead_letter_queue, bindings, retry: retry_policy(&self)? })
    }
}

/// MQ_MAX_ATTEMPTS and MQ_RETRY_DELAY_MS as a policy.
fn retry_policy(args: &QueueArgs) -> Result<RedeliveryPolicy, ConfigError> {
    if args.mq_max_attempts == 0 {
        return Err(ConfigError::new("MQ_MAX_ATTEMPTS", "must be at least 1"));
    }
    if args.mq_retry_delay_ms > MAX_RETRY_DELAY_MS {
        return Err(ConfigError::new("MQ_RETRY_DELAY_MS", format!("must be at most {MAX_RETRY_DELAY_MS}")));
    }
    let initial_delay = Duration::from_millis(args.mq_retry_delay_ms);
    Ok(RedeliveryPolicy {
        max_attempts: args.mq_max_attempts,
        initial_delay,
        max_delay: initial_delay.max(Duration::from_secs(5)),
    })
}

impl Validate for Args {
    type Settings = Settings;

    fn validate(self) -> Result<Settings, ConfigError> {
        Ok(Settings {
            service: self.service.validate()?,
            queue: self.queue.validate()?,
            database: self.database.validate()?,
        })
    }
}

/// What differs between binaries' settings: names, and the defaults of the groups they use
/// (`None` for a group the binary does not have).
#[derive(Debug, Clone, Copy)]
pub struct Defaults {
    /// Binary name, for `--help`.
    pub binary: &'static str,
    /// One-line description, for `--help`.
    pub about: &'static str,
    /// SERVICE_NAME.
    pub service_name: &'static str,
    /// HTTP_PORT.
    pub http_port: &'static str,
    /// MQ_QUEUE, MQ_BINDINGS and MQ_DEAD_LETTER_QUEUE (`None`: `<MQ_QUEUE>.dlq`).
    pub queue: Option<(&'static str, &'static str, Option<&'static str>)>,
    /// POSTGRES_DB (the database when DATABASE_URL is unset).
    pub database: Option<&'static str>,
}

impl Defaults {
    /// The clap command of `A` under this binary's name, with these defaults.
    pub fn command<A: clap::Args>(&self) -> Command {
        let mut command = A::augment_args(Command::new(self.binary))
            .about(self.about)
            .version(env!("CARGO_PKG_VERSION"))
            .mut_arg("service_name", |a| a.required(false).default_value(self.service_name))
            .mut_arg("http_port", |a| a.required(false).default_value(self.http_port));
        if let Some((queue, bindings, dead_letter_queue)) = self.queue {
            command = command
                .mut_arg("mq_queue", |a| a.required(false).default_value(queue))
                .mut_arg("mq_bindings", |a| a.required(false).default_value(bindings));
            if let Some(dlq) = dead_letter_queue {
                command = command.mut_arg("mq_dead_letter_queue", |a| a.default_value(dlq));
            }
        }
        if let Some(database) = self.database {
            command = command
                .mut_arg("postgres_db", |a| a.default_value(database))
                .mut_arg("postgres_max_connections", |a| a.default_value(POOL_SIZE));
        }
        command
    }
}

/// Parses the command line and environment into `A` with the binary's `defaults`, then
/// validates (see [`vote_runtime::config::parse`]).
pub fn parse_cli<A, I, T>(defaults: &Defaults, args: I) -> Result<A::Settings, Exit>
where
    A: clap::Args + FromArgMatches + Validate,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    vote_runtime::config::parse::<A, _, _>(defaults.command::<A>(), args)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEST: Defaults = Defaults {
        binary: "test-service",
        about: "A test service.",
        service_name: "test-service",
        http_port: "5999",
        queue: Some(("test_queue", "a.b,c.*", None)),
        database: Some("vote_test"),
    };

    fn parse(args: &[&str]) -> Result<Settings, Exit> {
        parse_cli::<Args, _, _>(&TEST, std::iter::once("test-service").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_fill_in() {
        let s = parse(&[]).unwrap();
        assert_eq!((s.service.service_name.as_str(), s.service.http_port), ("test-service", 5999));
        assert_eq!((s.service.exchange.as_str(), s.service.logs.format), ("events", None));
        assert_eq!(s.service.amqp_url.vhost, "/");
        assert_eq!((s.queue.queue.as_str(), s.queue.dead_letter_queue.as_str()), ("test_queue", "test_queue.dlq"));
        assert_eq!(s.queue.bindings, ["a.b", "c.*"]);
        assert_eq!(s.queue.retry, RedeliveryPolicy::default());
        assert_eq!(s.database.target.dbname(), "vote_test");
        assert_eq!(s.database.max_connections, 8);
        assert_eq!(s.service.http, HttpLimits::default());
    }

    #[test]
    fn the_seeds_broker_parts_and_exchange_type_are_accepted() {
        let s = parse(&[
            "--rabbitmq-host",
            "rabbitmq",
            "--rabbitmq-port",
            "5673",
            "--rabbitmq-user",
            "swappo_user",
            "--rabbitmq-password",
            "pa:ss",
            "--mq-exchange-type",
            "topic",
        ])
        .unwrap();
        let url = &s.service.amqp_url;
        assert_eq!(
            (url.host.as_str(), url.port, url.username.as_str(), url.password.as_str()),
            ("rabbitmq", 5673, "swappo_user", "pa:ss")
        );
        assert_eq!(s.service.exchange, "events");
    }

    #[test]
    fn a_binary_may_name_its_dead_letter_queue() {
        let named = Defaults { queue: Some(("q", "k", Some("q_dlq"))), ..TEST };
        let s = parse_cli::<Args, _, _>(&named, ["x"]).unwrap();
        assert_eq!(s.queue.dead_letter_queue, "q_dlq");
        let s = parse(&["--mq-dead-letter-queue", "elsewhere"]).unwrap();
        assert_eq!(s.queue.dead_letter_queue, "elsewhere");
    }

    #[test]
    fn subscriptions_bind_only_when_there_are_bindings() {
        let s = parse(&[]).unwrap();
        let bound = s.queue.subscription(&s.service, "svc");
        assert_eq!(bound.topology.dead_letter_exchange, "events.dlx");
        assert_eq!(bound.topology.queue_type, QueueType::Classic);
        assert_eq!(bound.bindings, Some(("events".to_owned(), vec!["a.b".to_owned(), "c.*".to_owned()])));
        let direct = QueueSettings::direct("plain", RedeliveryPolicy::default()).subscription(&s.service, "svc");
        assert_eq!((direct.topology.dead_letter_queue.as_str(), direct.bindings), ("plain.dlq", None));
    }

    #[test]
    fn on_a_cluster_the_queues_can_be_quorum_queues() {
        let s = parse(&["--mq-queue-type", "quorum"]).unwrap();
        assert_eq!(s.queue.subscription(&s.service, "svc").topology.queue_type, QueueType::Quorum);
    }

    #[test]
    fn bad_values_give_one_line_naming_the_variable() {
        for (args, variable) in [
            (vec!["--http-port", "abc"], "HTTP_PORT"),
            (vec!["--http-port", "70000"], "HTTP_PORT"),
            (vec!["--mq-queue-type", "stream"], "MQ_QUEUE_TYPE"),
            (vec!["--amqp-url", "http://u:secret@host/"], "AMQP_URL"),
            (vec!["--database-url", "postgres://u:secret@db:notaport/x"], "DATABASE_URL"),
            (vec!["--mq-bindings", " , "], "MQ_BINDINGS"),
            (vec!["--mq-exchange", ""], "MQ_EXCHANGE"),
            (vec!["--service-name", " "], "SERVICE_NAME"),
            (vec!["--mq-queue", " "], "MQ_QUEUE"),
            (vec!["--mq-dead-letter-queue", "test_queue"], "MQ_DEAD_LETTER_QUEUE"),
            (vec!["--mq-max-attempts", "0"], "MQ_MAX_ATTEMPTS"),
            (vec!["--mq-retry-delay-ms=-5"], "MQ_RETRY_DELAY_MS"),
            (vec!["--mq-retry-delay-ms", "60001"], "MQ_RETRY_DELAY_MS"),
            (vec!["--log-level", "loud"], "LOG_LEVEL"),
            (vec!["--log-format", "xml"], "LOG_FORMAT"),
            (vec!["--rabbitmq-port", "0"], "RABBITMQ_PORT"),
            (vec!["--mq-exchange-type", "direct"], "MQ_EXCHANGE_TYPE"),
            (vec!["--postgres-max-connections", "0"], "POSTGRES_MAX_CONNECTIONS"),
            (vec!["--http-header-timeout-ms", "10"], "HTTP_HEADER_TIMEOUT_MS"),
            (vec!["--http-request-timeout-ms", "x"], "HTTP_REQUEST_TIMEOUT_MS"),
            (vec!["--http-max-connections", "0"], "HTTP_MAX_CONNECTIONS"),
            (vec!["--http-rate-limit=-1"], "HTTP_RATE_LIMIT"),
            (vec!["--http-rate-burst", "0"], "HTTP_RATE_BURST"),
        ] {
            let exit = parse(&args).unwrap_err();
            assert_eq!(exit.code, 2, "{}", exit.message);
            assert!(exit.message.contains(variable), "{}", exit.message);
            assert!(!exit.message.contains('\n'), "{}", exit.message);
            assert!(!exit.message.contains("secret"), "{}", exit.message);
        }
    }

    #[test]
    fn help_shows_the_binary_defaults() {
        let exit = parse(&["--help"]).unwrap_err();
        assert_eq!(exit.code, 0);
        assert!(exit.message.contains("test-service") && exit.message.contains("5999"), "{}", exit.message);
    }
}
