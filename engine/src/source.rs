//! Pipeline step 1: the broker side. A [`Session`] is one connection + channel consuming the
//! vote queue, with the ack tracker for its delivery tags. When the connection is lost the
//! session is dropped whole: its tags die with it and are never used on a new channel.

use vote_mq::{Acker, AmqpUrl, Delivery, QueueTopology, Subscription, SubscriptionConfig};

use crate::ack::AckTracker;

/// What the source needs to (re)connect.
#[derive(Debug, Clone)]
pub struct SourceConfig {
    /// Broker.
    pub url: AmqpUrl,
    /// Vote queue + dead-letter exchange and queue.
    pub topology: QueueTopology,
    /// Prefetch count.
    pub prefetch: u16,
}

/// A live consuming session.
pub struct Session {
    /// Increases with every new session; batches remember the epoch they were read in.
    pub epoch: u64,
    subscription: Subscription,
    acker: Acker,
    /// Settled/unsettled state of this session's deliveries.
    pub tracker: AckTracker,
}

impl Session {
    /// Connects, declares the topology and starts consuming.
    pub async fn open(config: &SourceConfig, epoch: u64) -> Result<Self, vote_mq::Error> {
        let subscription = Subscription::open(
            &config.url,
            &SubscriptionConfig {
                topology: config.topology.clone(),
                bindings: None,
                prefetch: config.prefetch,
                name: format!("vote-engine-{}", std::process::id()),
            },
        )
        .await?;
        let acker = subscription.acker();
        Ok(Self { epoch, subscription, acker, tracker: AckTracker::new() })
    }

    /// The next delivery; `None` when the connection or channel is gone.
    pub async fn recv(&mut self) -> Option<Delivery> {
        let delivery = self.subscription.recv().await?;
        self.tracker.delivered(delivery.tag);
        Some(delivery)
    }

    /// A delivery already buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        let delivery = self.subscription.try_recv()?;
        self.tracker.delivered(delivery.tag);
        Some(delivery)
    }

    /// Marks tags settled and acks the newly contiguous prefix (multiple=true).
    pub async fn settle(&mut self, tags: impl IntoIterator<Item = u64>) -> Result<(), vote_mq::Error> {
        for tag in tags {
            self.tracker.settle(tag);
        }
        if let Some(up_to) = self.tracker.take_ack() {
            self.acker.ack(up_to, true).await?;
        }
        Ok(())
    }

    /// Rejects one delivery without requeue (it goes to the dead-letter queue) and counts it
    /// as settled: a later multiple ack no longer covers it.
    pub async fn reject(&mut self, tag: u64) -> Result<(), vote_mq::Error> {
        self.acker.reject(tag, false).await?;
        self.tracker.rejected(tag);
        self.settle([]).await
    }

    /// Closes the channel and connection; unacked deliveries return to the queue.
    pub async fn close(self) {
        self.subscription.close().await;
    }
}
