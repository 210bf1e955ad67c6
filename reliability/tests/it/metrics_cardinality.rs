//! Promise: label cardinality from untrusted input is bounded. Votes for 100,000 distinct laws
//! leave at most METRICS_MAX_LAWS laws (two series each, plus `_other`) in /metrics, before and
//! after a restart, while the database counts every one of the 100,000 laws.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;
use vote_loadgen::{Expected, LawTotals};
use vote_reliability::engine::{metric, series_count};
use vote_reliability::*;

const LAWS: u32 = 100_000;
const MAX_LAWS: usize = 50;

fn assert_bounded(text: &str, when: &str) -> (usize, usize) {
    let totals = series_count(text, "current_vote_totals");
    let aggregated = series_count(text, "votes_aggregated_total");
    // Two choices per labelled law, plus the two `_other` series of the counter.
    assert!(totals <= MAX_LAWS * 2, "{totals} current_vote_totals series {when}");
    assert!(aggregated <= MAX_LAWS * 2 + 2, "{aggregated} votes_aggregated_total series {when}");
    assert!(text.len() < 64 * 1024, "/metrics is {} bytes {when}", text.len());
    (totals, aggregated)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_for_100k_laws_keep_metrics_bounded_and_all_count() {
    let _turn = turn().await;
    let target = Target::fresh("cardinality").await;
    let prefix = format!("card-{}-", target.queue.rsplit('_').next().unwrap_or("0"));
    let mut laws = BTreeMap::new();
    let bodies: Vec<Vec<u8>> = (0..LAWS)
        .map(|i| {
            let law = format!("{prefix}{i}");
            let choice = if i % 3 == 0 { "non" } else { "oui" };
            let totals: &mut LawTotals = laws.entry(law.clone()).or_default();
            if choice == "oui" {
                totals.oui += 1
            } else {
                totals.non += 1
            }
            vote_body(&format!("card-{i}"), &format!("citizen-{i}"), &law, choice)
        })
        .collect();
    let expected = Expected::from_laws(&prefix, LAWS, laws);
    let started = Instant::now();
    publish_bodies(&target, &bodies).await;
    println!("published {LAWS} votes on {LAWS} laws in {:.1} s", started.elapsed().as_secs_f64());

    let engine = || target.engine().args(["--batch-size", "1000"]).env("METRICS_MAX_LAWS", &MAX_LAWS.to_string());
    let running = engine().start().await;
    assert_exact(&target, &expected, Duration::from_secs(240)).await;
    let laws_in_db =
        target.scalar(&format!("SELECT count(*) FROM vote_results WHERE starts_with(law_id, '{prefix}')")).await;
    assert_eq!(laws_in_db, i64::from(LAWS));
    let text = running.metrics().await;
    let (totals, aggregated) = assert_bounded(&text, "after counting");
    // The counter still adds up to every vote: the laws beyond the budget are summed in `_other`.
    let counted: f64 = text
        .lines()
        .filter(|l| l.starts_with("votes_aggregated_total{"))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(counted, f64::from(LAWS));
    let other = metric(&text, "votes_aggregated_total{choice=\"oui\",law_id=\"_other\"}").unwrap_or(0.0)
        + metric(&text, "votes_aggregated_total{choice=\"non\",law_id=\"_other\"}").unwrap_or(0.0);
    println!(
        "{LAWS} laws counted in the database; /metrics: {totals} current_vote_totals and {aggregated} \
         votes_aggregated_total series ({other} votes under _other), {} bytes",
        text.len()
    );
    let (status, _, _) = running.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");

    // After a restart the gauge is seeded from the database: still bounded.
    let running = engine().start().await;
    let text = running.metrics().await;
    let (totals, _) = assert_bounded(&text, "after a restart");
    assert_eq!(totals, MAX_LAWS * 2, "the gauge is seeded with the busiest laws");
    let (status, _, _) = running.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
}
