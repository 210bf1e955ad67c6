//! Queue types against the real broker: a quorum work queue carries votes like a classic one,
//! and declaring a queue with another type than it has fails, either way, with an error that
//! says what to do instead of the broker's bare channel close.

use std::time::Duration;

use vote_mq::{
    AmqpUrl, BulkConsumer, Error, OutgoingMessage, Publisher, QueueTopology, QueueType, SubscriptionConfig,
    declare_topology,
};
use vote_runtime::testing::{amqp_url, unique_name};

fn url() -> AmqpUrl {
    AmqpUrl::parse(&amqp_url()).expect("TEST_AMQP_URL")
}

fn topology(queue: &str, queue_type: QueueType) -> QueueTopology {
    QueueTopology::new(queue, "topology_test_dlx", &format!("{queue}.dlq")).with_queue_type(queue_type)
}

async fn declare(topology: &QueueTopology) -> Result<(), Error> {
    let config =
        SubscriptionConfig { topology: topology.clone(), bindings: None, prefetch: 1, name: "topology-test".into() };
    declare_topology(&url(), &config).await
}

#[tokio::test]
async fn a_quorum_queue_carries_persistent_votes() {
    let queue = unique_name("quorum_q");
    let quorum = topology(&queue, QueueType::Quorum);
    declare(&quorum).await.expect("RabbitMQ must be running for this test");
    declare(&quorum).await.expect("declaring it again matches");

    let publisher = Publisher::connect(&url(), "topology-test").await.expect("publisher");
    for i in 0..20 {
        publisher
            .publish(&OutgoingMessage::json("", &queue, format!("{{\"n\":{i}}}").into_bytes()))
            .await
            .expect("confirmed");
    }
    publisher.close().await;
    let mut consumer = BulkConsumer::declare_and_open(&url(), &quorum, 50, "topology-test").await.expect("consume");
    let mut last = 0;
    for i in 0..20 {
        let d = tokio::time::timeout(Duration::from_secs(10), consumer.recv()).await.expect("in time").expect("open");
        assert_eq!(d.body, format!("{{\"n\":{i}}}").into_bytes());
        last = d.tag;
    }
    consumer.ack(last, true).expect("ack");
    consumer.close().await;
    delete(&quorum).await;
}

async fn delete(topology: &QueueTopology) {
    for queue in [&topology.queue, &topology.dead_letter_queue] {
        vote_mq::admin::delete_queue(&url(), queue).await.expect("delete queue");
    }
}

#[tokio::test]
async fn declaring_another_type_than_the_queue_has_says_what_to_do() {
    for (existing, declared) in [(QueueType::Classic, QueueType::Quorum), (QueueType::Quorum, QueueType::Classic)] {
        let queue = unique_name("typed_q");
        declare(&topology(&queue, existing)).await.expect("RabbitMQ must be running for this test");
        let error = declare(&topology(&queue, declared)).await.expect_err("the type of a queue cannot change");
        let message = error.to_string();
        assert!(matches!(error, Error::TopologyMismatch(_)), "{existing} -> {declared}: {error:?}");
        assert!(message.contains(&queue) && message.contains("RABBITMQ_QUEUE_TYPE"), "{message}");
        assert!(!error.is_retriable());
        delete(&topology(&queue, existing)).await;
    }
}

#[test]
fn queue_types_parse_from_configuration() {
    assert_eq!("quorum".parse::<QueueType>(), Ok(QueueType::Quorum));
    assert_eq!(" Classic ".parse::<QueueType>(), Ok(QueueType::Classic));
    assert!("stream".parse::<QueueType>().unwrap_err().contains("classic or quorum"));
    assert_eq!(QueueType::Quorum.to_string(), "quorum");
}
