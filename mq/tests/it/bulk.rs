//! The lean bulk consumer against the real broker: every message delivered once and in order,
//! multiple acks empty the queue, unacked deliveries come back redelivered after a close,
//! rejects reach the dead-letter queue, bodies larger than a frame are reassembled, an idle
//! connection survives on heartbeats, and a broker closing the channel or a cut link ends
//! `recv` instead of hanging it.

use std::time::Duration;

use vote_mq::{
    AmqpUrl, BulkConsumer, BulkDelivery, OutgoingMessage, Publisher, QueueTopology, SubscriptionConfig,
    declare_topology, take_messages,
};
use vote_runtime::testing::{TcpProxy, amqp_url, unique_name};

const WAIT: Duration = Duration::from_secs(10);

fn url() -> AmqpUrl {
    AmqpUrl::parse(&amqp_url()).expect("TEST_AMQP_URL")
}

/// A fresh queue (with its dead-letter queue) holding `bodies`.
async fn queue_with(bodies: &[Vec<u8>]) -> QueueTopology {
    let queue = unique_name("bulk_q");
    let topology = QueueTopology::new(&queue, &unique_name("bulk_dlx"), &format!("{queue}.dlq"));
    let config = SubscriptionConfig { topology: topology.clone(), bindings: None, prefetch: 1, name: queue.clone() };
    declare_topology(&url(), &config).await.expect("RabbitMQ must be running for this test");
    let publisher = Publisher::connect(&url(), "bulk-test").await.expect("publisher");
    for body in bodies {
        publisher.publish(&OutgoingMessage::json("", &queue, body.clone())).await.expect("confirmed publish");
    }
    publisher.close().await;
    topology
}

async fn next(consumer: &mut BulkConsumer) -> BulkDelivery {
    tokio::time::timeout(WAIT, consumer.recv()).await.expect("a delivery in time").expect("connection open")
}

fn numbered(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("{{\"n\":{i}}}").into_bytes()).collect()
}

#[tokio::test]
async fn delivers_everything_in_order_and_a_multiple_ack_empties_the_queue() {
    let bodies = numbered(2500);
    let topology = queue_with(&bodies).await;
    let mut consumer = BulkConsumer::open(&url(), &topology.queue, 700, "bulk-test").await.unwrap();
    let mut got = Vec::new();
    let mut last = 0;
    while got.len() < bodies.len() {
        // Like the engine: take what is buffered, wait only when nothing is.
        let d = match consumer.try_recv() {
            Some(d) => d,
            None => next(&mut consumer).await,
        };
        assert_eq!(d.tag, last + 1, "tags are consecutive on one channel");
        assert!(!d.redelivered);
        last = d.tag;
        got.push(d.body);
        // Whole stretches acked with multiple=true, never one by one.
        if got.len() % 500 == 0 {
            consumer.ack(last, true).unwrap();
        }
    }
    assert_eq!(got, bodies);
    consumer.close().await;
    let left = take_messages(&url(), &topology.queue, 10).await.unwrap();
    assert!(left.is_empty(), "every message was acked, {} left", left.len());
}

#[tokio::test]
async fn unacked_deliveries_return_redelivered_after_close_and_rejects_are_dead_lettered() {
    let bodies = numbered(10);
    let topology = queue_with(&bodies).await;
    let mut consumer = BulkConsumer::open(&url(), &topology.queue, 100, "bulk-test").await.unwrap();
    let mut tags = Vec::new();
    for _ in 0..10 {
        tags.push(next(&mut consumer).await.tag);
    }
    consumer.ack(tags[3], true).unwrap(); // 0..=3 acked
    consumer.reject(tags[4], false).unwrap(); // 4 dead-lettered
    consumer.close().await; // 5..=9 back to the queue

    let mut again = BulkConsumer::open(&url(), &topology.queue, 100, "bulk-test").await.unwrap();
    let mut returned = Vec::new();
    for _ in 0..5 {
        let d = next(&mut again).await;
        assert!(d.redelivered, "a delivery seen before carries the redelivered flag");
        returned.push(d.body);
    }
    assert_eq!(returned, bodies[5..]);
    again.ack(5, true).unwrap();
    again.close().await;

    let dead = take_messages(&url(), &topology.dead_letter_queue, 10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].body, bodies[4]);
    assert!(take_messages(&url(), &topology.queue, 10).await.unwrap().is_empty());
}

#[tokio::test]
async fn bodies_larger_than_a_frame_are_reassembled() {
    // 300 kB: three body frames at the 128 kB frame size, then two small messages after it.
    let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let bodies = vec![big, b"small".to_vec(), Vec::new()];
    let topology = queue_with(&bodies).await;
    let mut consumer = BulkConsumer::open(&url(), &topology.queue, 10, "bulk-test").await.unwrap();
    for body in &bodies {
        assert_eq!(&next(&mut consumer).await.body, body);
    }
    consumer.close().await;
}

#[tokio::test]
async fn an_idle_connection_lives_on_heartbeats() {
    let topology = queue_with(&[]).await;
    let mut url = url();
    url.heartbeat = 1;
    let mut consumer = BulkConsumer::open(&url, &topology.queue, 10, "bulk-test").await.unwrap();
    // Silent for 4 heartbeat intervals: without heartbeats both sides would give up.
    let idle = tokio::time::timeout(Duration::from_secs(4), consumer.recv()).await;
    assert!(idle.is_err(), "nothing to deliver, and the connection must not be declared dead");
    assert!(consumer.is_open());
    let publisher = Publisher::connect(&url, "bulk-test").await.unwrap();
    publisher.publish(&OutgoingMessage::json("", &topology.queue, b"late".to_vec())).await.unwrap();
    assert_eq!(next(&mut consumer).await.body, b"late");
    consumer.close().await;
}

#[tokio::test]
async fn a_channel_closed_by_the_broker_ends_recv() {
    let topology = queue_with(&numbered(1)).await;
    let mut consumer = BulkConsumer::open(&url(), &topology.queue, 10, "bulk-test").await.unwrap();
    next(&mut consumer).await;
    // An unknown delivery tag is a channel error (PRECONDITION_FAILED): the broker closes it.
    consumer.ack(999, false).unwrap();
    let after = tokio::time::timeout(WAIT, consumer.recv()).await.expect("recv must end, not hang");
    assert!(after.is_none());
    assert!(!consumer.is_open());
}

#[tokio::test]
async fn a_cut_link_ends_recv_and_the_messages_stay_in_the_queue() {
    let topology = queue_with(&numbered(3)).await;
    let proxy = TcpProxy::start(&format!("{}:{}", url().host, url().port)).await;
    let mut via_proxy = url();
    via_proxy.host = "127.0.0.1".to_owned();
    via_proxy.port = proxy.port();
    let mut consumer = BulkConsumer::open(&via_proxy, &topology.queue, 10, "bulk-test").await.unwrap();
    next(&mut consumer).await;
    proxy.cut();
    // The other two may already be buffered; after them, recv must report the loss.
    let mut ended = false;
    for _ in 0..3 {
        if tokio::time::timeout(WAIT, consumer.recv()).await.expect("recv must end, not hang").is_none() {
            ended = true;
            break;
        }
    }
    assert!(ended, "recv reports the lost connection");
    // Nothing was acked: all three are still there for the next consumer.
    let mut fresh = BulkConsumer::open(&url(), &topology.queue, 10, "bulk-test").await.unwrap();
    for _ in 0..3 {
        next(&mut fresh).await;
    }
    fresh.close().await;
}

#[tokio::test]
async fn wrong_credentials_and_a_missing_queue_are_errors_naming_the_problem() {
    let mut bad = url();
    bad.password = "definitely-not-the-password".to_owned();
    let refused = BulkConsumer::open(&bad, "anything", 10, "bulk-test").await;
    assert!(refused.is_err(), "the broker refuses the login");

    let missing = BulkConsumer::open(&url(), &unique_name("bulk_missing"), 10, "bulk-test").await;
    let message = missing.err().expect("consuming a missing queue fails").to_string();
    assert!(message.contains("404") || message.contains("NOT_FOUND"), "{message}");
}
