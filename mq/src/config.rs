//! Where the broker is (AMQP_URL, or the seed's RABBITMQ_HOST/PORT/USER/PASSWORD parts) and the
//! events exchange (MQ_EXCHANGE, MQ_EXCHANGE_TYPE) of the services that publish and bind to it.

use secrecy::{ExposeSecret, SecretString};
use vote_runtime::config::{ConfigError, Validate, non_empty};

use crate::AmqpUrl;

/// The broker. AMQP_URL wins when set; otherwise the URL is built from the parts, which need
/// no percent-encoding.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// AMQP URI of the broker (RabbitMQ URI spec: credentials percent-encoded, `/%2f` is the
    /// vhost "/"). Wins over RABBITMQ_HOST/PORT/USER/PASSWORD/VHOST.
    #[arg(long, env = "AMQP_URL", value_name = "AMQP_URL", hide_env_values = true)]
    pub amqp_url: Option<SecretString>,
    /// RabbitMQ host (when AMQP_URL is unset).
    #[arg(long, env = "RABBITMQ_HOST", value_name = "RABBITMQ_HOST", default_value = "localhost")]
    pub rabbitmq_host: String,
    /// RabbitMQ port.
    #[arg(long, env = "RABBITMQ_PORT", value_name = "RABBITMQ_PORT", default_value_t = 5672)]
    pub rabbitmq_port: u16,
    /// RabbitMQ user.
    #[arg(long, env = "RABBITMQ_USER", value_name = "RABBITMQ_USER", default_value = "guest")]
    pub rabbitmq_user: String,
    /// RabbitMQ password.
    #[arg(long, env = "RABBITMQ_PASSWORD", value_name = "RABBITMQ_PASSWORD", default_value = "guest")]
    #[arg(hide_env_values = true, hide_default_value = true)]
    pub rabbitmq_password: SecretString,
    /// RabbitMQ virtual host.
    #[arg(long, env = "RABBITMQ_VHOST", value_name = "RABBITMQ_VHOST", default_value = "/")]
    pub rabbitmq_vhost: String,
}

impl Validate for BrokerArgs {
    type Settings = AmqpUrl;

    fn validate(self) -> Result<AmqpUrl, ConfigError> {
        if let Some(url) = &self.amqp_url {
            // The parser's messages describe the problem, never the password.
            return AmqpUrl::parse(url.expose_secret().trim()).map_err(|e| ConfigError::new("AMQP_URL", e.to_string()));
        }
        let host = non_empty("RABBITMQ_HOST", &self.rabbitmq_host)?;
        if self.rabbitmq_port == 0 {
            return Err(ConfigError::new("RABBITMQ_PORT", "must be a port number in 1..=65535"));
        }
        if self.rabbitmq_vhost.is_empty() {
            return Err(ConfigError::new("RABBITMQ_VHOST", "must not be empty (the default vhost is /)"));
        }
        Ok(AmqpUrl::from_parts(
            &host,
            self.rabbitmq_port,
            &self.rabbitmq_user,
            self.rabbitmq_password.expose_secret(),
            &self.rabbitmq_vhost,
        ))
    }
}

/// The exchange the services publish events to and bind their queues on. Only binaries that
/// use it take this group (not the engine or loadgen, which use the default exchange).
#[derive(Debug, Clone, clap::Args)]
pub struct ExchangeArgs {
    /// Topic exchange events are published to and consumed from.
    #[arg(long, env = "MQ_EXCHANGE", value_name = "MQ_EXCHANGE", default_value = "events")]
    pub mq_exchange: String,
    /// Type of MQ_EXCHANGE. Only `topic`: the services bind routing-key patterns with
    /// wildcards, which only a topic exchange routes.
    #[arg(long, env = "MQ_EXCHANGE_TYPE", value_name = "MQ_EXCHANGE_TYPE", default_value = "topic")]
    pub mq_exchange_type: String,
}

impl Validate for ExchangeArgs {
    /// The exchange's name.
    type Settings = String;

    fn validate(self) -> Result<String, ConfigError> {
        if !self.mq_exchange_type.trim().eq_ignore_ascii_case("topic") {
            return Err(ConfigError::new(
                "MQ_EXCHANGE_TYPE",
                "must be topic (the services bind routing-key patterns with wildcards)",
            ));
        }
        non_empty("MQ_EXCHANGE", &self.mq_exchange)
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};
    use vote_runtime::cli::Exit;
    use vote_runtime::config::{Database, DatabaseArgs, LogArgs, LogSettings, parse};
    use vote_runtime::logging::LogFormat;

    use super::*;

    /// A binary with every shared group, the broker's and the runtime's.
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
        let url = vote_runtime::postgres::DbTarget::parse("postgres://vo%3Ater:s%40cr%2Ft%3A%23%25@db.example/votes")
            .unwrap();
        assert_eq!(url.config().get_password(), config.get_password());
        assert_eq!(url.to_string(), database.target.to_string());
    }

    #[test]
    fn the_raw_settings_debug_without_their_secrets() {
        for args in [
            ["tool", "--rabbitmq-password", "hunter2-mq", "--postgres-password", "hunter2-pg"],
            ["tool", "--amqp-url", "amqp://u:hunter2-mq@h/", "--database-url", "postgres://u:hunter2-pg@h/db"],
        ] {
            let cli = Cli::try_parse_from(args).unwrap();
            let debug = format!("{cli:?}");
            assert!(!debug.contains("hunter2"), "{debug}");
            assert!(debug.contains("REDACTED"), "{debug}");
        }
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
}
