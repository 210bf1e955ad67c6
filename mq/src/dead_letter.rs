//! Dead letters, in one place: the headers that say why a message was refused, the message a
//! dead letter is, and a publisher that waits for the broker's confirm. The engine dead-letters
//! refused votes through [`DeadLetterPublisher`]; the satellites' consumer loop republishes
//! refused events through its own publisher, with the same headers and the same shape.

use std::time::Duration;

use tokio::sync::OnceCell;

use crate::publisher::{OutgoingMessage, Publisher};
use crate::{AmqpUrl, Error};

/// Header carrying why a message was dead-lettered (the engine: a fixed reason label; the
/// consumer loop: what the handler or the decoder said).
pub const REJECT_REASON_HEADER: &str = "x-reject-reason";
/// Header carrying which field or detail the reason is about (the engine's dead letters).
pub const REJECT_DETAIL_HEADER: &str = "x-reject-detail";
/// Header naming the queue the message was consumed from.
pub const ORIGINAL_QUEUE_HEADER: &str = "x-original-queue";

/// How long to wait for the broker's confirm of a dead letter.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(5);

/// A dead letter: `body` unchanged, to `exchange` with the dead-letter queue's name as routing
/// key, carrying `headers` (the message's own, to keep) followed by the reason and the queue it
/// came from; a header of the message with one of those names is replaced.
pub fn dead_letter(
    exchange: &str,
    dead_letter_queue: &str,
    original_queue: &str,
    body: Vec<u8>,
    headers: Vec<(String, String)>,
    reason: Vec<(&str, String)>,
) -> OutgoingMessage {
    let mut extra = reason;
    extra.push((ORIGINAL_QUEUE_HEADER, original_queue.to_owned()));
    let mut all: Vec<(String, String)> =
        headers.into_iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
    all.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    OutgoingMessage {
        exchange: exchange.to_owned(),
        routing_key: dead_letter_queue.to_owned(),
        body,
        headers: all,
        message_id: None,
    }
}

/// Publishes the dead letters of one queue on a connection of its own, opened on first use.
#[derive(Clone)]
pub struct DeadLetterPublisher {
    url: AmqpUrl,
    exchange: String,
    dead_letter_queue: String,
    queue: String,
    name: String,
    publisher: std::sync::Arc<OnceCell<Publisher>>,
}

impl DeadLetterPublisher {
    /// Dead letters of `queue` to `exchange`, routed to `dead_letter_queue`; `name` names the
    /// connection.
    pub fn new(url: AmqpUrl, exchange: &str, dead_letter_queue: &str, queue: &str, name: &str) -> Self {
        Self {
            url,
            exchange: exchange.to_owned(),
            dead_letter_queue: dead_letter_queue.to_owned(),
            queue: queue.to_owned(),
            name: name.to_owned(),
            publisher: std::sync::Arc::new(OnceCell::new()),
        }
    }

    /// Publishes `body` with [`REJECT_REASON_HEADER`] `reason` and [`REJECT_DETAIL_HEADER`]
    /// `detail`, and waits for the confirm at most [`CONFIRM_TIMEOUT`]. `Err` means the caller
    /// must give the message back to its queue.
    pub async fn send(&self, body: Vec<u8>, reason: &str, detail: &str) -> Result<(), Error> {
        let message = dead_letter(
            &self.exchange,
            &self.dead_letter_queue,
            &self.queue,
            body,
            Vec::new(),
            vec![(REJECT_REASON_HEADER, reason.to_owned()), (REJECT_DETAIL_HEADER, detail.to_owned())],
        );
        let attempt = async {
            let publisher = self.publisher.get_or_try_init(|| Publisher::connect(&self.url, &self.name)).await?;
            publisher.send(&message).await?.await
        };
        tokio::time::timeout(CONFIRM_TIMEOUT, attempt).await.map_err(|_| Error::Timeout(CONFIRM_TIMEOUT))?
    }

    /// Closes the connection, if one was opened.
    pub async fn close(&self) {
        if let Some(p) = self.publisher.get() {
            p.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_letter_keeps_the_message_s_headers_and_replaces_its_own() {
        let headers = vec![
            ("trace".to_owned(), "t1".to_owned()),
            (REJECT_REASON_HEADER.to_owned(), "old".to_owned()),
            (ORIGINAL_QUEUE_HEADER.to_owned(), "elsewhere".to_owned()),
        ];
        let m =
            dead_letter("dlx", "q.dlq", "q", b"body".to_vec(), headers, vec![(REJECT_REASON_HEADER, "new".to_owned())]);
        assert_eq!((m.exchange.as_str(), m.routing_key.as_str(), m.body.as_slice()), ("dlx", "q.dlq", &b"body"[..]));
        let expected = [("trace", "t1"), (REJECT_REASON_HEADER, "new"), (ORIGINAL_QUEUE_HEADER, "q")];
        assert_eq!(m.headers, expected.map(|(k, v)| (k.to_owned(), v.to_owned())));
    }
}
