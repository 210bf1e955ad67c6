//! Refused messages go to the dead-letter queue with their reason in headers.
//!
//! The message is republished, unchanged, to the dead-letter exchange with `x-reject-reason`
//! (the fixed reason) and `x-reject-detail` (which field) and confirmed by the broker; only
//! then is the original acked. If that publish is not confirmed, the original goes back to the
//! queue and is dead-lettered again when it comes back (docs/decisions/014-dead-letter-publish-then-ack.md).

use std::sync::Arc;
use std::time::Duration;

use vote_mq::{AmqpUrl, OutgoingMessage, Publisher};

use crate::decode::Rejection;

/// Header carrying the reason label.
pub const REASON_HEADER: &str = "x-reject-reason";
/// Header carrying the field or detail.
pub const DETAIL_HEADER: &str = "x-reject-detail";
/// Header naming the queue the message was consumed from.
pub const QUEUE_HEADER: &str = "x-original-queue";

/// How long to wait for the broker's confirm before giving the message back to the queue.
const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// Publishes refused messages to the dead-letter exchange.
#[derive(Clone)]
pub struct DeadLetters {
    url: AmqpUrl,
    exchange: String,
    routing_key: String,
    queue: String,
    publisher: Arc<tokio::sync::OnceCell<Publisher>>,
}

impl DeadLetters {
    /// Dead-letters to `exchange` with `routing_key` (the dead-letter queue's name).
    pub fn new(url: AmqpUrl, exchange: &str, routing_key: &str, queue: &str) -> Self {
        Self {
            url,
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            queue: queue.to_owned(),
            publisher: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// Publishes `body` with the rejection headers and waits for the confirm. `Err` means the
    /// caller must fall back to rejecting the delivery.
    pub async fn send(&self, body: Vec<u8>, rejection: &Rejection) -> Result<(), vote_mq::Error> {
        let message = OutgoingMessage {
            exchange: self.exchange.clone(),
            routing_key: self.routing_key.clone(),
            body,
            headers: vec![
                (REASON_HEADER.to_owned(), rejection.reason.as_str().to_owned()),
                (DETAIL_HEADER.to_owned(), rejection.detail.to_owned()),
                (QUEUE_HEADER.to_owned(), self.queue.clone()),
            ],
            message_id: None,
        };
        let attempt = async {
            let publisher = self.publisher.get_or_try_init(|| Publisher::connect(&self.url, "vote-engine-dlq")).await?;
            publisher.send(&message).await?.await
        };
        tokio::time::timeout(CONFIRM_TIMEOUT, attempt).await.map_err(|_| vote_mq::Error::ConnectionLost)?
    }

    /// Closes the publisher's connection.
    pub async fn close(&self) {
        if let Some(p) = self.publisher.get() {
            p.close().await;
        }
    }
}
