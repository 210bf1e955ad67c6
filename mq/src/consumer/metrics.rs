//! The consumer loop's Prometheus counters; every reason label exists at 0 from the start.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

use super::settle::DeadLetterCause;

/// Metric: events whose handler succeeded and that were acked.
pub const EVENTS_HANDLED_TOTAL: &str = "events_handled_total";
/// Metric: events put back for another attempt after a retriable failure.
pub const EVENTS_RETRIED_TOTAL: &str = "events_retried_total";
/// Metric: events dead-lettered, by `reason` (`malformed`, `rejected`, `retries_exhausted`).
pub const EVENTS_DEAD_LETTERED_TOTAL: &str = "events_dead_lettered_total";
/// Metric: subscriptions re-opened after the broker connection or channel was lost.
pub const CONSUMER_RECONNECTS_TOTAL: &str = "consumer_reconnects_total";

/// The loop's Prometheus counters.
#[derive(Clone)]
pub struct ConsumerMetrics {
    pub(super) handled: IntCounter,
    pub(super) retried: IntCounter,
    pub(super) dead_lettered: IntCounterVec,
    pub(super) reconnects: IntCounter,
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
