//! The intake's own metrics (the kit's `http_requests_total` counts every request besides).
//! Names live here once.

use prometheus::{Histogram, HistogramOpts, IntCounterVec, IntGauge, Registry};
use vote_satellite_kit::metrics::counter_vec;

/// Metric: votes by `outcome` (see [`OUTCOMES`]).
pub const VOTES_TOTAL: &str = "intake_votes_total";
/// Metric: votes per published `vote.batch` message.
pub const BATCH_VOTES: &str = "intake_batch_votes";
/// Metric: seconds from publishing a batch to the broker's confirm.
pub const CONFIRM_SECONDS: &str = "intake_confirm_seconds";
/// Metric: 1 while batches are being sent to the broker, 0 while refused (503).
pub const BROKER_UP: &str = "intake_broker_up";
/// Metric: lookups of counted votes (for the 409) by `outcome` (`ok`, `failed`).
pub const CONFLICT_CHECKS_TOTAL: &str = "intake_conflict_checks_total";

/// Outcomes of a vote, exported at 0 from the start.
pub const OUTCOMES: [&str; 6] = ["accepted", "conflict", "unavailable", "refused", "forbidden", "rate_limited"];

/// The intake's metrics.
#[derive(Clone)]
pub struct Metrics {
    /// See [`VOTES_TOTAL`].
    pub votes: IntCounterVec,
    /// See [`BATCH_VOTES`].
    pub batch_votes: Histogram,
    /// See [`CONFIRM_SECONDS`].
    pub confirm_seconds: Histogram,
    /// See [`BROKER_UP`].
    pub broker_up: IntGauge,
    /// See [`CONFLICT_CHECKS_TOTAL`].
    pub conflict_checks: IntCounterVec,
}

impl Metrics {
    /// Registers the metrics in `registry`.
    pub fn register(registry: &Registry) -> prometheus::Result<Self> {
        let votes = counter_vec(registry, VOTES_TOTAL, "Votes by outcome.", &["outcome"])?;
        for outcome in OUTCOMES {
            votes.with_label_values(&[outcome]);
        }
        let batch_votes = Histogram::with_opts(
            HistogramOpts::new(BATCH_VOTES, "Votes per published vote.batch message.")
                .buckets(vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0]),
        )?;
        registry.register(Box::new(batch_votes.clone()))?;
        let confirm_seconds = Histogram::with_opts(
            HistogramOpts::new(CONFIRM_SECONDS, "Seconds from publishing a batch to the broker's confirm.")
                .buckets(vec![0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]),
        )?;
        registry.register(Box::new(confirm_seconds.clone()))?;
        let broker_up = IntGauge::new(BROKER_UP, "1 while votes are sent to the broker, 0 while refused with 503.")?;
        registry.register(Box::new(broker_up.clone()))?;
        broker_up.set(1);
        let conflict_checks =
            counter_vec(registry, CONFLICT_CHECKS_TOTAL, "Lookups of counted votes by outcome.", &["outcome"])?;
        for outcome in ["ok", "failed"] {
            conflict_checks.with_label_values(&[outcome]);
        }
        Ok(Self { votes, batch_votes, confirm_seconds, broker_up, conflict_checks })
    }

    /// Counts `n` votes with `outcome`.
    pub fn count(&self, outcome: &str, n: u64) {
        self.votes.with_label_values(&[outcome]).inc_by(n);
    }
}
