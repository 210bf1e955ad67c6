//! Pipeline step 1: the broker side. A [`Session`] is one consuming connection to the vote
//! queue, with the ack tracker for its delivery tags. When the connection is lost the session is
//! dropped whole: its tags die with it and are never used on a new channel.
//!
//! A delivery carrying many votes (`vote.batch`) is settled once every one of its votes is.

use std::collections::HashMap;

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
    /// Deliveries carrying several votes, by tag: how many are not settled yet.
    parts: HashMap<u64, Parts>,
}

/// The unsettled votes of a delivery that carries several.
struct Parts {
    remaining: usize,
    /// The delivery went back to the queue (a dead letter of one of its votes was not
    /// confirmed): it is not rejected twice.
    requeued: bool,
}

impl Session {
    /// Declares the topology (idempotent: a broker restarted empty is rebuilt; a shard declares
    /// its whole set), then starts consuming on a connection of its own.
    pub async fn open(config: &SourceConfig, epoch: u64) -> Result<Self, vote_mq::Error> {
        let name = format!("vote-engine-{}-{}", std::process::id(), config.topology.queue);
        let consumer = match &config.shard_set {
            // The set's declaration includes this shard.
            Some(set) => {
                set.declare(&config.url, &name).await?;
                BulkConsumer::open(&config.url, &config.topology.queue, config.prefetch, &name).await?
            }
            None => BulkConsumer::declare_and_open(&config.url, &config.topology, config.prefetch, &name).await?,
        };
        Ok(Self { epoch, consumer, tracker: AckTracker::new(), parts: HashMap::new() })
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

    /// Says that delivery `tag` carries `votes` votes, each settled (or requeued) on its own.
    pub fn expect_parts(&mut self, tag: u64, votes: usize) {
        if votes > 1 {
            self.parts.insert(tag, Parts { remaining: votes, requeued: false });
        }
    }

    /// Counts one vote of delivery `tag` as done; true when the delivery is done.
    fn part_done(&mut self, tag: u64) -> bool {
        // Most deliveries carry one vote: no lookup for them while no batch is in flight.
        if self.parts.is_empty() {
            return true;
        }
        let Some(parts) = self.parts.get_mut(&tag) else { return true };
        parts.remaining -= 1;
        if parts.remaining > 0 {
            return false;
        }
        self.parts.remove(&tag);
        true
    }

    /// Marks votes settled (a tag once per vote it carries) and acks the newly contiguous
    /// prefix (multiple=true).
    pub fn settle(&mut self, tags: impl IntoIterator<Item = u64>) -> Result<(), vote_mq::Error> {
        for tag in tags {
            if self.part_done(tag) {
                self.tracker.settle(tag);
            }
        }
        if let Some(up_to) = self.tracker.take_ack() {
            self.consumer.ack(up_to, true)?;
        }
        Ok(())
    }

    /// Returns one delivery to the queue (to be delivered again) and counts it as settled: a
    /// later multiple ack no longer covers it. For a delivery of several votes this counts one
    /// of them, and the delivery goes back once (its votes already counted are deduplicated
    /// when it comes again).
    pub fn requeue(&mut self, tag: u64) -> Result<(), vote_mq::Error> {
        if let Some(parts) = self.parts.get_mut(&tag) {
            let again = std::mem::replace(&mut parts.requeued, true);
            self.part_done(tag);
            if again {
                return self.settle([]);
            }
        }
        self.consumer.reject(tag, true)?;
        self.tracker.rejected(tag);
        self.settle([])
    }

    /// Closes the connection; unacked deliveries return to the queue.
    pub async fn close(self) {
        self.consumer.close().await;
    }
}
