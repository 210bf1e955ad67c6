//! Publishing a backlog with loadgen's generator, the exact check, and the dead-letter queue.

use std::time::Duration;

use futures::FutureExt;
use tokio::time::Instant;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_loadgen::verify::wait_and_verify;
use vote_loadgen::{Expected, GeneratorConfig, Report};
use vote_mq::{AmqpUrl, OutgoingMessage, Publisher, Subscription};

use crate::target::Target;

/// A stream for fault tests: `laws` laws, 8 % duplicates (resends and revotes), 1 % garbage of
/// every kind, 10 % envelopes, a fresh law prefix and a random seed (printed by
/// [`publish_backlog`], so a failure can be replayed).
pub fn generator(laws: u32) -> GeneratorConfig {
    GeneratorConfig { laws, zipf: 0.8, duplicate_ratio: 0.08, invalid_ratio: 0.01, ..GeneratorConfig::default() }
}

/// Publishes `count` messages of `generator` to the target's queue (declaring it as the engine
/// does), all confirmed, and returns what the engine must count.
pub async fn publish_backlog(target: &Target, count: u64, generator: GeneratorConfig) -> Expected {
    let started = Instant::now();
    let seed = generator.seed;
    let report = publish(&target.amqp(), &PublishConfig::new(&target.queue, count, generator))
        .await
        .unwrap_or_else(|e| panic!("publishing to {} failed (is RabbitMQ running?): {e}", target.queue));
    let e = &report.expected;
    println!(
        "published {} messages in {:.1} s (seed {seed}): {} unique votes, {} duplicates, {} garbage, {} republished",
        e.messages_sent,
        started.elapsed().as_secs_f64(),
        e.total,
        e.duplicates_sent,
        e.invalid_sent,
        e.republished
    );
    report.expected
}

/// Publishes hand-written bodies, in order, to the target's queue (declaring it as the engine
/// does), all confirmed.
pub async fn publish_bodies(target: &Target, bodies: &[Vec<u8>]) {
    let url = target.amqp();
    vote_loadgen::declare_queue(&url, &target.queue, vote_loadgen::DEFAULT_QUEUE_TYPE)
        .await
        .expect("RabbitMQ must be running");
    let publisher = Publisher::connect(&url, "reliability-publisher").await.expect("RabbitMQ must be running");
    let mut confirms = Vec::with_capacity(bodies.len());
    for body in bodies {
        let message = OutgoingMessage::json("", &target.queue, body.clone());
        confirms.push(publisher.send(&message).await.expect("publish"));
    }
    for confirm in confirms {
        confirm.await.expect("publish confirmed");
    }
    publisher.close().await;
}

/// A vote in the seed format.
pub fn vote_body(hash: &str, citizen: &str, law: &str, choice: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "vote_hash": hash,
        "citizen_id": citizen,
        "law_id": law,
        "choice": choice,
        "timestamp": "2025-11-14T12:00:00Z",
    }))
    .expect("a JSON object serializes")
}

/// Waits (at most `within`) until the database holds the expected totals, then asserts that
/// every law matches exactly: nothing lost, nothing double-counted.
pub async fn assert_exact(target: &Target, expected: &Expected, within: Duration) -> Report {
    let report = wait_and_verify(&target.db, expected, within)
        .await
        .unwrap_or_else(|e| panic!("cannot read the totals of {}: {e}", target.db));
    println!("{report}");
    assert!(report.is_exact(), "totals are not exact:\n{report}");
    assert_eq!((report.counted, report.lost, report.double_counted), (expected.total, 0, 0), "{report}");
    report
}

/// Waits until the dead-letter queue holds exactly `expected` messages and stays there for a
/// second; panics as soon as it holds more, or when `within` passes.
pub async fn wait_for_dlq(target: &Target, expected: u64, within: Duration) {
    let deadline = Instant::now() + within;
    loop {
        let held = u64::from(target.dlq_depth().await);
        assert!(held <= expected, "the dead-letter queue holds {held} messages, more than the {expected} refused");
        if held == expected {
            tokio::time::sleep(Duration::from_secs(1)).await;
            let held = u64::from(target.dlq_depth().await);
            assert_eq!(held, expected, "the dead-letter queue grew past the {expected} refused messages");
            return;
        }
        assert!(Instant::now() < deadline, "only {held} of {expected} refused messages dead-lettered after {within:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Polls `check` every 20 ms until it holds; panics naming `what` after `within`.
pub async fn wait_until(what: &str, within: Duration, mut check: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "{what}: not within {within:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Runs `body`, then `cleanup` whether `body` panicked or not (then panics again): for tests that
/// create server-wide things (roles, users) that must not outlive them.
pub async fn with_cleanup<T>(body: impl Future<Output = T>, cleanup: impl Future<Output = ()>) -> T {
    let outcome = std::panic::AssertUnwindSafe(body).catch_unwind().await;
    cleanup.await;
    outcome.unwrap_or_else(|panic| std::panic::resume_unwind(panic))
}

/// A message read from a dead-letter queue.
#[derive(Debug, Clone)]
pub struct DeadLetter {
    /// The `x-reject-reason` header.
    pub reason: Option<String>,
    /// The `x-reject-detail` header.
    pub detail: Option<String>,
    /// The body, unchanged.
    pub body: Vec<u8>,
}

/// Asserts that `letter` is garbage to the engine's own decoder and carries the reason it
/// refuses it for.
pub fn assert_refused_for_its_reason(letter: &DeadLetter) {
    let refusal = vote_engine::decode::decode(&letter.body).expect_err("only garbage is dead-lettered");
    assert_eq!(letter.reason.as_deref(), Some(refusal.reason.as_str()));
}

/// Dead-lettering is at least once across a lost broker session (a message dead-lettered but
/// not yet acked when the session ended is refused again on redelivery): waits until every
/// garbage message of `expected` is in the dead-letter queue, reads them all, and asserts each
/// copy is garbage with its reason. Returns how many there were.
pub async fn assert_dead_letters_at_least_once(target: &Target, expected: &Expected, within: Duration) -> u64 {
    wait_until("every garbage message is dead-lettered", within, async || {
        u64::from(target.dlq_depth().await) >= expected.invalid_sent
    })
    .await;
    let dead = u64::from(target.dlq_depth().await);
    for letter in read_queue(&target.amqp(), &target.dlq(), dead as usize).await {
        assert_refused_for_its_reason(&letter);
    }
    println!("dead-lettered {dead} for {} garbage messages", expected.invalid_sent);
    dead
}

/// Reads (and acks) exactly `count` messages from `queue`; panics if fewer arrive within 30 s or
/// if more are there.
pub async fn read_queue(url: &AmqpUrl, queue: &str, count: usize) -> Vec<DeadLetter> {
    let mut subscription = Subscription::open_queue(url, queue, 1000, "reliability-reader")
        .await
        .unwrap_or_else(|e| panic!("cannot consume {queue} (is RabbitMQ running?): {e}"));
    let mut read = Vec::with_capacity(count);
    while read.len() < count {
        let delivery = tokio::time::timeout(Duration::from_secs(30), subscription.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages in {queue}", read.len()))
            .expect("reader connection open");
        subscription.acker().ack(delivery.tag, false).await.expect("ack");
        read.push(DeadLetter {
            reason: delivery.header(vote_mq::REJECT_REASON_HEADER),
            detail: delivery.header(vote_mq::REJECT_DETAIL_HEADER),
            body: delivery.body,
        });
    }
    let extra = tokio::time::timeout(Duration::from_millis(500), subscription.recv()).await;
    assert!(extra.is_err(), "{queue} holds more than {count} messages");
    subscription.close().await;
    read
}
