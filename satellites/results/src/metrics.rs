//! The service's own metrics (beside the kit's `http_requests_total`). Names live here.

use prometheus::{IntCounter, IntCounterVec, IntGauge, Registry};
use vote_satellite_kit::metrics::{counter, counter_vec};

/// Metric: reads of the change feed, by `outcome` (`ok`, `error`).
pub const RESULTS_FEED_READS_TOTAL: &str = "results_feed_reads_total";
/// Metric: law totals the feed found changed.
pub const RESULTS_LAWS_CHANGED_TOTAL: &str = "results_laws_changed_total";
/// Metric: laws held in memory.
pub const RESULTS_LAWS: &str = "results_laws";
/// Metric: events broadcast to the stream's listeners (each serialized once).
pub const RESULTS_STREAM_EVENTS_TOTAL: &str = "results_stream_events_total";
/// Metric: open `/api/stream` connections.
pub const RESULTS_STREAM_CLIENTS: &str = "results_stream_clients";
/// Metric: receipt lookups by `status` (`counted`, `duplicate`, `unknown`, `invalid`).
pub const RECEIPT_LOOKUPS_TOTAL: &str = "receipt_lookups_total";

/// Receipt statuses, exported at 0 from the start.
pub const RECEIPT_STATUSES: [&str; 4] = ["counted", "duplicate", "unknown", "invalid"];

/// The service's metrics.
#[derive(Clone)]
pub struct Metrics {
    /// See [`RESULTS_FEED_READS_TOTAL`].
    pub feed_reads: IntCounterVec,
    /// See [`RESULTS_LAWS_CHANGED_TOTAL`].
    pub laws_changed: IntCounter,
    /// See [`RESULTS_LAWS`].
    pub laws: IntGauge,
    /// See [`RESULTS_STREAM_EVENTS_TOTAL`].
    pub stream_events: IntCounter,
    /// See [`RESULTS_STREAM_CLIENTS`].
    pub stream_clients: IntGauge,
    /// See [`RECEIPT_LOOKUPS_TOTAL`].
    pub receipts: IntCounterVec,
}

impl Metrics {
    /// Creates the metrics and registers them in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let feed_reads =
            counter_vec(registry, RESULTS_FEED_READS_TOTAL, "Reads of vote_results by the change feed.", &["outcome"])?;
        let receipts = counter_vec(registry, RECEIPT_LOOKUPS_TOTAL, "Receipt lookups by status.", &["status"])?;
        for outcome in ["ok", "error"] {
            feed_reads.with_label_values(&[outcome]);
        }
        for status in RECEIPT_STATUSES {
            receipts.with_label_values(&[status]);
        }
        Ok(Self {
            feed_reads,
            laws_changed: counter(registry, RESULTS_LAWS_CHANGED_TOTAL, "Law totals the change feed found changed.")?,
            laws: gauge(registry, RESULTS_LAWS, "Laws held in memory.")?,
            stream_events: counter(registry, RESULTS_STREAM_EVENTS_TOTAL, "Events broadcast to stream listeners.")?,
            stream_clients: gauge(registry, RESULTS_STREAM_CLIENTS, "Open /api/stream connections.")?,
            receipts,
        })
    }
}

fn gauge(registry: &Registry, name: &str, help: &str) -> prometheus::Result<IntGauge> {
    let g = IntGauge::new(name, help)?;
    registry.register(Box::new(g.clone()))?;
    Ok(g)
}
