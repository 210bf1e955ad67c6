//! Settings of the two binaries, on the satellite kit's groups, plus NOTIFICATIONS_QUEUE: the
//! queue publishers address directly. Both binaries declare it the same way (dead letters to
//! `<NOTIFICATIONS_QUEUE>.dlq` through `<MQ_EXCHANGE>.dlx`), so they must agree on both names.

use std::ffi::OsString;

use vote_mq::RedeliveryPolicy;
use vote_runtime::cli::Exit;
use vote_satellite_kit::config::{
    self, ConfigError, Database, DatabaseArgs, Defaults, QueueArgs, QueueSettings, ServiceArgs, ServiceSettings,
    Validate, non_empty,
};

/// `notification-service`: its own copy of `inventory.reserved` comes on `inventory_reserved`.
pub const NOTIFICATION_DEFAULTS: Defaults = Defaults {
    binary: "notification-service",
    about: "NotificationService: stores notifications from notifications_queue and order confirmations; serves them.",
    service_name: "notification-service",
    http_port: "5003",
    queue: Some(("inventory_reserved", "inventory.reserved", None)),
    database: Some("vote_notification"),
};

/// `matchmaking-service`.
pub const MATCHMAKING_DEFAULTS: Defaults = Defaults {
    binary: "matchmaking-service",
    about: "Matchmaking: accepting a trade offer sends a notification to the user who made it.",
    service_name: "matchmaking-service",
    http_port: "5005",
    queue: None,
    database: None,
};

/// The queue notifications are sent to.
#[derive(Debug, Clone, clap::Args)]
pub struct NotificationsQueueArgs {
    /// Durable queue publishers send notifications to (default exchange, routing key = the
    /// queue); its dead-letter queue is `<NOTIFICATIONS_QUEUE>.dlq`.
    #[arg(long, env = "NOTIFICATIONS_QUEUE", value_name = "NOTIFICATIONS_QUEUE")]
    #[arg(default_value = "notifications_queue")]
    pub notifications_queue: String,
}

impl NotificationsQueueArgs {
    fn validate(&self, retry: RedeliveryPolicy) -> Result<QueueSettings, ConfigError> {
        Ok(notifications_queue(&non_empty("NOTIFICATIONS_QUEUE", &self.notifications_queue)?, retry))
    }
}

/// The notifications queue as both sides declare it: no bindings, dead letters to
/// `<queue>.dlq`.
pub fn notifications_queue(queue: &str, retry: RedeliveryPolicy) -> QueueSettings {
    QueueSettings::direct(queue, retry)
}

/// `notification-service` settings as given.
#[derive(Debug, Clone, clap::Args)]
pub struct NotificationArgs {
    /// Broker, exchange, name, HTTP port, logs.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The queue of events (`inventory.reserved`), and the retries of both queues.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// The notifications queue.
    #[command(flatten)]
    pub notifications: NotificationsQueueArgs,
    /// The database.
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// Validated [`NotificationArgs`].
#[derive(Debug, Clone)]
pub struct NotificationSettings {
    /// Broker, exchange, name, HTTP port, logs.
    pub service: ServiceSettings,
    /// The queue of events bound to the exchange.
    pub events: QueueSettings,
    /// The notifications queue.
    pub notifications: QueueSettings,
    /// The database.
    pub database: Database,
}

impl AsRef<ServiceSettings> for NotificationSettings {
    fn as_ref(&self) -> &ServiceSettings {
        &self.service
    }
}

impl Validate for NotificationArgs {
    type Settings = NotificationSettings;

    fn validate(self) -> Result<NotificationSettings, ConfigError> {
        let events = self.queue.validate()?;
        let notifications = self.notifications.validate(events.retry.clone())?;
        if notifications.queue == events.queue {
            return Err(ConfigError::new("NOTIFICATIONS_QUEUE", "must differ from MQ_QUEUE"));
        }
        Ok(NotificationSettings {
            service: self.service.validate()?,
            events,
            notifications,
            database: self.database.validate()?,
        })
    }
}

/// `matchmaking-service` settings as given.
#[derive(Debug, Clone, clap::Args)]
pub struct MatchmakingArgs {
    /// Broker, exchange, name, HTTP port, logs.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// The notifications queue.
    #[command(flatten)]
    pub notifications: NotificationsQueueArgs,
}

/// Validated [`MatchmakingArgs`].
#[derive(Debug, Clone)]
pub struct MatchmakingSettings {
    /// Broker, exchange, name, HTTP port, logs.
    pub service: ServiceSettings,
    /// The notifications queue (declared at start, published to).
    pub notifications: QueueSettings,
}

impl AsRef<ServiceSettings> for MatchmakingSettings {
    fn as_ref(&self) -> &ServiceSettings {
        &self.service
    }
}

impl Validate for MatchmakingArgs {
    type Settings = MatchmakingSettings;

    fn validate(self) -> Result<MatchmakingSettings, ConfigError> {
        Ok(MatchmakingSettings {
            service: self.service.validate()?,
            notifications: self.notifications.validate(RedeliveryPolicy::default())?,
        })
    }
}

/// `notification-service`'s command line and environment (see [`config::parse_cli`]).
pub fn parse_notification_cli<I: IntoIterator<Item = T>, T: Into<OsString> + Clone>(
    args: I,
) -> Result<NotificationSettings, Exit> {
    config::parse_cli::<NotificationArgs, _, _>(&NOTIFICATION_DEFAULTS, args)
}

/// `matchmaking-service`'s command line and environment.
pub fn parse_matchmaking_cli<I: IntoIterator<Item = T>, T: Into<OsString> + Clone>(
    args: I,
) -> Result<MatchmakingSettings, Exit> {
    config::parse_cli::<MatchmakingArgs, _, _>(&MATCHMAKING_DEFAULTS, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binary_has_the_contract_defaults() {
        let n = parse_notification_cli(["notification-service"]).unwrap();
        assert_eq!((n.service.service_name.as_str(), n.service.http_port), ("notification-service", 5003));
        assert_eq!(
            (n.notifications.queue.as_str(), n.notifications.dead_letter_queue.as_str()),
            ("notifications_queue", "notifications_queue.dlq")
        );
        assert!(n.notifications.bindings.is_empty(), "publishers address the queue directly");
        assert_eq!(
            (n.events.queue.as_str(), n.events.bindings.as_slice()),
            ("inventory_reserved", &["inventory.reserved".to_owned()][..])
        );
        assert_eq!(n.notifications.retry, n.events.retry);
        assert_eq!(n.database.target.dbname(), "vote_notification");

        let m = parse_matchmaking_cli(["matchmaking-service"]).unwrap();
        assert_eq!((m.service.service_name.as_str(), m.service.http_port), ("matchmaking-service", 5005));
        assert_eq!(m.notifications.queue, "notifications_queue");
        let declared = m.notifications.subscription(&m.service, "x").topology;
        assert_eq!(declared, n.notifications.subscription(&n.service, "y").topology, "both sides declare alike");
    }

    #[test]
    fn the_notifications_queue_is_checked() {
        for args in [["x", "--notifications-queue", " "], ["x", "--notifications-queue", "inventory_reserved"]] {
            let e = parse_notification_cli(args).unwrap_err();
            assert!(e.code == 2 && e.message.contains("NOTIFICATIONS_QUEUE"), "{}", e.message);
        }
    }
}
