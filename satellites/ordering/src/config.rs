//! Settings of the three binaries, on the satellite kit's groups: the order-service has no
//! queue, the order-callback no database but the OrderService's URL.

use std::ffi::OsString;

use vote_runtime::cli::Exit;
use vote_satellite_kit::config::{
    self, Args, ConfigError, Database, DatabaseArgs, Defaults, QueueArgs, QueueSettings, ServiceArgs, ServiceSettings,
    Validate,
};

pub use vote_satellite_kit::config::Settings;

/// POSTGRES_DB of the order and inventory services when unset.
pub const DEFAULT_DATABASE: &str = "vote_ordering";

/// `order-service`.
pub const ORDER_DEFAULTS: Defaults = Defaults {
    binary: "order-service",
    about: "OrderService: orders over HTTP; publishes order.placed.",
    service_name: "order-service",
    http_port: "5001",
    queue: None,
    database: Some(DEFAULT_DATABASE),
};

/// `inventory-service`: the queue and dead-letter queue names are the seed's.
pub const INVENTORY_DEFAULTS: Defaults = Defaults {
    binary: "inventory-service",
    about: "InventoryService: reserves stock once per order; publishes inventory.reserved or inventory.failed.",
    service_name: "inventory-service",
    http_port: "5002",
    queue: Some(("order_placed", "order.placed", Some("order_placed_dlq"))),
    database: Some(DEFAULT_DATABASE),
};

/// `order-callback`. Its HTTP port serves only `/metrics`, `/healthz` and `/readyz`.
pub const CALLBACK_DEFAULTS: Defaults = Defaults {
    binary: "order-callback",
    about: "Order callback: sets orders RESERVED or FAILED from inventory events.",
    service_name: "order-callback",
    http_port: "5004",
    queue: Some(("order_callback", "inventory.reserved,inventory.failed", None)),
    database: None,
};

/// `order-service` settings as given.
#[derive(Debug, Clone, clap::Args)]
pub struct OrderArgs {
    /// Broker, exchange, name, HTTP port, logs.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Validated [`OrderArgs`].
#[derive(Debug, Clone)]
pub struct OrderSettings {
    /// Broker, exchange, name, HTTP port, logs.
    pub service: ServiceSettings,
    /// The database.
    pub database: Database,
}

impl AsRef<ServiceSettings> for OrderSettings {
    fn as_ref(&self) -> &ServiceSettings {
        &self.service
    }
}

impl Validate for OrderArgs {
    type Settings = OrderSettings;

    fn validate(self) -> Result<OrderSettings, ConfigError> {
        Ok(OrderSettings { service: self.service.validate()?, database: self.database.validate()? })
    }
}

/// `order-callback` settings as given.
#[derive(Debug, Clone, clap::Args)]
pub struct CallbackArgs {
    /// Broker, exchange, name, HTTP port, logs.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The consumed queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Base URL of the OrderService (`http://` only); statuses are set with
    /// `PATCH <ORDER_SERVICE_URL>/orders/<id>/status`.
    #[arg(long, env = "ORDER_SERVICE_URL", value_name = "ORDER_SERVICE_URL", hide_env_values = true)]
    #[arg(default_value = "http://127.0.0.1:5001")]
    pub order_service_url: String,
    /// File holding the bearer token presented to the OrderService: a service-account token
    /// with the `order-callback` role. Read at every call, so it can be replaced while running.
    /// Unset: no token (an OrderService with AUTH_MODE=disabled).
    #[arg(long, env = "ORDER_SERVICE_TOKEN_FILE", value_name = "ORDER_SERVICE_TOKEN_FILE")]
    pub order_service_token_file: Option<std::path::PathBuf>,
}

/// Validated [`CallbackArgs`].
#[derive(Debug, Clone)]
pub struct CallbackSettings {
    /// Broker, exchange, name, HTTP port, logs.
    pub service: ServiceSettings,
    /// The consumed queue.
    pub queue: QueueSettings,
    /// OrderService base URL, without a trailing slash.
    pub order_service_url: String,
    /// ORDER_SERVICE_TOKEN_FILE.
    pub order_service_token_file: Option<std::path::PathBuf>,
}

impl AsRef<ServiceSettings> for CallbackSettings {
    fn as_ref(&self) -> &ServiceSettings {
        &self.service
    }
}

impl Validate for CallbackArgs {
    type Settings = CallbackSettings;

    fn validate(self) -> Result<CallbackSettings, ConfigError> {
        Ok(CallbackSettings {
            service: self.service.validate()?,
            queue: self.queue.validate()?,
            order_service_url: http_base_url("ORDER_SERVICE_URL", &self.order_service_url)?,
            order_service_token_file: self.order_service_token_file,
        })
    }
}

/// An `http://host[:port][/path]` base URL, without its trailing slash. The error never quotes
/// the value, which may carry credentials.
pub fn http_base_url(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let url = reqwest::Url::parse(value.trim()).map_err(|e| ConfigError::new(variable, format!("not a URL: {e}")))?;
    if url.scheme() != "http" || url.host_str().is_none() {
        return Err(ConfigError::new(variable, "must be an http:// URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new(variable, "must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `order-service`'s command line and environment (see [`config::parse_cli`]).
pub fn parse_order_cli<I: IntoIterator<Item = T>, T: Into<OsString> + Clone>(args: I) -> Result<OrderSettings, Exit> {
    config::parse_cli::<OrderArgs, _, _>(&ORDER_DEFAULTS, args)
}

/// `inventory-service`'s command line and environment.
pub fn parse_inventory_cli<I: IntoIterator<Item = T>, T: Into<OsString> + Clone>(args: I) -> Result<Settings, Exit> {
    config::parse_cli::<Args, _, _>(&INVENTORY_DEFAULTS, args)
}

/// `order-callback`'s command line and environment.
pub fn parse_callback_cli<I: IntoIterator<Item = T>, T: Into<OsString> + Clone>(
    args: I,
) -> Result<CallbackSettings, Exit> {
    config::parse_cli::<CallbackArgs, _, _>(&CALLBACK_DEFAULTS, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binary_has_the_contract_defaults() {
        let o = parse_order_cli(["order-service"]).unwrap();
        assert_eq!((o.service.service_name.as_str(), o.service.http_port), ("order-service", 5001));
        assert_eq!((o.service.exchange.as_str(), o.database.target.dbname()), ("events", "vote_ordering"));

        let i = parse_inventory_cli(["inventory-service"]).unwrap();
        assert_eq!((i.service.service_name.as_str(), i.service.http_port), ("inventory-service", 5002));
        assert_eq!((i.queue.queue.as_str(), i.queue.dead_letter_queue.as_str()), ("order_placed", "order_placed_dlq"));
        assert_eq!(i.queue.bindings, ["order.placed"]);
        assert_eq!(i.database.target.dbname(), "vote_ordering");

        let c = parse_callback_cli(["order-callback"]).unwrap();
        assert_eq!((c.service.service_name.as_str(), c.service.http_port), ("order-callback", 5004));
        assert_eq!(
            (c.queue.queue.as_str(), c.queue.dead_letter_queue.as_str()),
            ("order_callback", "order_callback.dlq")
        );
        assert_eq!(c.queue.bindings, ["inventory.reserved", "inventory.failed"]);
        assert_eq!(c.order_service_url, "http://127.0.0.1:5001");
    }

    #[test]
    fn queue_names_can_be_changed() {
        let i = parse_inventory_cli(["x", "--mq-queue", "q1", "--mq-dead-letter-queue", "q1_dead"]).unwrap();
        assert_eq!((i.queue.queue.as_str(), i.queue.dead_letter_queue.as_str()), ("q1", "q1_dead"));
    }

    #[test]
    fn the_order_service_url_is_checked_without_being_echoed() {
        assert_eq!(http_base_url("U", "http://orders:5001/api/").unwrap(), "http://orders:5001/api");
        for bad in ["orders:5001", "https://u:secret@orders/", "ftp://secret@host/", "http://h/?secret=1"] {
            let e = parse_callback_cli(["x", "--order-service-url", bad]).unwrap_err();
            assert_eq!(e.code, 2);
            assert!(e.message.contains("ORDER_SERVICE_URL") && !e.message.contains("secret"), "{}", e.message);
        }
    }
}
