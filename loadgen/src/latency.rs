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

/// End-to-end latency of every counted vote of the run: `vote_audit.recorded_at` (when the
/// engine wrote the row, inside its committing transaction) minus `vote_audit."timestamp"`
/// (the publish time the load generator wrote into the vote).
pub async fn end_to_end(client: &Client, expected: &Expected) -> Result<Histogram<u64>, Error> {
    let sql = "SELECT (extract(epoch FROM recorded_at - \"timestamp\") * 1000000)::int8 \
               FROM vote_audit WHERE law_id = ANY($1)";
    let laws = expected.law_ids();
    let rows = client.query_raw(sql, [&laws]).await?;
    pin_mut!(rows);
    let mut histogram = new_histogram();
    while let Some(row) = rows.try_next().await? {
        // Clocks are the same host's, but clamp anyway: a negative sample would be rejected.
        histogram.saturating_record(row.get::<_, i64>(0).max(1) as u64);
    }
    Ok(histogram)
}
