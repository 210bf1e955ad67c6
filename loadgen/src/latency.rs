//! Latency summaries: confirm latency while publishing, and end-to-end vote latency read back
//! from `vote_audit` once a run is counted.

use futures::{TryStreamExt, pin_mut};
use hdrhistogram::Histogram;
use serde::Serialize;
use tokio_postgres::Client;

use crate::Error;
use crate::expected::Expected;

/// Latencies are recorded in microseconds, from 1 µs to an hour, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("constant histogram bounds are valid")
}

/// Percentiles of a latency histogram, in microseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50_us: u64,
    /// 99th percentile.
    pub p99_us: u64,
    /// 99.9th percentile.
    pub p999_us: u64,
    /// Largest sample.
    pub max_us: u64,
    /// Mean.
    pub mean_us: f64,
}

impl LatencySummary {
    /// Summarizes `histogram` (microsecond samples).
    pub fn of(histogram: &Histogram<u64>) -> Self {
        if histogram.is_empty() {
            return Self::default();
        }
        Self {
            count: histogram.len(),
            p50_us: histogram.value_at_quantile(0.50),
            p99_us: histogram.value_at_quantile(0.99),
            p999_us: histogram.value_at_quantile(0.999),
            max_us: histogram.max(),
            mean_us: histogram.mean(),
        }
    }
}

impl std::fmt::Display for LatencySummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ms = |us: u64| us as f64 / 1000.0;
        write!(
            f,
            "p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max {:.2} ms ({} samples)",
            ms(self.p50_us),
            ms(self.p99_us),
            ms(self.p999_us),
            ms(self.max_us),
            self.count
        )
    }
}

/// When the broker confirmed each message of a run: the publish time written into the message
/// (Unix microseconds, exactly what the engine stores in `vote_audit."timestamp"`) with its
/// send-to-confirm latency. Sorted by publish time, for lookups by an audit row's timestamp.
#[derive(Debug, Clone, Default)]
pub struct ConfirmTimes(Vec<(i64, u64)>);

impl ConfirmTimes {
    /// From `(publish time in Unix µs, confirm latency in µs)` pairs, in any order.
    pub fn new(mut times: Vec<(i64, u64)>) -> Self {
        times.sort_unstable();
        Self(times)
    }

    /// The confirm latency of the message stamped `published_us`. Two messages stamped in the
    /// same microsecond were sent and confirmed together: either one's latency is the answer.
    pub fn lookup(&self, published_us: i64) -> Option<u64> {
        let i = self.0.partition_point(|&(at, _)| at < published_us);
        self.0.get(i).filter(|&&(at, _)| at == published_us).map(|&(_, latency)| latency)
    }

    /// Messages recorded.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Latency of every counted vote of a run, whole and from the broker's confirm on.
#[derive(Debug, Clone)]
pub struct EndToEnd {
    /// `vote_audit.recorded_at` (when the engine wrote the row, inside its committing
    /// transaction) minus `vote_audit."timestamp"` (the publish time the load generator wrote
    /// into the vote).
    pub total: Histogram<u64>,
    /// The same minus the message's send-to-confirm latency, for the votes whose message is in
    /// the [`ConfirmTimes`]: the engine's share (delivery, batching, the write), as a quorum
    /// queue delivers a message when it confirms it, once it is on disk. A classic queue can
    /// deliver before it confirms; such samples are recorded as 1 µs.
    pub after_confirm: Histogram<u64>,
}

/// The latencies of the counted votes of the run `expected` describes.
pub async fn end_to_end(client: &Client, expected: &Expected, confirms: &ConfirmTimes) -> Result<EndToEnd, Error> {
    let sql = "SELECT (extract(epoch FROM \"timestamp\") * 1000000)::int8, \
               (extract(epoch FROM recorded_at - \"timestamp\") * 1000000)::int8 \
               FROM vote_audit WHERE law_id = ANY($1)";
    let laws = expected.law_ids();
    let rows = client.query_raw(sql, [&laws]).await?;
    pin_mut!(rows);
    let mut latency = EndToEnd { total: new_histogram(), after_confirm: new_histogram() };
    while let Some(row) = rows.try_next().await? {
        // Clocks are the same host's, but clamp anyway: a negative sample would be rejected.
        let total = row.get::<_, i64>(1).max(1) as u64;
        latency.total.saturating_record(total);
        if let Some(confirm) = confirms.lookup(row.get(0)) {
            latency.after_confirm.saturating_record(total.saturating_sub(confirm).max(1));
        }
    }
    Ok(latency)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confirm_times_are_found_by_exact_publish_time() {
        let times = ConfirmTimes::new(vec![(30, 3), (10, 1), (20, 2), (20, 2)]);
        assert_eq!(times.len(), 4);
        assert_eq!([10, 20, 30].map(|at| times.lookup(at)), [Some(1), Some(2), Some(3)]);
        assert_eq!([0, 15, 31].map(|at| times.lookup(at)), [None, None, None]);
        assert_eq!(ConfirmTimes::default().lookup(10), None);
    }
}
