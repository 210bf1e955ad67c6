//! Short-lived broker operations for operators, tools and tests: queue depth, delete, and
//! taking the messages waiting in a queue (a dead-letter queue's, typically).

use amqprs::channel::{BasicGetArguments, Channel, ExchangeDeclareArguments, QueueDeleteArguments};
use amqprs::connection::Connection;

use crate::connection::{close, connect, with_channel};
use crate::subscription::Delivery;
use crate::topology::declare_passive;
use crate::{AmqpUrl, Error};

/// Connection name of these operations in the management UI.
const NAME: &str = "vote-mq-admin";

/// Messages ready in `queue` (not counting unacked ones), via a passive declare.
pub async fn message_count(url: &AmqpUrl, queue: &str) -> Result<u32, Error> {
    with_channel(url, NAME, async |_, channel| declare_passive(channel, queue).await).await
}

/// Asks a queue's depth again and again on one connection kept open (a consumer's watchdog
/// probing every few seconds would otherwise open a connection each time).
pub struct DepthProbe {
    url: AmqpUrl,
    queue: String,
    name: String,
    open: Option<(Connection, Channel)>,
}

impl DepthProbe {
    /// A probe of `queue`; it connects, as `name`, on first use.
    pub fn new(url: &AmqpUrl, queue: &str, name: &str) -> Self {
        Self { url: url.clone(), queue: queue.to_owned(), name: name.to_owned(), open: None }
    }

    /// Messages ready in the queue, via a passive declare; reconnects when the last connection
    /// was lost or the last answer was an error.
    pub async fn ready(&mut self) -> Result<u32, Error> {
        let (connection, channel) = match self.open.take() {
            Some((connection, channel)) if connection.is_open() && channel.is_open() => (connection, channel),
            stale => {
                if let Some((connection, channel)) = stale {
                    close(channel, connection).await;
                }
                let connection = connect(&self.url, &self.name).await?;
                let channel = connection.open_channel(None).await?;
                (connection, channel)
            }
        };
        let ready = declare_passive(&channel, &self.queue).await;
        match ready {
            Ok(_) => self.open = Some((connection, channel)),
            Err(_) => close(channel, connection).await,
        }
        ready
    }

    /// Closes the connection, if one is open.
    pub async fn close(mut self) {
        if let Some((connection, channel)) = self.open.take() {
            close(channel, connection).await;
        }
    }
}

/// Whether `exchange` exists, via a passive declare.
pub async fn exchange_exists(url: &AmqpUrl, exchange: &str) -> Result<bool, Error> {
    with_channel(url, NAME, async |_, channel| {
        let mut args = ExchangeDeclareArguments::new(exchange, "");
        args.passive(true);
        Ok(channel.exchange_declare(args.finish()).await.is_ok())
    })
    .await
}

/// Deletes the exchange `exchange`, if it exists.
pub async fn delete_exchange(url: &AmqpUrl, exchange: &str) -> Result<(), Error> {
    with_channel(url, NAME, async |_, channel| {
        channel.exchange_delete(amqprs::channel::ExchangeDeleteArguments::new(exchange)).await?;
        Ok(())
    })
    .await
}

/// Deletes `queue` (and its messages), if it exists.
pub async fn delete_queue(url: &AmqpUrl, queue: &str) -> Result<(), Error> {
    with_channel(url, NAME, async |_, channel| {
        channel.queue_delete(QueueDeleteArguments::new(queue)).await?;
        Ok(())
    })
    .await
}

/// Takes (gets and acks) up to `max` messages waiting in `queue`, without a subscription: for
/// operators and tests inspecting a dead-letter queue. Returns fewer when the queue runs dry.
pub async fn take_messages(url: &AmqpUrl, queue: &str, max: usize) -> Result<Vec<Delivery>, Error> {
    with_channel(url, "take-messages", async |_, channel| {
        let mut taken = Vec::new();
        while taken.len() < max {
            let mut args = BasicGetArguments::new(queue);
            args.no_ack(true);
            let Some((get_ok, properties, body)) = channel.basic_get(args).await? else { break };
            taken.push(Delivery {
                tag: get_ok.delivery_tag(),
                body,
                routing_key: get_ok.routing_key().clone(),
                redelivered: get_ok.redelivered(),
                properties,
            });
        }
        Ok(taken)
    })
    .await
}
