//! Declaring queues and exchanges. Declarations are idempotent, so every (re)connect calls them
//! again: a broker restarted with an empty state is rebuilt before consuming resumes.

use amqprs::channel::{Channel, ExchangeDeclareArguments, QueueBindArguments, QueueDeclareArguments};
use amqprs::{FieldTable, FieldValue};

use crate::Error;

/// A durable work queue whose rejected messages go to a dead-letter queue through a direct
/// exchange, routed by the dead-letter queue's name (so one exchange can serve many queues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueTopology {
    /// The queue consumers read from.
    pub queue: String,
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
            dead_letter_exchange: dead_letter_exchange.to_owned(),
            dead_letter_queue: dead_letter_queue.to_owned(),
        }
    }

    /// Declares the dead-letter exchange and queue, then the work queue pointing at them.
    pub async fn declare(&self, channel: &Channel) -> Result<(), Error> {
        declare_exchange(channel, &self.dead_letter_exchange, "direct").await?;
        declare_durable_queue(channel, &self.dead_letter_queue, FieldTable::new()).await?;
        channel
            .queue_bind(QueueBindArguments::new(
                &self.dead_letter_queue,
                &self.dead_letter_exchange,
                &self.dead_letter_queue,
            ))
            .await?;
        let mut args = FieldTable::new();
        args.insert(name("x-dead-letter-exchange")?, text(&self.dead_letter_exchange)?);
        args.insert(name("x-dead-letter-routing-key")?, text(&self.dead_letter_queue)?);
        declare_durable_queue(channel, &self.queue, args).await
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
