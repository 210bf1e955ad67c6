//! Declaring queues and exchanges. Declarations are idempotent, so every (re)connect calls them
//! again: a broker restarted with an empty state is rebuilt before consuming resumes.

use std::sync::{Arc, Mutex as StdMutex};

use amqprs::channel::{Channel, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments};
use amqprs::connection::Connection;
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, FieldTable, FieldValue, Nack, Return};

use crate::connection::with_channel;
use crate::{AmqpUrl, Error, SubscriptionConfig};

/// The kind of RabbitMQ queue the work queue is. Both are durable; the type of an existing queue
/// cannot change (a declaration with another type is refused), so it is configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QueueType {
    /// The classic queue (declared without `x-queue-type`, like queues declared before queue
    /// types existed).
    #[default]
    Classic,
    /// A quorum queue: every message is written to the queue's log and `fsync`ed before it is
    /// confirmed. Why the engine declares its queue this way by default:
    /// docs/decisions/006-quorum-queue-by-default.md.
    Quorum,
}

impl QueueType {
    /// The name used in configuration and in `x-queue-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueType::Classic => "classic",
            QueueType::Quorum => "quorum",
        }
    }
}

impl std::fmt::Display for QueueType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for QueueType {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "classic" => Ok(QueueType::Classic),
            "quorum" => Ok(QueueType::Quorum),
            other => Err(format!("unknown queue type {other:?} (use classic or quorum)")),
        }
    }
}

/// A durable work queue whose rejected messages go to a dead-letter queue through a direct
/// exchange, routed by the dead-letter queue's name (so one exchange can serve many queues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTopology {
    /// The queue consumers read from.
    pub queue: String,
    /// Its type (the dead-letter queue is always classic: it is small and rarely read).
    pub queue_type: QueueType,
    /// Direct exchange that dead-lettered messages are published to.
    pub dead_letter_exchange: String,
    /// Queue holding dead-lettered messages; also the routing key on the exchange.
    pub dead_letter_queue: String,
}

impl QueueTopology {
    /// The usual naming: `<queue>.dlq` behind exchange `dlx`.
    pub fn new(queue: &str, dead_letter_exchange: &str, dead_letter_queue: &str) -> Self {
        Self {
            queue: queue.to_owned(),
            queue_type: QueueType::default(),
            dead_letter_exchange: dead_letter_exchange.to_owned(),
            dead_letter_queue: dead_letter_queue.to_owned(),
        }
    }

    /// Declares the dead-letter exchange and queue, then the work queue pointing at them, on
    /// `channel` of `connection`. A new dead-letter queue takes the work queue's type, so that in
    /// a cluster dead letters are replicated as votes are; an existing one is left as it is (a
    /// queue's type cannot change; an earlier install's may be classic).
    pub async fn declare(&self, connection: &Connection, channel: &Channel) -> Result<(), Error> {
        declare_exchange(channel, &self.dead_letter_exchange, "direct").await?;
        if !queue_exists(connection, &self.dead_letter_queue).await? {
            declare_durable_queue(channel, &self.dead_letter_queue, self.type_argument()?).await?;
        }
        channel
            .queue_bind(QueueBindArguments::new(
                &self.dead_letter_queue,
                &self.dead_letter_exchange,
                &self.dead_letter_queue,
            ))
            .await?;
        let mut args = self.type_argument()?;
        args.insert(name("x-dead-letter-exchange")?, text(&self.dead_letter_exchange)?);
        args.insert(name("x-dead-letter-routing-key")?, text(&self.dead_letter_queue)?);
        declare_durable_queue(channel, &self.queue, args).await
    }

    /// `x-queue-type` for a queue of the work queue's type (none for classic, the default).
    fn type_argument(&self) -> Result<FieldTable, Error> {
        let mut args = FieldTable::new();
        if self.queue_type != QueueType::Classic {
            args.insert(name("x-queue-type")?, text(self.queue_type.as_str())?);
        }
        Ok(args)
    }

    /// Explains a refused [`QueueTopology::declare`] by the broker's reason for closing the
    /// channel: a queue that exists with other arguments (another type: a queue's type cannot
    /// change, no retry helps) or anything else the broker said (a node shutting down, a quorum
    /// queue without a leader for a moment: worth retrying).
    pub(crate) fn explain_refusal(&self, reason: Option<(u16, String)>, error: Error) -> Error {
        match reason {
            Some((PRECONDITION_FAILED, text)) if text.contains("inequivalent arg") => Error::TopologyMismatch(format!(
                "queue {:?} exists with other settings than a durable {} queue dead-lettering to {:?}: the \
                     type of a queue cannot change, so set the queue type (RABBITMQ_QUEUE_TYPE) to the existing \
                     queue's, or drain and delete the queue (the broker: {text})",
                self.queue, self.queue_type, self.dead_letter_exchange
            )),
            Some((code, text)) => Error::Refused(format!("{code} {text}")),
            None => error,
        }
    }

    /// The same topology with a work queue of type `queue_type`.
    pub fn with_queue_type(mut self, queue_type: QueueType) -> Self {
        self.queue_type = queue_type;
        self
    }

    /// Binds the work queue to `exchange` (declared as a durable topic exchange) for each
    /// routing-key pattern.
    pub async fn bind_topics(&self, channel: &Channel, exchange: &str, patterns: &[String]) -> Result<(), Error> {
        declare_exchange(channel, exchange, "topic").await?;
        for pattern in patterns {
            channel.queue_bind(QueueBindArguments::new(&self.queue, exchange, pattern)).await?;
        }
        Ok(())
    }
}

/// Declares a subscription's queue, dead-letter route and bindings without consuming: for a
/// producer that publishes straight to a queue (default exchange, routing key = queue), whose
/// messages would be dropped if no consumer had declared the queue yet. The arguments are the
/// consumer's own, so both sides declare the same queue.
pub async fn declare_topology(url: &AmqpUrl, config: &SubscriptionConfig) -> Result<(), Error> {
    with_channel(url, &config.name, async |connection, channel| {
        let closed = CloseReason::default();
        channel.register_callback(closed.clone()).await?;
        match (config.topology.declare(connection, channel).await, &config.bindings) {
            (Err(e), _) => Err(config.topology.explain_refusal(closed.wait().await, e)),
            (Ok(()), Some((exchange, patterns))) => config.topology.bind_topics(channel, exchange, patterns).await,
            (Ok(()), None) => Ok(()),
        }
    })
    .await
}

/// Declares the durable topic exchange a service publishes its events to: the broker refuses
/// (and closes the channel of) a publish to an exchange that does not exist, which a producer
/// started before any consumer would otherwise meet.
pub async fn declare_topic_exchange(url: &AmqpUrl, exchange: &str, name: &str) -> Result<(), Error> {
    with_channel(url, name, async |_, channel| declare_exchange(channel, exchange, "topic").await).await
}

/// Declares a durable exchange of the given type (`direct`, `topic`, `fanout`).
pub async fn declare_exchange(channel: &Channel, exchange: &str, kind: &str) -> Result<(), Error> {
    let mut args = ExchangeDeclareArguments::new(exchange, kind);
    args.durable(true);
    channel.exchange_declare(args.finish()).await?;
    Ok(())
}

/// Declares a durable, non-exclusive queue with the given arguments.
pub async fn declare_durable_queue(channel: &Channel, queue: &str, arguments: FieldTable) -> Result<(), Error> {
    let mut args = QueueDeclareArguments::durable_client_named(queue);
    args.arguments(arguments);
    channel.queue_declare(args.finish()).await?;
    Ok(())
}

/// Whether `queue` exists, asked on a channel of its own (a passive declaration of a missing
/// queue closes its channel).
async fn queue_exists(connection: &Connection, queue: &str) -> Result<bool, Error> {
    let channel = connection.open_channel(None).await?;
    let exists = declare_passive(&channel, queue).await.is_ok();
    if exists {
        let _ = channel.close().await;
    }
    Ok(exists)
}

/// Declares `queue` passively: fails (closing the channel) unless it exists; returns its
/// ready-message count.
pub(crate) async fn declare_passive(channel: &Channel, queue: &str) -> Result<u32, Error> {
    let mut args = QueueDeclareArguments::new(queue);
    args.passive(true);
    Ok(channel.queue_declare(args.finish()).await?.map(|(_, messages, _)| messages).unwrap_or(0))
}

/// Parses a comma-separated list of routing-key patterns (MQ_BINDINGS), skipping blanks.
pub fn parse_bindings(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

pub(crate) fn name(s: &str) -> Result<amqprs::FieldName, Error> {
    s.try_into().map_err(|_| Error::Protocol(format!("field name too long: {s}")))
}

pub(crate) fn text(s: &str) -> Result<FieldValue, Error> {
    let long: amqprs::LongStr = s.try_into().map_err(|_| Error::Protocol("header value too long".to_owned()))?;
    Ok(FieldValue::S(long))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bindings_are_trimmed_and_blank_free() {
        assert_eq!(parse_bindings(" a.b , c.*,,#"), ["a.b", "c.*", "#"]);
        assert!(parse_bindings("").is_empty());
    }
}

/// AMQP reply code of a refused precondition (e.g. a declaration with other arguments).
const PRECONDITION_FAILED: u16 = 406;

/// Keeps the code and text the broker gave when it closed a channel.
#[derive(Clone, Default)]
pub(crate) struct CloseReason(Arc<StdMutex<Option<(u16, String)>>>);

impl CloseReason {
    /// The reason, once the broker's close has reached the callback (it may trail the failed
    /// call by a moment); `None` if it did not come.
    pub(crate) async fn wait(&self) -> Option<(u16, String)> {
        for _ in 0..20 {
            if let Some(reason) = self.0.lock().unwrap_or_else(|p| p.into_inner()).clone() {
                return Some(reason);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        None
    }
}

#[async_trait::async_trait]
impl amqprs::callbacks::ChannelCallback for CloseReason {
    async fn close(&mut self, _: &Channel, close: CloseChannel) -> Result<(), amqprs::error::Error> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) = Some((close.reply_code(), close.reply_text().clone()));
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, _: Ack) {}
    async fn publish_nack(&mut self, _: &Channel, _: Nack) {}
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}
