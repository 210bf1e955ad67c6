//! The sharded vote intake: producers publish to a consistent-hash exchange (RabbitMQ's bundled
//! `rabbitmq_consistent_hash_exchange` plugin) with the law id as routing key; the exchange
//! spreads the keys over N shard queues, so every message of one law lands in the same shard.
//! Each shard is a [`QueueTopology`] of its own (queue `<base>.<i>`, dead letters to
//! `<base>.<i>.dlq`), and the set is declared whole by whoever declares any of it: a ring missing
//! a shard would route that shard's laws to the others until it appears.

use amqprs::channel::QueueBindArguments;

use crate::connection::with_channel;
use crate::topology::{CloseReason, declare_exchange};
use crate::{AmqpUrl, Error, QueueTopology, QueueType};

/// Exchange type of the consistent-hash exchange.
pub const CONSISTENT_HASH: &str = "x-consistent-hash";

/// Binding key of every shard: its weight on the hash ring (equal shares).
const SHARD_WEIGHT: &str = "1";

/// A consistent-hash exchange and the N shard queues bound to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardSet {
    /// The exchange producers publish to, routing key = law id.
    pub exchange: String,
    /// Shard `i` is `shards[i]`.
    pub shards: Vec<QueueTopology>,
}

impl ShardSet {
    /// `count` shards named `<base>.0` ... `<base>.<count-1>` of `queue_type`, each dead-lettering
    /// to `<shard>.dlq` through `dead_letter_exchange`.
    pub fn new(exchange: &str, base: &str, count: u16, queue_type: QueueType, dead_letter_exchange: &str) -> Self {
        let shards = (0..count)
            .map(|i| {
                let queue = shard_queue(base, i);
                QueueTopology::new(&queue, dead_letter_exchange, &format!("{queue}.dlq")).with_queue_type(queue_type)
            })
            .collect();
        Self { exchange: exchange.to_owned(), shards }
    }

    /// Declares the exchange, every shard with its dead-letter queue, and the bindings
    /// (idempotent). A broker without the plugin refuses the exchange type: that error says so.
    pub async fn declare(&self, url: &AmqpUrl, name: &str) -> Result<(), Error> {
        with_channel(url, name, async |connection, channel| {
            let closed = CloseReason::default();
            channel.register_callback(closed.clone()).await?;
            if let Err(e) = declare_exchange(channel, &self.exchange, CONSISTENT_HASH).await {
                return Err(match closed.wait().await {
                    Some((code, text)) => Error::Refused(format!(
                        "{code} {text} (is the rabbitmq_consistent_hash_exchange plugin enabled? \
                         `rabbitmq-plugins enable rabbitmq_consistent_hash_exchange`)"
                    )),
                    None => e,
                });
            }
            for shard in &self.shards {
                if let Err(e) = shard.declare(connection, channel).await {
                    return Err(shard.explain_refusal(closed.wait().await, e));
                }
                channel.queue_bind(QueueBindArguments::new(&shard.queue, &self.exchange, SHARD_WEIGHT)).await?;
            }
            Ok(())
        })
        .await
    }
}

/// The name of shard `index` of the queues named after `base`.
pub fn shard_queue(base: &str, index: u16) -> String {
    format!("{base}.{index}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_named_after_the_base_and_dead_letter_beside_themselves() {
        let set = ShardSet::new("votes", "votes.aggregation", 3, QueueType::Quorum, "votes.dlx");
        let names: Vec<_> = set.shards.iter().map(|s| (s.queue.as_str(), s.dead_letter_queue.as_str())).collect();
        assert_eq!(
            names,
            [
                ("votes.aggregation.0", "votes.aggregation.0.dlq"),
                ("votes.aggregation.1", "votes.aggregation.1.dlq"),
                ("votes.aggregation.2", "votes.aggregation.2.dlq"),
            ]
        );
        assert!(set.shards.iter().all(|s| s.queue_type == QueueType::Quorum && s.dead_letter_exchange == "votes.dlx"));
    }
}
