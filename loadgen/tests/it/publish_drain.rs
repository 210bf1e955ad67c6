//! Publishing against the real RabbitMQ: what the broker confirmed is exactly what a drain of
//! the queue finds, and the counting rule over the drained bodies gives the expected totals.

use std::time::Duration;

use vote_loadgen::contract::RevoteRule;
use vote_loadgen::drain::{DrainConfig, drain};
use vote_loadgen::model::Counter;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_loadgen::{Expected, GeneratorConfig};
use vote_mq::AmqpUrl;
use vote_runtime::testing;

fn broker() -> AmqpUrl {
    AmqpUrl::parse(&testing::amqp_url()).expect("TEST_AMQP_URL is a valid AMQP URL")
}

fn generator(prefix: &str, seed: u64) -> GeneratorConfig {
    GeneratorConfig {
        law_prefix: prefix.to_owned(),
        laws: 30,
        citizens: 10_000,
        zipf: 1.0,
        duplicate_ratio: 0.1,
        invalid_ratio: 0.05,
        envelope_ratio: 0.2,
        seed,
        ..GeneratorConfig::default()
    }
}

/// Drains `queue` completely, checks the bodies against `expected`, and deletes the queues.
async fn drain_and_check(url: &AmqpUrl, queue: &str, expected: &Expected) {
    let config = DrainConfig {
        consumers: 2,
        prefetch: 300,
        ack_every: 50,
        idle: Duration::from_millis(500),
        keep_bodies: true,
        ..DrainConfig::new(queue)
    };
    let drained = drain(url, &config).await.expect("drain");
    assert_eq!(drained.messages, expected.messages_sent + expected.republished);
    let mut counter = Counter::new(expected.revote_rule);
    drained.bodies.iter().for_each(|body| {
        counter.apply(body);
    });
    let counted = counter.count();
    assert_eq!(counted.laws, expected.laws, "the counting rule over the queue's content");
    assert_eq!(counted.counted, expected.total);
    assert_eq!(counter.invalid, expected.invalid_sent);
    assert_eq!(vote_mq::admin::message_count(url, queue).await.expect("queue depth"), 0, "drained and acked");
    vote_mq::admin::delete_queue(url, queue).await.expect("delete queue");
    vote_mq::admin::delete_queue(url, &format!("{queue}.dlq")).await.expect("delete dead-letter queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn published_messages_are_all_in_the_queue_and_count_as_expected() {
    let url = broker();
    let queue = testing::unique_name("loadgen_publish");
    let config = PublishConfig {
        connections: 3,
        window: 200,
        ..PublishConfig::new(&queue, 4_000, generator("law-pubtst-", 11))
    };
    let report = publish(&url, &config).await.unwrap_or_else(|e| panic!("RabbitMQ must be running ({url}): {e}"));
    let expected = &report.expected;
    assert_eq!(expected.messages_sent, 4_000);
    assert_eq!(expected.republished, 0);
    assert_eq!(report.confirm_latency.len(), 4_000);
    assert!(expected.duplicates_sent > 300 && expected.invalid_sent > 100, "{expected:?}");
    assert_eq!(
        expected.total + expected.duplicates_sent + expected.invalid_sent,
        4_000,
        "every message is a unique vote, a duplicate or garbage"
    );
    assert_eq!(vote_mq::admin::message_count(&url, &queue).await.expect("queue depth"), 4_000);
    drain_and_check(&url, &queue, expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conflicting_votes_on_either_side_of_their_vote_are_expected_by_the_rule() {
    let url = broker();
    let mut laws = Vec::new();
    for rule in [RevoteRule::First, RevoteRule::Last] {
        let queue = testing::unique_name("loadgen_conflicts");
        let generator = GeneratorConfig { conflict_ratio: 0.15, revote_rule: rule, ..generator("law-conflt-", 14) };
        let config = PublishConfig { connections: 2, window: 100, ..PublishConfig::new(&queue, 4_000, generator) };
        let report = publish(&url, &config).await.unwrap_or_else(|e| panic!("RabbitMQ must be running ({url}): {e}"));
        let expected = &report.expected;
        assert!(expected.conflicting_sent > 400, "{expected:?}");
        assert_eq!(expected.total + expected.duplicates_sent + expected.invalid_sent, 4_000);
        // The stream ends with originals still held back behind their conflicting vote: those
        // conflicting votes count alone, and the rule over the queue's content agrees.
        drain_and_check(&url, &queue, expected).await;
        laws.push(expected.laws.clone());
    }
    assert_ne!(laws[0], laws[1], "the same votes counted by the other rule");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paced_run_for_a_duration_expects_exactly_what_it_sent() {
    let url = broker();
    let queue = testing::unique_name("loadgen_paced");
    let config = PublishConfig {
        count: None,
        duration: Some(Duration::from_millis(1500)),
        rate: Some(1_000.0),
        connections: 2,
        window: 50,
        ..PublishConfig::new(&queue, 0, generator("law-pacedt-", 12))
    };
    let report = publish(&url, &config).await.unwrap_or_else(|e| panic!("RabbitMQ must be running ({url}): {e}"));
    let sent = report.expected.messages_sent;
    assert!((1_200..=1_700).contains(&sent), "about 1.5 s at 1000/s, got {sent}");
    assert!(report.rate() < 1_300.0, "paced at 1000/s, measured {}", report.rate());
    drain_and_check(&url, &queue, &report.expected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_stops_at_its_count_and_leaves_the_rest_queued() {
    let url = broker();
    let queue = testing::unique_name("loadgen_drain");
    let config = PublishConfig::new(&queue, 1_000, generator("law-draint-", 13));
    publish(&url, &config).await.unwrap_or_else(|e| panic!("RabbitMQ must be running ({url}): {e}"));
    let partial = DrainConfig { limit: Some(600), idle: Duration::from_millis(500), ..DrainConfig::new(&queue) };
    let drained = drain(&url, &partial).await.expect("drain");
    assert_eq!(drained.messages, 600);
    assert!(drained.rate() > 0.0);
    // Deliveries beyond the limit were never acked, so they come back to the queue: the broker
    // returns them once it has seen the consumer's connection close, a moment after it answered
    // the close.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut ready = 0;
    while tokio::time::Instant::now() < deadline {
        ready = vote_mq::admin::message_count(&url, &queue).await.expect("queue depth");
        if ready >= 400 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(ready, 400, "the 400 deliveries past the limit, and only they, are back");
    vote_mq::admin::delete_queue(&url, &queue).await.expect("delete queue");
    vote_mq::admin::delete_queue(&url, &format!("{queue}.dlq")).await.expect("delete dead-letter queue");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_publishes_bodies_exactly_as_given() {
    let url = broker();
    let queue = testing::unique_name("loadgen_send");
    let vote = r#"{"vote_hash":"abc123","citizen_id":"citizen-123","law_id":"law-001","choice":"oui","timestamp":"2025-11-14T12:00:00Z"}"#;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_loadgen"))
        .args(["send", "--amqp-url", &testing::amqp_url(), "--queue", &queue, vote, "not json"])
        .output()
        .expect("run loadgen");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let config = DrainConfig { keep_bodies: true, idle: Duration::from_millis(500), ..DrainConfig::new(&queue) };
    let drained = drain(&url, &config).await.expect("drain");
    let mut bodies = drained.bodies;
    bodies.sort();
    assert_eq!(bodies, [b"not json".to_vec(), vote.as_bytes().to_vec()]);
    vote_mq::admin::delete_queue(&url, &queue).await.expect("delete queue");
    vote_mq::admin::delete_queue(&url, &format!("{queue}.dlq")).await.expect("delete dead-letter queue");
}
