//! Pipeline step 1: the broker side. A [`Session`] is one consuming connection to the vote
//! queue, with the ack tracker for its delivery tags. When the connection is lost the session is
//! dropped whole: its tags die with it and are never used on a new channel.

use vote_mq::{AmqpUrl, BulkConsumer, BulkDelivery, QueueTopology, ShardSet};

use crate::ack::AckTracker;

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

/// A live consuming session.
pub struct Session {
    /// Increases with every new session; batches remember the epoch they were read in.
    pub epoch: u64,
    consumer: BulkConsumer,
    /// Settled/unsettled state of this session's deliveries.
    pub tracker: AckTracker,
}

impl Session {
    /// Declares the topology (idempotent: a broker restarted empty is rebuilt; a shard declares
    /// its whole set), then starts consuming on a connection of its own.
    pub async fn open(config: &SourceConfig, epoch: u64) -> Result<Self, vote_mq::Error> {
        let name = format!("vote-engine-{}-{}", std::process::id(), config.topology.queue);
        if let Some(set) = &config.shard_set {
            set.declare(&config.url, &name).await?;
        }
        let consumer = BulkConsumer::declare_and_open(&config.url, &config.topology, config.prefetch, &name).await?;
        Ok(Self { epoch, consumer, tracker: AckTracker::new() })
    }

    /// The next delivery; `None` when the connection or channel is gone. Cancel-safe.
    pub async fn recv(&mut self) -> Option<BulkDelivery> {
        let delivery = self.consumer.recv().await?;
        self.tracker.delivered(delivery.tag);
        Some(delivery)
    }

    /// A delivery already buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<BulkDelivery> {
        let delivery = self.consumer.try_recv()?;
        self.tracker.delivered(delivery.tag);
        Some(delivery)
    }

    /// Marks tags settled and acks the newly contiguous prefix (multiple=true).
    pub fn settle(&mut self, tags: impl IntoIterator<Item = u64>) -> Result<(), vote_mq::Error> {
        for tag in tags {
            self.tracker.settle(tag);
        }
        if let Some(up_to) = self.tracker.take_ack() {
            self.consumer.ack(up_to, true)?;
        }
        Ok(())
    }

    /// Returns one delivery to the queue (to be delivered again) and counts it as settled: a
    /// later multiple ack no longer covers it.
    pub fn requeue(&mut self, tag: u64) -> Result<(), vote_mq::Error> {
        self.consumer.reject(tag, true)?;
        self.tracker.rejected(tag);
        self.settle([])
    }

    /// Closes the connection; unacked deliveries return to the queue.
    pub async fn close(self) {
        self.consumer.close().await;
    }
}
