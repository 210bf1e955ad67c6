//! The consumer loop every satellite runs: subscribe to the service's queue (reconnecting with
//! backoff), decode each delivery into an [`Envelope`] (or, with [`Consumer::run_with`], with
//! the service's own decoder), call the service's handler, and settle the delivery from what
//! the handler said.
//!
//! Settling rules:
//! - the handler returned `Ok` (it has committed its work): ack;
//! - the body does not decode, or the handler's error is not retriable: dead-letter at once;
//! - the handler's error is retriable: try again later, at most [`RedeliveryPolicy::max_attempts`]
//!   attempts in all, then dead-letter.
//!
//! Dead-lettering publishes the original body and string headers, plus the reason and the queue
//! ([`crate::dead_letter`]), to the queue's dead-letter exchange (routing key = dead-letter
//! queue), waits for the broker's
//! confirm, then acks the original. If that publish fails the delivery is rejected without
//! requeue, so the queue's own dead-letter arguments still move it (without the reason).
//!
//! Retry accounting travels with the message, so it survives redeliveries, reconnects and
//! restarts: a retry republishes the message (default exchange, routing key = the queue) with
//! [`ATTEMPTS_HEADER`] set to the failed attempts so far, after a backoff delay, then acks the
//! original. A crash between the confirm and the ack leaves two copies of an event whose handler
//! did not commit; handlers are idempotent by `event_id`, so the copy is harmless. A retried
//! message goes to the back of the queue, so handlers must not assume the order of events.
//!
//! Deliveries are handled one at a time, which keeps the in-flight work to one message: on
//! shutdown the loop stops taking deliveries, finishes the current one and closes the channel
//! (prefetched, unacked deliveries return to the queue).
//!
//! The loop is this file; beside it, the settling rules as a pure decision (`settle`, with
//! [`RedeliveryPolicy`]), the headers a republish sets (`headers`) and the loop's counters (`metrics`).

mod headers;
mod metrics;
mod settle;

pub use self::headers::{ATTEMPTS_HEADER, ORIGINAL_ROUTING_KEY_HEADER};
pub use self::metrics::{
    CONSUMER_RECONNECTS_TOTAL, ConsumerMetrics, EVENTS_DEAD_LETTERED_TOTAL, EVENTS_HANDLED_TOTAL, EVENTS_RETRIED_TOTAL,
};
pub use self::settle::{DeadLetterCause, RedeliveryPolicy};

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::FutureExt;
use tokio_util::sync::CancellationToken;

use self::headers::forwarded_headers;
use self::settle::{Outcome, Settlement, failed_attempts, settle};
use crate::dead_letter::{REJECT_REASON_HEADER, dead_letter};
use crate::publisher::{OutgoingMessage, Publisher};
use crate::subscription::{Acker, Delivery, Subscription, SubscriptionConfig};
use crate::{AmqpUrl, Envelope, Error};
use vote_runtime::backoff::Backoff;

/// What a decoder sees of one delivery (see [`Consumer::run_with`]).
#[derive(Debug, Clone, Copy)]
pub struct Incoming<'a> {
    /// The body.
    pub body: &'a [u8],
    /// Routing key it was delivered with.
    pub routing_key: &'a str,
    /// The AMQP `message-id` property, when the publisher set one (kept across retries).
    pub message_id: Option<&'a str>,
}

/// How long to wait for the broker to confirm a retry or dead-letter publish before giving up
/// and falling back to reject.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// What a handler error must tell the loop: whether another attempt can succeed. Each
/// satellite implements it for its own error enum.
pub trait Failure: fmt::Display {
    /// `true` when the same message may succeed later (database or broker unavailable, an
    /// event it depends on not processed yet); `false` for input that can never be handled.
    fn is_retriable(&self) -> bool;
}

impl Failure for Error {
    fn is_retriable(&self) -> bool {
        Error::is_retriable(self)
    }
}

/// A service's consumer: one queue, one handler, the settling rules of this module.
pub struct Consumer {
    url: AmqpUrl,
    config: SubscriptionConfig,
    publisher: Arc<Publisher>,
    retry: RedeliveryPolicy,
    metrics: Option<ConsumerMetrics>,
    connected: Arc<AtomicBool>,
}

impl Consumer {
    /// A consumer of `config`'s queue; `publisher` sends retries and dead-letters.
    pub fn new(url: &AmqpUrl, config: SubscriptionConfig, publisher: Arc<Publisher>) -> Self {
        Self {
            url: url.clone(),
            config,
            publisher,
            retry: RedeliveryPolicy::default(),
            metrics: None,
            connected: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Replaces the default [`RedeliveryPolicy`].
    pub fn with_retry(mut self, retry: RedeliveryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Counts outcomes in `metrics`.
    pub fn with_metrics(mut self, metrics: ConsumerMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    /// A flag that is `true` while the subscription is open (for readiness probes).
    pub fn connected(&self) -> Arc<AtomicBool> {
        self.connected.clone()
    }

    /// Consumes until `shutdown` is cancelled, calling `handler` once per delivery (and again
    /// for retries). Connection failures are retried with backoff, never returned. A body that
    /// is not an [`Envelope`] is dead-lettered at once without calling `handler`.
    pub async fn run<F, Fut, E>(self, shutdown: CancellationToken, handler: F)
    where
        F: Fn(Envelope) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Failure,
    {
        self.run_with(shutdown, |message: Incoming<'_>| decode(message.body), handler).await;
    }

    /// [`Consumer::run`] for messages of any shape: `decode` turns each delivery into what
    /// `handler` takes, or says why it never can (the message is then dead-lettered at once as
    /// malformed, without calling `handler`). For queues fed with plain JSON rather than
    /// envelopes, and for services that want a payload checked before any work starts.
    pub async fn run_with<T, D, F, Fut, E>(self, shutdown: CancellationToken, decode: D, handler: F)
    where
        D: Fn(Incoming<'_>) -> Result<T, String>,
        F: Fn(T) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Failure,
    {
        let queue = self.config.topology.queue.clone();
        let mut backoff = Backoff::default();
        let mut first = true;
        while !shutdown.is_cancelled() {
            if !first {
                if let Some(m) = &self.metrics {
                    m.reconnects.inc();
                }
                let delay = backoff.next_delay();
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => break,
                }
            }
            first = false;
            let mut subscription = match Subscription::open(&self.url, &self.config).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, %queue, "cannot subscribe, retrying");
                    continue;
                }
            };
            backoff.reset();
            self.connected.store(true, Ordering::Relaxed);
            tracing::info!(%queue, "consuming");
            let acker = subscription.acker();
            loop {
                let delivery = tokio::select! {
                    biased;
                    () = shutdown.cancelled() => break,
                    d = subscription.recv() => d,
                };
                let Some(delivery) = delivery else {
                    tracing::warn!(%queue, "subscription closed, reconnecting");
                    break;
                };
                self.process(&acker, delivery, &decode, &handler, &shutdown).await;
            }
            self.connected.store(false, Ordering::Relaxed);
            subscription.close().await;
        }
        tracing::info!(%queue, "consumer stopped");
    }

    async fn process<T, D, F, Fut, E>(
        &self,
        acker: &Acker,
        delivery: Delivery,
        decode: &D,
        handler: &F,
        shutdown: &CancellationToken,
    ) where
        D: Fn(Incoming<'_>) -> Result<T, String>,
        F: Fn(T) -> Fut,
        Fut: Future<Output = Result<(), E>>,
        E: Failure,
    {
        let previously_failed = failed_attempts(delivery.header(ATTEMPTS_HEADER));
        let incoming = Incoming {
            body: &delivery.body,
            routing_key: &delivery.routing_key,
            message_id: delivery.properties.message_id().map(String::as_str),
        };
        let outcome = match decode(incoming) {
            Err(why) => Outcome::Malformed(why),
            // A panicking handler counts as a retriable failure, so a poison message cannot take
            // the consumer down (and the bound on attempts still applies).
            Ok(message) => match AssertUnwindSafe(handler(message)).catch_unwind().await {
                Ok(Ok(())) => Outcome::Handled,
                Ok(Err(e)) => Outcome::Failed { retriable: e.is_retriable(), reason: e.to_string() },
                Err(_) => Outcome::Failed { retriable: true, reason: "handler panicked".to_owned() },
            },
        };
        let message_id = delivery.properties.message_id().map(String::as_str).unwrap_or("");
        let routing_key = delivery.routing_key.as_str();
        match settle(outcome, previously_failed, &self.retry) {
            Settlement::Ack => {
                if let Some(m) = &self.metrics {
                    m.handled.inc();
                }
                self.ack(acker, delivery.tag).await;
            }
            Settlement::Retry { failed, delay } => {
                tracing::warn!(message_id, routing_key, failed, ?delay, "message failed, will retry");
                // On shutdown, requeue with the count now instead of sleeping it out.
                tokio::select! {
                    () = tokio::time::sleep(delay) => {}
                    () = shutdown.cancelled() => {}
                }
                let message = self.republish(
                    &delivery,
                    "",
                    &self.config.topology.queue,
                    vec![(ATTEMPTS_HEADER, failed.to_string())],
                );
                if self.publish(&message).await {
                    if let Some(m) = &self.metrics {
                        m.retried.inc();
                    }
                    self.ack(acker, delivery.tag).await;
                } else if let Err(e) = acker.reject(delivery.tag, true).await {
                    tracing::warn!(error = %e, "requeue failed; the broker will redeliver");
                }
            }
            Settlement::DeadLetter { cause, reason, failed } => {
                tracing::warn!(message_id, routing_key, reason = %reason, "dead-lettering message");
                if let Some(m) = &self.metrics {
                    m.dead_lettered.with_label_values(&[cause.label()]).inc();
                }
                let topology = &self.config.topology;
                let kept = self.republish(&delivery, "", "", vec![(ATTEMPTS_HEADER, failed.to_string())]);
                let mut message = dead_letter(
                    &topology.dead_letter_exchange,
                    &topology.dead_letter_queue,
                    &topology.queue,
                    kept.body,
                    kept.headers,
                    vec![(REJECT_REASON_HEADER, reason)],
                );
                message.message_id = kept.message_id;
                if self.publish(&message).await {
                    self.ack(acker, delivery.tag).await;
                } else if let Err(e) = acker.reject(delivery.tag, false).await {
                    tracing::warn!(error = %e, "reject failed; the broker will redeliver");
                }
            }
        }
    }

    /// The delivery, re-addressed, with its string headers and `extra`.
    fn republish(
        &self,
        delivery: &Delivery,
        exchange: &str,
        routing_key: &str,
        mut extra: Vec<(&str, String)>,
    ) -> OutgoingMessage {
        let original = delivery.string_headers();
        if !original.iter().any(|(k, _)| k == ORIGINAL_ROUTING_KEY_HEADER) {
            extra.push((ORIGINAL_ROUTING_KEY_HEADER, delivery.routing_key.clone()));
        }
        OutgoingMessage {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            body: delivery.body.clone(),
            headers: forwarded_headers(original, extra),
            message_id: delivery.properties.message_id().cloned(),
        }
    }

    /// Publishes and waits for the confirm, bounded by [`PUBLISH_TIMEOUT`].
    async fn publish(&self, message: &OutgoingMessage) -> bool {
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.publisher.publish(message)).await {
            Ok(Ok(())) => true,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, routing_key = %message.routing_key, "republish failed");
                false
            }
            Err(_) => {
                tracing::warn!(routing_key = %message.routing_key, "republish not confirmed in time");
                false
            }
        }
    }

    async fn ack(&self, acker: &Acker, tag: u64) {
        if let Err(e) = acker.ack(tag, false).await {
            // The channel is gone: the broker redelivers, and the handler's idempotency absorbs it.
            tracing::warn!(error = %e, "ack failed; the broker will redeliver");
        }
    }
}

/// Decodes a body into an envelope; the error says what is wrong, for `x-reject-reason`.
fn decode(body: &[u8]) -> Result<Envelope, String> {
    serde_json::from_slice(body).map_err(|e| format!("not an event envelope: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_accepts_envelopes_and_explains_the_rest() {
        let e = Envelope::new("voting.create", "test", serde_json::json!({"a": 1}));
        assert_eq!(decode(&e.to_bytes()), Ok(e));
        assert!(decode(b"{not json").unwrap_err().starts_with("not an event envelope"));
        assert!(decode(br#"{"event_type":"x","data":{}}"#).unwrap_err().contains("missing field"));
    }
}
