//! The consumer loop every satellite runs: subscribe to the service's queue (reconnecting with
//! backoff), decode each delivery into an [`Envelope`] (or, with [`Consumer::run_with`], with
//! the service's own decoder), call the service's handler, and settle the delivery from what
//! the handler said.
//!
//! Settling rules:
//! - the handler returned `Ok` (it has committed its work): ack;
//! - the body does not decode, or the handler's error is not retriable: dead-letter at once;
//! - the handler's error is retriable: try again later, at most [`RetryPolicy::max_attempts`]
//!   attempts in all, then dead-letter.
//!
//! Dead-lettering publishes the original body and string headers, plus [`REJECT_REASON_HEADER`],
//! to the queue's dead-letter exchange (routing key = dead-letter queue), waits for the broker's
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

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use amqprs::FieldValue;
use amqprs::channel::BasicGetArguments;
use futures::FutureExt;
use prometheus::{IntCounter, IntCounterVec, Opts, Registry};
use tokio_util::sync::CancellationToken;

use crate::connection::Backoff;
use crate::consumer::{Acker, Delivery, Subscription, SubscriptionConfig};
use crate::publisher::{OutgoingMessage, Publisher};
use crate::{AmqpUrl, Envelope, Error};

/// Header carrying how many times handling this message has failed with a retriable error.
pub const ATTEMPTS_HEADER: &str = "x-attempts";
/// Header carrying why a message was dead-lettered.
pub const REJECT_REASON_HEADER: &str = "x-reject-reason";
/// Header carrying the routing key the message was first published with (retries and
/// dead-letters are republished under another key).
pub const ORIGINAL_ROUTING_KEY_HEADER: &str = "x-original-routing-key";

/// Metric: events whose handler succeeded and that were acked.
pub const EVENTS_HANDLED_TOTAL: &str = "events_handled_total";
/// Metric: events put back for another attempt after a retriable failure.
pub const EVENTS_RETRIED_TOTAL: &str = "events_retried_total";
/// Metric: events dead-lettered, by `reason` (`malformed`, `rejected`, `retries_exhausted`).
pub const EVENTS_DEAD_LETTERED_TOTAL: &str = "events_dead_lettered_total";
/// Metric: subscriptions re-opened after the broker connection or channel was lost.
pub const CONSUMER_RECONNECTS_TOTAL: &str = "consumer_reconnects_total";

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
/// Longest `x-reject-reason` kept; handler errors can quote input.
const MAX_REASON_BYTES: usize = 1024;

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

/// Bounded retries with exponential backoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included, before a message is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles for each one after.
    pub initial_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    /// 5 attempts, 200 ms doubling up to 5 s: rides out a database failover of a few seconds
    /// without keeping a poison message around for long.
    fn default() -> Self {
        Self { max_attempts: 5, initial_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

impl RetryPolicy {
    /// The delay before the attempt that follows `failed` failed attempts (`failed >= 1`).
    pub fn delay_after(&self, failed: u32) -> Duration {
        let doublings = failed.saturating_sub(1).min(31);
        self.initial_delay.saturating_mul(1u32 << doublings).min(self.max_delay)
    }
}

/// Why a message went to the dead-letter queue; the label of [`EVENTS_DEAD_LETTERED_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterCause {
    /// The body is not an event envelope.
    Malformed,
    /// The handler said the event can never be handled.
    Rejected,
    /// Every allowed attempt failed with a retriable error.
    RetriesExhausted,
}

impl DeadLetterCause {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Rejected => "rejected",
            Self::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// What came of one attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Handled,
    Malformed(String),
    Failed { retriable: bool, reason: String },
}

/// What to do with the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Settlement {
    Ack,
    Retry { failed: u32, delay: Duration },
    DeadLetter { cause: DeadLetterCause, reason: String, failed: u32 },
}

/// Pure decision: `previously_failed` comes from [`ATTEMPTS_HEADER`].
fn settle(outcome: Outcome, previously_failed: u32, policy: &RetryPolicy) -> Settlement {
    match outcome {
        Outcome::Handled => Settlement::Ack,
        Outcome::Malformed(why) => Settlement::DeadLetter {
            cause: DeadLetterCause::Malformed,
            reason: clip(&format!("malformed: {why}")),
            failed: previously_failed,
        },
        Outcome::Failed { retriable: false, reason } => Settlement::DeadLetter {
            cause: DeadLetterCause::Rejected,
            reason: clip(&format!("rejected: {reason}")),
            failed: previously_failed + 1,
        },
        Outcome::Failed { retriable: true, reason } => {
            let failed = previously_failed.saturating_add(1);
            if failed >= policy.max_attempts.max(1) {
                Settlement::DeadLetter {
                    cause: DeadLetterCause::RetriesExhausted,
                    reason: clip(&format!("retries exhausted after {failed} attempts: {reason}")),
                    failed,
                }
            } else {
                Settlement::Retry { failed, delay: policy.delay_after(failed) }
            }
        }
    }
}

/// Failed attempts recorded on a message; a missing or garbled header counts as none.
fn failed_attempts(header: Option<String>) -> u32 {
    header.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Decodes a body into an envelope; the error says what is wrong, for `x-reject-reason`.
fn decode(body: &[u8]) -> Result<Envelope, String> {
    serde_json::from_slice(body).map_err(|e| format!("not an event envelope: {e}"))
}

/// Cuts `reason` to [`MAX_REASON_BYTES`] on a character boundary.
fn clip(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

/// The message's string headers minus the ones the loop sets, followed by `extra`.
fn forwarded_headers(original: Vec<(String, String)>, extra: Vec<(&str, String)>) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> =
        original.into_iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).collect();
    headers.extend(extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
    headers
}

/// Every string-valued header of a delivery, sorted by name for stable output.
fn string_headers(delivery: &Delivery) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = delivery
        .properties
        .headers()
        .map(|table| {
            table
                .as_ref()
                .iter()
                .filter_map(|(k, v)| match v {
                    FieldValue::S(s) => Some((k.to_string(), s.to_string())),
                    _ => None,
                })
                .collect()
        })
        .unwrap_or_default();
    headers.sort();
    headers
}

/// The loop's Prometheus counters.
#[derive(Clone)]
pub struct ConsumerMetrics {
    handled: IntCounter,
    retried: IntCounter,
    dead_lettered: IntCounterVec,
    reconnects: IntCounter,
}

impl ConsumerMetrics {
    /// Creates the counters and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let handled = IntCounter::new(EVENTS_HANDLED_TOTAL, "Events handled and acked.")?;
        let retried = IntCounter::new(EVENTS_RETRIED_TOTAL, "Events put back for another attempt.")?;
        let dead_lettered = IntCounterVec::new(
            Opts::new(EVENTS_DEAD_LETTERED_TOTAL, "Events sent to the dead-letter queue, by reason."),
            &["reason"],
        )?;
        let reconnects =
            IntCounter::new(CONSUMER_RECONNECTS_TOTAL, "Subscriptions re-opened after a lost connection.")?;
        registry.register(Box::new(handled.clone()))?;
        registry.register(Box::new(retried.clone()))?;
        registry.register(Box::new(dead_lettered.clone()))?;
        registry.register(Box::new(reconnects.clone()))?;
        for cause in [DeadLetterCause::Malformed, DeadLetterCause::Rejected, DeadLetterCause::RetriesExhausted] {
            dead_lettered.with_label_values(&[cause.label()]);
        }
        Ok(Self { handled, retried, dead_lettered, reconnects })
    }
}

/// A service's consumer: one queue, one handler, the settling rules of this module.
pub struct Consumer {
    url: AmqpUrl,
    config: SubscriptionConfig,
    publisher: Arc<Publisher>,
    retry: RetryPolicy,
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
            retry: RetryPolicy::default(),
            metrics: None,
            connected: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Replaces the default [`RetryPolicy`].
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
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
                let extra = vec![(REJECT_REASON_HEADER, reason), (ATTEMPTS_HEADER, failed.to_string())];
                let message =
                    self.republish(&delivery, &topology.dead_letter_exchange, &topology.dead_letter_queue, extra);
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
        let original = string_headers(delivery);
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

/// Declares a subscription's queue, dead-letter route and bindings without consuming: for a
/// producer that publishes straight to a queue (default exchange, routing key = queue), whose
/// messages would be dropped if no consumer had declared the queue yet. The arguments are the
/// consumer's own, so both sides declare the same queue.
pub async fn declare_topology(url: &AmqpUrl, config: &SubscriptionConfig) -> Result<(), Error> {
    let connection = crate::connect(url, &config.name).await?;
    let channel = connection.open_channel(None).await?;
    let declared = match (config.topology.declare(&channel).await, &config.bindings) {
        (Err(e), _) => Err(config.topology.explain_refusal(&connection, e).await),
        (Ok(()), Some((exchange, patterns))) => config.topology.bind_topics(&channel, exchange, patterns).await,
        (Ok(()), None) => Ok(()),
    };
    crate::connection::close(channel, connection).await;
    declared
}

/// Declares the durable topic exchange a service publishes its events to: the broker refuses
/// (and closes the channel of) a publish to an exchange that does not exist, which a producer
/// started before any consumer would otherwise meet.
pub async fn declare_topic_exchange(url: &AmqpUrl, exchange: &str, name: &str) -> Result<(), Error> {
    let connection = crate::connect(url, name).await?;
    let channel = connection.open_channel(None).await?;
    let declared = crate::topology::declare_exchange(&channel, exchange, "topic").await;
    crate::connection::close(channel, connection).await;
    declared
}

/// Takes (gets and acks) up to `max` messages waiting in `queue`, without a subscription: for
/// operators and tests inspecting a dead-letter queue. Returns fewer when the queue runs dry.
pub async fn take_messages(url: &AmqpUrl, queue: &str, max: usize) -> Result<Vec<Delivery>, Error> {
    let connection = crate::connect(url, "take-messages").await?;
    let channel = connection.open_channel(None).await?;
    let mut taken = Vec::new();
    while taken.len() < max {
        let mut args = BasicGetArguments::new(queue);
        args.no_ack(true);
        let Some((get_ok, properties, body)) = channel.basic_get(args).await? else { break };
        taken.push(Delivery {
            tag: get_ok.delivery_tag(),
            body,
            routing_key: get_ok.routing_key().clone(),
            redelivered: get_ok.redelivered(),
            properties,
        });
    }
    crate::connection::close(channel, connection).await;
    Ok(taken)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32) -> RetryPolicy {
        RetryPolicy { max_attempts, initial_delay: Duration::from_millis(100), max_delay: Duration::from_millis(350) }
    }

    fn failed(retriable: bool) -> Outcome {
        Outcome::Failed { retriable, reason: "db down".to_owned() }
    }

    #[test]
    fn success_acks() {
        assert_eq!(settle(Outcome::Handled, 2, &policy(3)), Settlement::Ack);
    }

    #[test]
    fn retriable_failures_retry_then_dead_letter() {
        let p = policy(3);
        assert_eq!(settle(failed(true), 0, &p), Settlement::Retry { failed: 1, delay: Duration::from_millis(100) });
        assert_eq!(settle(failed(true), 1, &p), Settlement::Retry { failed: 2, delay: Duration::from_millis(200) });
        match settle(failed(true), 2, &p) {
            Settlement::DeadLetter { cause: DeadLetterCause::RetriesExhausted, reason, failed: 3 } => {
                assert_eq!(reason, "retries exhausted after 3 attempts: db down");
            }
            other => panic!("unexpected {other:?}"),
        }
        // A count beyond the bound (policy lowered since) still dead-letters.
        assert!(matches!(settle(failed(true), 9, &p), Settlement::DeadLetter { .. }));
    }

    #[test]
    fn one_attempt_means_no_retry() {
        assert!(matches!(settle(failed(true), 0, &policy(1)), Settlement::DeadLetter { failed: 1, .. }));
        assert!(matches!(settle(failed(true), 0, &policy(0)), Settlement::DeadLetter { failed: 1, .. }));
    }

    #[test]
    fn permanent_failures_and_malformed_input_dead_letter_at_once() {
        assert!(matches!(
            settle(failed(false), 0, &policy(5)),
            Settlement::DeadLetter { cause: DeadLetterCause::Rejected, failed: 1, .. }
        ));
        match settle(Outcome::Malformed("no".to_owned()), 0, &policy(5)) {
            Settlement::DeadLetter { cause: DeadLetterCause::Malformed, reason, failed: 0 } => {
                assert_eq!(reason, "malformed: no");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn delays_double_and_cap() {
        let p = policy(10);
        let seen: Vec<_> = (1..=4).map(|n| p.delay_after(n).as_millis()).collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        assert_eq!(p.delay_after(u32::MAX), Duration::from_millis(350));
    }

    #[test]
    fn attempts_header_is_parsed_leniently() {
        assert_eq!(failed_attempts(None), 0);
        assert_eq!(failed_attempts(Some("3".to_owned())), 3);
        assert_eq!(failed_attempts(Some(" 2 ".to_owned())), 2);
        assert_eq!(failed_attempts(Some("x".to_owned())), 0);
    }

    #[test]
    fn decode_accepts_envelopes_and_explains_the_rest() {
        let e = Envelope::new("voting.create", "test", serde_json::json!({"a": 1}));
        assert_eq!(decode(&e.to_bytes()), Ok(e));
        assert!(decode(b"{not json").unwrap_err().starts_with("not an event envelope"));
        assert!(decode(br#"{"event_type":"x","data":{}}"#).unwrap_err().contains("missing field"));
    }

    #[test]
    fn reasons_are_clipped_on_char_boundaries() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_REASON_BYTES);
        assert!(clipped.chars().all(|c| c == 'é'));
        assert_eq!(clip("short"), "short");
    }

    #[test]
    fn forwarded_headers_replace_the_loops_own() {
        let original = vec![("trace".to_owned(), "t1".to_owned()), (ATTEMPTS_HEADER.to_owned(), "1".to_owned())];
        let out = forwarded_headers(original, vec![(ATTEMPTS_HEADER, "2".to_owned())]);
        assert_eq!(out, [("trace".to_owned(), "t1".to_owned()), (ATTEMPTS_HEADER.to_owned(), "2".to_owned())]);
    }
}
