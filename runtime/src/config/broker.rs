//! Where the broker is (AMQP_URL, or the seed's RABBITMQ_HOST/PORT/USER/PASSWORD parts) and the
//! events exchange (MQ_EXCHANGE, MQ_EXCHANGE_TYPE) of the services that publish and bind to it.

use vote_mq::AmqpUrl;

use super::{ConfigError, Validate, non_empty};

/// The broker. AMQP_URL wins when set; otherwise the URL is built from the parts, which need
/// no percent-encoding.
#[derive(Debug, Clone, clap::Args)]
pub struct BrokerArgs {
    /// AMQP URI of the broker (RabbitMQ URI spec: credentials percent-encoded, `/%2f` is the
    /// vhost "/"). Wins over RABBITMQ_HOST/PORT/USER/PASSWORD/VHOST.
    #[arg(long, env = "AMQP_URL", value_name = "AMQP_URL", hide_env_values = true)]
    pub amqp_url: Option<String>,
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
    pub rabbitmq_password: String,
    /// RabbitMQ virtual host.
    #[arg(long, env = "RABBITMQ_VHOST", value_name = "RABBITMQ_VHOST", default_value = "/")]
    pub rabbitmq_vhost: String,
}

impl Validate for BrokerArgs {
    type Settings = AmqpUrl;

    fn validate(self) -> Result<AmqpUrl, ConfigError> {
        if let Some(url) = &self.amqp_url {
            // The parser's messages describe the problem, never the password.
            return AmqpUrl::parse(url.trim()).map_err(|e| ConfigError::new("AMQP_URL", e.to_string()));
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
            &self.rabbitmq_password,
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
