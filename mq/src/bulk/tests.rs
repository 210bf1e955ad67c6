//! The consumer's reaction to what the broker sends, over an in-memory stream standing in for
//! the socket: the bytes are crafted frames, as a broker would write them.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream};

use super::codec::tests::delivery;
use super::codec::{BASIC_DELIVER, CONNECTION_BLOCKED, CONNECTION_UNBLOCKED};
use super::*;

/// A consumer past its handshake, and the broker's end of its stream.
fn consumer() -> (BulkConsumer, DuplexStream) {
    let (stream, broker) = tokio::io::duplex(64 * 1024);
    let (reader, writer) = tokio::io::split(Box::new(stream) as Box<dyn Wire>);
    (BulkConsumer::consuming(Inbound::new(reader), writer, 0), broker)
}

async fn next(consumer: &mut BulkConsumer) -> Option<BulkDelivery> {
    tokio::time::timeout(Duration::from_secs(5), consumer.recv()).await.expect("recv answers in time")
}

#[tokio::test]
async fn blocked_and_unblocked_are_surfaced_without_breaking_the_stream() {
    let (mut consumer, mut broker) = consumer();
    let mut bytes = Vec::new();
    method(&mut bytes, 0, CONNECTION_BLOCKED, |p| short_str(p, "low on memory"));
    delivery(&mut bytes, 1, false, &[b"first"]);
    broker.write_all(&bytes).await.unwrap();
    assert_eq!(next(&mut consumer).await.map(|d| d.tag), Some(1));
    assert!(consumer.is_blocked());

    bytes.clear();
    method(&mut bytes, 0, CONNECTION_UNBLOCKED, |_| {});
    delivery(&mut bytes, 2, false, &[b"second"]);
    broker.write_all(&bytes).await.unwrap();
    assert_eq!(next(&mut consumer).await.map(|d| d.body), Some(b"second".to_vec()));
    assert!(!consumer.is_blocked());
    assert!(consumer.is_open());
    consumer.ack(2, true).expect("acks still go out");
}

#[tokio::test]
async fn a_frame_on_an_unknown_channel_ends_the_connection() {
    let (mut consumer, mut broker) = consumer();
    let mut bytes = Vec::new();
    delivery(&mut bytes, 1, false, &[b"fine"]);
    method(&mut bytes, 7, BASIC_DELIVER, |p| short_str(p, "ctag"));
    delivery(&mut bytes, 2, false, &[b"never delivered"]);
    broker.write_all(&bytes).await.unwrap();
    assert_eq!(next(&mut consumer).await.map(|d| d.tag), Some(1));
    assert!(next(&mut consumer).await.is_none(), "nothing after a protocol violation is trusted");
    assert!(!consumer.is_open());
    assert!(consumer.try_recv().is_none());
}

#[tokio::test]
async fn a_broker_closing_the_connection_is_answered_and_ends_recv() {
    let (mut consumer, mut broker) = consumer();
    let mut bytes = Vec::new();
    method(&mut bytes, 0, CONNECTION_CLOSE, |p| {
        p.extend_from_slice(&320u16.to_be_bytes());
        short_str(p, "CONNECTION_FORCED");
        p.extend_from_slice(&[0, 0, 0, 0]);
    });
    broker.write_all(&bytes).await.unwrap();
    assert!(next(&mut consumer).await.is_none());
    assert!(!consumer.is_open());
    let mut answer = [0u8; 12];
    broker.read_exact(&mut answer).await.expect("close-ok written");
    let mut close_ok = Vec::new();
    method(&mut close_ok, 0, CONNECTION_CLOSE_OK, |_| {});
    assert_eq!(answer.as_slice(), close_ok.as_slice());
}

#[tokio::test]
async fn a_cut_stream_ends_recv() {
    let (mut consumer, broker) = consumer();
    drop(broker);
    assert!(next(&mut consumer).await.is_none());
    assert!(!consumer.is_open());
}
