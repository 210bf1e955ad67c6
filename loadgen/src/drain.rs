//! The broker ceiling: consume a queue and ack it as fast as possible, doing nothing else, to
//! know how fast any consumer (the engine included) could possibly go on this broker.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::task::JoinSet;
use tokio::time::Instant;
use vote_mq::{AmqpUrl, BulkConsumer, QueueType};

use crate::Error;

/// How to drain.
#[derive(Debug, Clone)]
pub struct DrainConfig {
    /// The queues (each declared as the engine declares it if missing): one, or the shards of
    /// the sharded intake.
    pub queues: Vec<String>,
    /// Its type, if it has to be declared.
    pub queue_type: QueueType,
    /// Unacked deliveries in flight per consumer.
    pub prefetch: u16,
    /// Consumers per queue, each on its own connection.
    pub consumers: usize,
    /// Ack (with multiple=true) every this many messages.
    pub ack_every: u64,
    /// Stop once a consumer has received nothing for this long.
    pub idle: Duration,
    /// Stop after this many messages in total; later deliveries are left unacked (requeued).
    pub limit: Option<u64>,
    /// Keep the bodies in the report (for tests that inspect what the queue held).
    pub keep_bodies: bool,
}

impl DrainConfig {
    /// Drains `queue` with 2 consumers of prefetch 1000, acking every 250, stopping after 2 s
    /// idle.
    pub fn new(queue: &str) -> Self {
        Self {
            queues: vec![queue.to_owned()],
            queue_type: crate::DEFAULT_QUEUE_TYPE,
            prefetch: 1000,
            consumers: 2,
            ack_every: 250,
            idle: Duration::from_secs(2),
            limit: None,
            keep_bodies: false,
        }
    }
}

/// What a drain did.
#[derive(Debug, Clone, Default)]
pub struct DrainReport {
    /// Messages received and acked.
    pub messages: u64,
    /// From the first delivery to the last ack (idle waiting excluded).
    pub elapsed: Duration,
    /// The bodies, in arrival order per consumer, when asked for.
    pub bodies: Vec<Vec<u8>>,
}

impl DrainReport {
    /// Messages acked per second.
    pub fn rate(&self) -> f64 {
        self.messages as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Consumes and acks `config.queues` until each stays empty for `config.idle` (or the limit).
pub async fn drain(url: &AmqpUrl, config: &DrainConfig) -> Result<DrainReport, Error> {
    if config.consumers == 0 || config.prefetch == 0 || config.ack_every == 0 || config.queues.is_empty() {
        return Err(Error::Config("a queue, and --consumers, --prefetch and --ack-every of at least 1".to_owned()));
    }
    let claimed = Arc::new(AtomicU64::new(0));
    let mut tasks = JoinSet::new();
    for queue in &config.queues {
        for i in 0..config.consumers {
            // The engine's own consumer: the ceiling is what the broker gives the same client.
            let topology = crate::queue_topology(queue, config.queue_type);
            let name = format!("loadgen-drain-{queue}-{i}");
            let consumer = BulkConsumer::declare_and_open(url, &topology, config.prefetch, &name).await?;
            tasks.spawn(consume(consumer, config.clone(), claimed.clone()));
        }
    }
    let mut report = DrainReport::default();
    let (mut first, mut last): (Option<Instant>, Option<Instant>) = (None, None);
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(part)) => {
                report.messages += part.messages;
                report.bodies.extend(part.bodies);
                if let Some((start, end)) = part.span {
                    first = Some(first.map_or(start, |f| f.min(start)));
                    last = Some(last.map_or(end, |l| l.max(end)));
                }
            }
            Ok(Err(e)) => {
                failure.get_or_insert(e);
            }
            Err(e) => {
                failure.get_or_insert(Error::Task(e.to_string()));
            }
        }
    }
    if let Some(e) = failure {
        return Err(e);
    }
    if let (Some(first), Some(last)) = (first, last) {
        report.elapsed = last - first;
    }
    Ok(report)
}

struct Consumed {
    messages: u64,
    span: Option<(Instant, Instant)>,
    bodies: Vec<Vec<u8>>,
}

async fn consume(
    mut subscription: BulkConsumer,
    config: DrainConfig,
    claimed: Arc<AtomicU64>,
) -> Result<Consumed, Error> {
    let mut consumed = Consumed { messages: 0, span: None, bodies: Vec::new() };
    let mut first = None;
    let mut unacked = 0u64;
    let mut last_tag = 0u64;
    let mut last_seen = Instant::now();
    'receiving: loop {
        let mut next = match tokio::time::timeout(config.idle, subscription.recv()).await {
            Ok(Some(delivery)) => Some(delivery),
            Ok(None) => return Err(vote_mq::Error::ConnectionLost.into()),
            Err(_idle) => break,
        };
        first.get_or_insert_with(Instant::now);
        while let Some(delivery) = next {
            if config.limit.is_some_and(|limit| claimed.fetch_add(1, Ordering::Relaxed) >= limit) {
                last_seen = Instant::now();
                break 'receiving;
            }
            consumed.messages += 1;
            unacked += 1;
            last_tag = delivery.tag;
            if config.keep_bodies {
                consumed.bodies.push(delivery.body);
            }
            if unacked >= config.ack_every {
                subscription.ack(last_tag, true)?;
                unacked = 0;
            }
            next = subscription.try_recv();
        }
        last_seen = Instant::now();
    }
    if unacked > 0 {
        subscription.ack(last_tag, true)?;
    }
    consumed.span = first.map(|f| (f, last_seen.max(f)));
    subscription.close().await;
    Ok(consumed)
}
