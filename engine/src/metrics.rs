//! The engine's Prometheus metrics, recorded once per batch (not per vote) where possible.
//!
//! Metric names are public interface (docs/contract.md); they are constants here. `law_id` comes
//! from untrusted input, so at most `max_laws` distinct values become label values: further
//! laws are counted under `law_id="_other"` and have no `current_vote_totals` series (the
//! database still counts them all).

use std::collections::HashMap;
use std::sync::Mutex;

use prometheus::{Histogram, HistogramOpts, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry};
use time::OffsetDateTime;

use crate::decode::{Choice, RejectReason};
use crate::rule::{DUPLICATE_CITIZEN_LAW, DUPLICATE_HASH};
use crate::store::{BatchOutcome, ErrorKind, LawCounts, StoreError, StoreEvents};

/// Votes counted (first time seen), by law and choice.
pub const VOTES_AGGREGATED: &str = "votes_aggregated_total";
/// Totals in the database, by law and choice.
pub const CURRENT_VOTE_TOTALS: &str = "current_vote_totals";
/// Time to write one batch (including retries and splits).
pub const BATCH_DURATION: &str = "batch_processing_duration_seconds";
/// Votes in processed batches.
pub const BATCH_SIZE_PROCESSED: &str = "batch_size_processed_total";
/// Votes per batch.
pub const BATCH_SIZE: &str = "batch_size_votes";
/// Errors by type.
pub const AGGREGATION_ERRORS: &str = "aggregation_errors_total";
/// Duplicates not counted, by reason.
pub const DUPLICATES: &str = "duplicate_votes_total";
/// Messages dead-lettered, by reason.
pub const REJECTED: &str = "votes_rejected_total";
/// Vote timestamp -> committed.
pub const END_TO_END_LATENCY: &str = "vote_end_to_end_latency_seconds";
/// Broker reconnections.
pub const BROKER_RECONNECTS: &str = "broker_reconnects_total";
/// Broker sessions dropped because the broker fed nothing while messages were ready.
pub const CONSUMER_STALLS: &str = "consumer_stalls_total";
/// Batch write attempts retried.
pub const DB_RETRIES: &str = "db_retries_total";
/// Batches written again with `ON CONFLICT` after their plain insert met a taken key.
pub const PLAIN_INSERT_FALLBACKS: &str = "plain_insert_fallbacks_total";
/// Counted votes replaced by a vote the counting rule ranks before them.
pub const VOTES_REPLACED: &str = "votes_replaced_total";
/// Deliveries received but not yet acked.
pub const UNACKED: &str = "deliveries_unacked";
/// `aggregation_errors_total{error_type}` of a lost or refused broker connection.
pub const BROKER_CONNECTION_ERROR: &str = "broker_connection";
/// Label value standing for every law beyond the label budget.
pub const OTHER_LAWS: &str = "_other";

/// All engine metrics, registered in one registry.
pub struct Metrics {
    /// The registry served on `/metrics`.
    pub registry: Registry,
    /// [`VOTES_AGGREGATED`].
    pub votes_aggregated: IntCounterVec,
    /// [`CURRENT_VOTE_TOTALS`].
    pub current_totals: IntGaugeVec,
    /// [`BATCH_DURATION`].
    pub batch_duration: Histogram,
    /// [`BATCH_SIZE_PROCESSED`].
    pub batch_size_processed: IntCounter,
    /// [`BATCH_SIZE`].
    pub batch_size: Histogram,
    /// [`AGGREGATION_ERRORS`].
    pub aggregation_errors: IntCounterVec,
    /// [`DUPLICATES`].
    pub duplicates: IntCounterVec,
    /// [`REJECTED`].
    pub rejected: IntCounterVec,
    /// [`END_TO_END_LATENCY`].
    pub end_to_end: Histogram,
    /// [`BROKER_RECONNECTS`].
    pub broker_reconnects: IntCounter,
    /// [`CONSUMER_STALLS`].
    pub consumer_stalls: IntCounter,
    /// [`DB_RETRIES`].
    pub db_retries: IntCounter,
    /// [`PLAIN_INSERT_FALLBACKS`].
    pub plain_insert_fallbacks: IntCounter,
    /// [`VOTES_REPLACED`].
    pub votes_replaced: IntCounter,
    /// [`UNACKED`].
    pub unacked: IntGauge,
    max_laws: usize,
    /// Latest totals per labelled law: commits may complete out of order, and a law's number of
    /// votes only grows, so the gauge keeps the totals with the most votes; a replacement moves
    /// a vote from one choice to the other, so its totals win a tie.
    labelled: Mutex<HashMap<String, (i64, i64)>>,
}

impl Metrics {
    /// Creates and registers every metric; `max_laws` bounds the `law_id` label values.
    pub fn new(max_laws: usize) -> Result<Self, prometheus::Error> {
        let registry = Registry::new();
        let counter_vec = |name: &str, help: &str, labels: &[&str]| -> Result<IntCounterVec, prometheus::Error> {
            let m = IntCounterVec::new(Opts::new(name, help), labels)?;
            registry.register(Box::new(m.clone()))?;
            Ok(m)
        };
        let counter = |name: &str, help: &str| -> Result<IntCounter, prometheus::Error> {
            let m = IntCounter::new(name, help)?;
            registry.register(Box::new(m.clone()))?;
            Ok(m)
        };
        let histogram = |name: &str, help: &str, buckets: &[f64]| -> Result<Histogram, prometheus::Error> {
            let m = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))?;
            registry.register(Box::new(m.clone()))?;
            Ok(m)
        };
        let current_totals = IntGaugeVec::new(
            Opts::new(CURRENT_VOTE_TOTALS, "Vote totals in the database, by law and choice."),
            &["law_id", "choice"],
        )?;
        registry.register(Box::new(current_totals.clone()))?;
        let unacked = IntGauge::new(UNACKED, "Deliveries received and not yet acked.")?;
        registry.register(Box::new(unacked.clone()))?;
        let latency_buckets =
            [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0];
        let metrics = Self {
            votes_aggregated: counter_vec(
                VOTES_AGGREGATED,
                "Votes counted (first seen), by law and choice.",
                &["law_id", "choice"],
            )?,
            current_totals,
            batch_duration: histogram(
                BATCH_DURATION,
                "Time to write one batch, retries and splits included.",
                &[0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0],
            )?,
            batch_size_processed: counter(BATCH_SIZE_PROCESSED, "Votes in processed batches.")?,
            batch_size: histogram(
                BATCH_SIZE,
                "Votes per batch.",
                &[1.0, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0],
            )?,
            aggregation_errors: counter_vec(AGGREGATION_ERRORS, "Errors, by type.", &["error_type"])?,
            duplicates: counter_vec(DUPLICATES, "Duplicate votes recorded and not counted, by reason.", &["reason"])?,
            rejected: counter_vec(REJECTED, "Messages dead-lettered, by reason.", &["reason"])?,
            end_to_end: histogram(
                END_TO_END_LATENCY,
                "Time from the vote's timestamp to the commit that counted it.",
                &latency_buckets,
            )?,
            broker_reconnects: counter(BROKER_RECONNECTS, "Connections to the broker re-established.")?,
            consumer_stalls: counter(
                CONSUMER_STALLS,
                "Broker sessions dropped and opened again because the broker delivered nothing while \
                 messages were ready and the prefetch window had room.",
            )?,
            db_retries: counter(DB_RETRIES, "Batch writes retried after a database error.")?,
            plain_insert_fallbacks: counter(
                PLAIN_INSERT_FALLBACKS,
                "Batches written again with ON CONFLICT after a vote this engine had not seen lately was \
                 found already recorded (written before a restart, or by another engine).",
            )?,
            votes_replaced: counter(
                VOTES_REPLACED,
                "Counted votes replaced by a vote that REVOTE_RULE ranks before them (it arrived later).",
            )?,
            unacked,
            registry,
            max_laws,
            labelled: Mutex::new(HashMap::new()),
        };
        // Every known label value is exported at 0 from the start, so that `rate()` and the
        // dashboards show 0 rather than no data before the first event.
        for reason in RejectReason::ALL {
            metrics.rejected.with_label_values(&[reason.as_str()]);
        }
        for reason in [DUPLICATE_HASH, DUPLICATE_CITIZEN_LAW] {
            metrics.duplicates.with_label_values(&[reason]);
        }
        for choice in [Choice::Oui, Choice::Non] {
            metrics.votes_aggregated.with_label_values(&[OTHER_LAWS, choice.as_str()]);
        }
        for error_type in ErrorKind::ALL.map(ErrorKind::label).into_iter().chain([BROKER_CONNECTION_ERROR]) {
            metrics.aggregation_errors.with_label_values(&[error_type]);
        }
        Ok(metrics)
    }

    /// Seeds `current_vote_totals` from the database at start-up.
    pub fn seed_totals(&self, totals: &[LawCounts]) {
        self.record_totals(totals, false);
    }

    /// Records a written batch: counts, duplicates, totals, size, duration, and each counted
    /// vote's end-to-end latency (from its timestamp to `committed_at`).
    pub fn record_batch(
        &self,
        outcome: &BatchOutcome,
        votes: usize,
        seconds: f64,
        committed_at: OffsetDateTime,
        counted: impl IntoIterator<Item = OffsetDateTime>,
    ) {
        for timestamp in counted {
            let latency = (committed_at - timestamp).as_seconds_f64();
            if latency >= 0.0 {
                self.end_to_end.observe(latency);
            }
        }
        self.batch_duration.observe(seconds);
        self.batch_size.observe(votes as f64);
        self.batch_size_processed.inc_by(votes as u64);
        for (reason, n) in &outcome.duplicates {
            self.duplicates.with_label_values(&[reason]).inc_by(*n as u64);
        }
        let replaced: i64 = outcome.replaced.iter().map(|c| c.oui + c.non).sum();
        self.votes_replaced.inc_by(replaced as u64);
        self.record_totals(&outcome.totals, replaced > 0);
        let labelled = self.labelled.lock().unwrap_or_else(|p| p.into_inner());
        for added in &outcome.added {
            let law = if labelled.contains_key(&added.law_id) { added.law_id.as_str() } else { OTHER_LAWS };
            for (choice, n) in [(Choice::Oui, added.oui), (Choice::Non, added.non)] {
                if n > 0 {
                    self.votes_aggregated.with_label_values(&[law, choice.as_str()]).inc_by(n as u64);
                }
            }
        }
    }

    /// A lost or refused broker connection.
    pub fn broker_connection_failed(&self) {
        self.aggregation_errors.with_label_values(&[BROKER_CONNECTION_ERROR]).inc();
    }

    fn record_totals(&self, totals: &[LawCounts], replacing: bool) {
        let mut labelled = self.labelled.lock().unwrap_or_else(|p| p.into_inner());
        for t in totals {
            let known = labelled.len();
            let entry = match labelled.get_mut(&t.law_id) {
                Some(entry) => entry,
                None if known < self.max_laws => labelled.entry(t.law_id.clone()).or_insert((0, 0)),
                None => continue,
            };
            let (had, has) = (entry.0 + entry.1, t.oui + t.non);
            if has > had || (has == had && replacing) {
                *entry = (t.oui, t.non);
            }
            self.current_totals.with_label_values(&[&t.law_id, "oui"]).set(entry.0);
            self.current_totals.with_label_values(&[&t.law_id, "non"]).set(entry.1);
        }
    }
}

impl StoreEvents for Metrics {
    fn attempt_failed(&self, error: &StoreError, retrying: bool) {
        self.aggregation_errors.with_label_values(&[error.label()]).inc();
        if retrying {
            self.db_retries.inc();
        }
    }

    fn plain_insert_fell_back(&self) {
        self.plain_insert_fallbacks.inc();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn law(id: &str, oui: i64, non: i64) -> LawCounts {
        LawCounts { law_id: id.into(), oui, non }
    }

    #[test]
    fn totals_only_grow_and_labels_are_bounded() {
        let m = Metrics::new(2).unwrap();
        let outcome = BatchOutcome {
            totals: vec![law("a", 5, 1), law("b", 1, 0), law("c", 9, 9)],
            added: vec![law("a", 1, 0), law("b", 1, 0), law("c", 2, 1)],
            duplicates: vec![("vote_hash".into(), 3)],
            replaced: vec![],
        };
        m.record_batch(&outcome, 10, 0.01, OffsetDateTime::now_utc(), []);
        // An older commit completing late must not move the gauge back.
        m.record_batch(
            &BatchOutcome { totals: vec![law("a", 4, 1)], ..Default::default() },
            1,
            0.01,
            OffsetDateTime::now_utc(),
            [],
        );
        assert_eq!(m.current_totals.with_label_values(&["a", "oui"]).get(), 5);
        assert_eq!(m.votes_aggregated.with_label_values(&[OTHER_LAWS, "oui"]).get(), 2);
        assert_eq!(m.votes_aggregated.with_label_values(&[OTHER_LAWS, "non"]).get(), 1);
        assert_eq!(m.duplicates.with_label_values(&["vote_hash"]).get(), 3);
        // A replacement moves a vote from one choice to the other: the gauge follows it.
        let replacing =
            BatchOutcome { totals: vec![law("a", 4, 2)], replaced: vec![law("a", 1, 0)], ..Default::default() };
        m.record_batch(&replacing, 1, 0.01, OffsetDateTime::now_utc(), []);
        assert_eq!(m.current_totals.with_label_values(&["a", "oui"]).get(), 4);
        assert_eq!(m.current_totals.with_label_values(&["a", "non"]).get(), 2);
        assert_eq!(m.votes_replaced.get(), 1);
        let series = m.registry.gather().iter().find(|f| f.name() == CURRENT_VOTE_TOTALS).unwrap().get_metric().len();
        assert_eq!(series, 4, "two laws x two choices");
    }
}
