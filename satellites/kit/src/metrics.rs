//! The counters every service has (the consumer loop registers its own `events_*` counters
//! beside them), and helpers for a service's own. Names live here.

use prometheus::{IntCounter, IntCounterVec, Opts, Registry};

/// Metric: HTTP requests by method, matched route and status.
pub const HTTP_REQUESTS_TOTAL: &str = "http_requests_total";
/// Metric: events published and confirmed by the broker, by `event_type`.
pub const EVENTS_PUBLISHED_TOTAL: &str = "events_published_total";

/// Counters every service has.
#[derive(Clone)]
pub struct Metrics {
    /// See [`HTTP_REQUESTS_TOTAL`].
    pub http_requests: IntCounterVec,
    /// See [`EVENTS_PUBLISHED_TOTAL`].
    pub events_published: IntCounterVec,
}

impl Metrics {
    /// Creates the counters and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        Ok(Self {
            http_requests: counter_vec(
                registry,
                HTTP_REQUESTS_TOTAL,
                "HTTP requests by method, route and status.",
                &["method", "route", "status"],
            )?,
            events_published: counter_vec(
                registry,
                EVENTS_PUBLISHED_TOTAL,
                "Events published with a broker confirm.",
                &["event_type"],
            )?,
        })
    }
}

/// Creates and registers one plain counter.
pub fn counter(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntCounter> {
    let c = IntCounter::new(name, help)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}

/// Creates and registers one labelled counter. Label values must come from a bounded set.
pub fn counter_vec(registry: &Registry, name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    let c = IntCounterVec::new(Opts::new(name, help), labels)?;
    registry.register(Box::new(c.clone()))?;
    Ok(c)
}
