//! The config vocabulary every binary shares: the setting groups ([`BrokerArgs`],
//! [`ExchangeArgs`], [`DatabaseArgs`], [`LogArgs`]) that a binary flattens into its clap struct
//! with `#[command(flatten)]`, one [`ConfigError`], and one way to go from the command line to
//! validated settings ([`parse`]).
//!
//! The pattern, written once: clap reads each raw value from its flag or environment variable
//! (same name everywhere); [`Validate::validate`] turns the raw group into what the program
//! uses; the first problem is one line naming the variable, exit code 2. Values that may carry
//! a password (URLs, passwords) are hidden from `--help` and never quoted in an error.

pub mod broker;
pub mod database;
pub mod logs;

use std::ffi::OsString;
use std::time::Duration;

use clap::{Command, FromArgMatches};

pub use self::broker::{BrokerArgs, ExchangeArgs};
pub use self::database::{DEFAULT_DATABASE, Database, DatabaseArgs};
pub use self::logs::{LogArgs, LogSettings};
use crate::cli::{self, Exit};

/// A bad setting: which variable, and what is wrong (never its value, which may be secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault (its flag is the same name in kebab case).
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// `variable` is wrong because of `message`.
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self { variable, message: message.into() }
    }
}

/// Raw settings, as clap read them, that can be checked into what the program uses.
pub trait Validate {
    /// The validated settings.
    type Settings;
    /// Checks every value; the first problem names its variable.
    fn validate(self) -> Result<Self::Settings, ConfigError>;
}

/// Parses `args` (program name first) and the environment with `command` (the clap command of
/// `A`, possibly with per-binary defaults), then validates. `Err` says what to print and the
/// exit code: 0 for `--help` / `--version`, 2 for a bad value, on one line naming the variable.
pub fn parse<A, I, T>(command: Command, args: I) -> Result<A::Settings, Exit>
where
    A: FromArgMatches + Validate,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let raw: A = cli::parse(command, args)?;
    raw.validate().map_err(Exit::invalid)
}

/// The trimmed value, or an error when it is blank.
pub fn non_empty(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.is_empty() { Err(ConfigError::new(variable, "must not be empty")) } else { Ok(value.to_owned()) }
}

/// `value` as a count of at least 1.
pub fn at_least_one(variable: &'static str, value: usize) -> Result<usize, ConfigError> {
    if value == 0 { Err(ConfigError::new(variable, "must be at least 1")) } else { Ok(value) }
}

/// A number of seconds under a day, more than 0 (or also 0 when `zero_ok`).
pub fn seconds(variable: &'static str, value: f64, zero_ok: bool) -> Result<Duration, ConfigError> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) && value < 86_400.0;
    if !ok {
        let range = if zero_ok { "0 or more" } else { "more than 0" };
        return Err(ConfigError::new(variable, format!("must be a number of seconds, {range} and under a day")));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use vote_mq::AmqpUrl;

    use super::*;
    use crate::logging::LogFormat;

    /// A binary with every shared group.
    #[derive(Debug, Parser)]
    #[command(name = "tool", version)]
    struct Cli {
        #[command(flatten)]
        broker: BrokerArgs,
        #[command(flatten)]
        exchange: ExchangeArgs,
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(flatten)]
        logs: LogArgs,
    }

    impl Validate for Cli {
        type Settings = (AmqpUrl, String, Database, LogSettings);

        fn validate(self) -> Result<Self::Settings, ConfigError> {
            Ok((self.broker.validate()?, self.exchange.validate()?, self.database.validate()?, self.logs.validate()?))
        }
    }

    fn run(args: &[&str]) -> Result<(AmqpUrl, String, Database, LogSettings), Exit> {
        parse::<Cli, _, _>(Cli::command(), std::iter::once("tool").chain(args.iter().copied()))
    }

    #[test]
    fn defaults_are_the_local_servers() {
        let (broker, exchange, database, logs) = run(&[]).unwrap();
        assert_eq!(broker, AmqpUrl::parse("amqp://guest:guest@localhost:5672/%2f").unwrap());
        assert_eq!(exchange, "events");
        assert_eq!(database.target.to_string(), "postgres://postgres@localhost:5432/election_votes");
        assert_eq!((database.min_connections, database.max_connections), (2, 10));
        assert_eq!((logs.level.as_str(), logs.format), ("info", None));
    }

    #[test]
    fn urls_win_over_parts() {
        let (broker, _, database, _) = run(&[
            "--amqp-url",
            "amqp://u:p@mq.example:5673/prod",
            "--rabbitmq-host",
            "ignored",
            "--rabbitmq-port",
            "1",
            "--database-url",
            "postgres://v:w@db.example:5433/votes",
            "--postgres-host",
            "ignored",
            "--postgres-db",
            "ignored",
        ])
        .unwrap();
        assert_eq!((broker.host.as_str(), broker.port, broker.vhost.as_str()), ("mq.example", 5673, "prod"));
        assert_eq!(database.target.to_string(), "postgres://v@db.example:5433/votes");
    }

    #[test]
    fn parts_build_the_same_target_as_the_percent_encoded_url() {
        let (broker, _, database, _) = run(&[
            "--rabbitmq-host",
            "mq.example",
            "--rabbitmq-port",
            "5673",
            "--rabbitmq-user",
            "us@er",
            "--rabbitmq-password",
            "p:ss/w#rd%",
            "--rabbitmq-vhost",
            "/",
            "--postgres-host",
            "db.example",
            "--postgres-user",
            "vo:ter",
            "--postgres-password",
            "s@cr/t:#%",
            "--postgres-db",
            "votes",
        ])
        .unwrap();
        let from_url = AmqpUrl::parse("amqp://us%40er:p%3Ass%2Fw%23rd%25@mq.example:5673/%2f").unwrap();
        assert_eq!(broker, from_url);
        assert_eq!((broker.username.as_str(), broker.password.as_str()), ("us@er", "p:ss/w#rd%"));
        let config = database.target.config();
        assert_eq!((config.get_user(), config.get_password()), (Some("vo:ter"), Some(&b"s@cr/t:#%"[..])));
        let url = crate::postgres::DbTarget::parse("postgres://vo%3Ater:s%40cr%2Ft%3A%23%25@db.example/votes").unwrap();
        assert_eq!(url.config().get_password(), config.get_password());
        assert_eq!(url.to_string(), database.target.to_string());
    }

    #[test]
    fn bad_values_are_one_line_naming_the_variable_with_code_2() {
        for (args, variable) in [
            (vec!["--rabbitmq-port", "70000"], "RABBITMQ_PORT"),
            (vec!["--rabbitmq-port", "0"], "RABBITMQ_PORT"),
            (vec!["--rabbitmq-port", "five"], "RABBITMQ_PORT"),
            (vec!["--rabbitmq-host", " "], "RABBITMQ_HOST"),
            (vec!["--rabbitmq-vhost", ""], "RABBITMQ_VHOST"),
            (vec!["--amqp-url", "http://u:secret@host/"], "AMQP_URL"),
            (vec!["--mq-exchange", " "], "MQ_EXCHANGE"),
            (vec!["--mq-exchange-type", "fanout"], "MQ_EXCHANGE_TYPE"),
            (vec!["--database-url", "postgres://u:secret@db:notaport/x"], "DATABASE_URL"),
            (vec!["--postgres-port", "0"], "POSTGRES_PORT"),
            (vec!["--postgres-port=-1"], "POSTGRES_PORT"),
            (vec!["--postgres-db", ""], "POSTGRES_DB"),
            (vec!["--postgres-max-connections", "0"], "POSTGRES_MAX_CONNECTIONS"),
            (vec!["--postgres-max-connections", "many"], "POSTGRES_MAX_CONNECTIONS"),
            (vec!["--postgres-min-connections", "11"], "POSTGRES_MIN_CONNECTIONS"),
            (vec!["--log-level", "loud"], "LOG_LEVEL"),
            (vec!["--log-format", "xml"], "LOG_FORMAT"),
        ] {
            let exit = run(&args).unwrap_err();
            assert_eq!(exit.code, 2, "{args:?}: {}", exit.message);
            assert!(exit.message.starts_with("error: ") && exit.message.contains(variable), "{}", exit.message);
            assert!(!exit.message.contains('\n'), "{}", exit.message);
            assert!(!exit.message.contains("secret"), "{}", exit.message);
        }
    }

    #[test]
    fn the_seeds_exchange_type_is_accepted() {
        for kind in ["topic", "TOPIC"] {
            assert_eq!(run(&["--mq-exchange-type", kind]).unwrap().1, "events");
        }
    }

    #[test]
    fn log_format_is_forced_or_left_to_the_terminal() {
        assert_eq!(run(&["--log-format", "json"]).unwrap().3.format, Some(LogFormat::Json));
        assert_eq!(run(&["--log-format", "Text"]).unwrap().3.format, Some(LogFormat::Text));
        assert_eq!(run(&["--log-format", "auto"]).unwrap().3.format, None);
    }

    #[test]
    fn help_hides_passwords_and_urls_but_names_every_variable() {
        let help = run(&["--help"]).unwrap_err();
        assert_eq!(help.code, 0);
        for variable in [
            "AMQP_URL",
            "RABBITMQ_HOST",
            "RABBITMQ_PORT",
            "RABBITMQ_USER",
            "RABBITMQ_PASSWORD",
            "RABBITMQ_VHOST",
            "MQ_EXCHANGE",
            "MQ_EXCHANGE_TYPE",
            "DATABASE_URL",
            "POSTGRES_HOST",
            "POSTGRES_PORT",
            "POSTGRES_DB",
            "POSTGRES_USER",
            "POSTGRES_PASSWORD",
            "POSTGRES_MIN_CONNECTIONS",
            "POSTGRES_MAX_CONNECTIONS",
            "LOG_LEVEL",
            "LOG_FORMAT",
        ] {
            assert!(help.message.contains(&format!("[env: {variable}")), "{variable} missing from --help");
        }
        for password in ["--rabbitmq-password", "--postgres-password"] {
            let described = help.message.split(password).nth(1).and_then(|rest| rest.split("\n      --").next());
            assert!(!described.unwrap().contains("default:"), "{password}'s default is not shown: {}", help.message);
        }
        assert!(help.message.contains("terminal"), "the LOG_FORMAT rule is documented");
    }

    #[test]
    fn helpers_name_the_variable() {
        assert_eq!(seconds("PAUSE_SECONDS", 0.5, false), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("PAUSE_SECONDS", 0.0, true), Ok(Duration::ZERO));
        for (value, zero_ok) in [(0.0, false), (-1.0, true), (f64::NAN, true), (86_400.0, true)] {
            assert_eq!(seconds("PAUSE_SECONDS", value, zero_ok).unwrap_err().variable, "PAUSE_SECONDS");
        }
        assert_eq!(non_empty("X", "  a ").unwrap(), "a");
        assert_eq!(at_least_one("X", 0).unwrap_err().to_string(), "X: must be at least 1");
    }
}
