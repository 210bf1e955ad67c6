//! Pipeline step 1: the broker side. A [`Session`] is one consuming connection to the vote
//! queue. When the connection is lost the session is dropped whole: its tags die with it and
//! are never used on a new channel.

use vote_mq::{AmqpUrl, BulkConsumer, BulkDelivery, QueueTopology, ShardSet};

/// What the source needs to (re)connect.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Broker.
    pub url: AmqpUrl,
    /// Vote queue + dead-letter exchange and queue.
    pub topology: QueueTopology,
    /// The sharded intake the queue is a shard of, if any.
    pub shard_set: Option<ShardSet>,
    /// Prefetch count.
    pub prefetch: u16,
}

impl SourceConfig {
    /// The name this engine's connections to its queue show in the management UI, with
    /// `suffix` for a connection with another role (`-probe`).
    pub fn connection_name(&self, suffix: &str) -> String {
        format!("vote-engine-{}-{}{suffix}", std::process::id(), self.topology.queue)
    }
}

/// A live consuming session: one connection to the vote queue. Which of its deliveries may be
/// acked or go back to the queue is decided by the pipeline's machine; this only carries it out.
pub struct Session {
    consumer: BulkConsumer,
}

impl Session {
    /// Declares the topology (idempotent: a broker restarted empty is rebuilt; a shard declares
    /// its whole set), then starts consuming on a connection of its own.
    pub async fn open(config: &SourceConfig) -> Result<Self, vote_mq::Error> {
        let name = config.connection_name("");
        let consumer = match &config.shard_set {
            // The set's declaration includes this shard.
            Some(set) => {
                set.declare(&config.url, &name).await?;
                BulkConsumer::open(&config.url, &config.topology.queue, config.prefetch, &name).await?
            }
            None => BulkConsumer::declare_and_open(&config.url, &config.topology, config.prefetch, &name).await?,
        };
        Ok(Self { consumer })
    }

    /// The next delivery; `None` when the connection or channel is gone. Cancel-safe.
    pub async fn recv(&mut self) -> Option<BulkDelivery> {
        self.consumer.recv().await
    }

    /// A delivery already buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<BulkDelivery> {
        self.consumer.try_recv()
    }

    /// Acks every delivery up to `tag` (`multiple=true`).
    pub fn ack(&self, up_to: u64) -> Result<(), vote_mq::Error> {
        self.consumer.ack(up_to, true)
    }

    /// Returns delivery `tag` to the queue, to be delivered again.
    pub fn requeue(&self, tag: u64) -> Result<(), vote_mq::Error> {
        self.consumer.reject(tag, true)
    }

    /// Closes the connection; unacked deliveries return to the queue.
    pub async fn close(self) {
        self.consumer.close().await;
    }
}
