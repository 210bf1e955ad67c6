//! Promise: a vote counts once, whatever happens to the engine process. `kill -9` gives the
//! engine no chance to flush or ack: what it had committed stays, what it had not is redelivered
//! and the counting rule absorbs the redeliveries.

use std::time::Duration;

use tokio::time::Instant;
use vote_reliability::*;

/// Messages in the backlog: enough that each kill lands mid-stream with batches in flight.
const BACKLOG: u64 = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_three_times_mid_drain_loses_and_double_counts_nothing() {
    let _turn = turn().await;
    let target = Target::fresh("kill9").await;
    let expected = publish_backlog(&target, BACKLOG, generator(50)).await;
    let engine = || target.engine().args(["--batch-size", "50"]);
    let mut running = engine().start().await;
    let drain_started = Instant::now();
    for (kill, fraction) in [0.15, 0.45, 0.75].into_iter().enumerate() {
        let point = (expected.total as f64 * fraction) as u64;
        wait_until("the drain reaches the kill point", Duration::from_secs(120), async || {
            target.counted().await >= point
        })
        .await;
        let unacked = running.metric("deliveries_unacked").await;
        running.kill9().await;
        let counted_at_kill = target.counted().await;
        assert!(counted_at_kill < expected.total, "kill {} landed after the drain ended", kill + 1);
        let restarted = Instant::now();
        running = engine().start().await;
        let ready_after = restarted.elapsed();
        wait_until("the restarted engine counts again", Duration::from_secs(60), async || {
            target.counted().await > counted_at_kill
        })
        .await;
        println!(
            "kill -9 #{}: {counted_at_kill} of {} votes committed, {unacked} deliveries unacked; \
             restarted engine ready in {:.2} s, counting again in {:.2} s",
            kill + 1,
            expected.total,
            ready_after.as_secs_f64(),
            restarted.elapsed().as_secs_f64()
        );
    }
    let report = assert_exact(&target, &expected, Duration::from_secs(180)).await;
    println!("drained with 3 kills in {:.1} s", drain_started.elapsed().as_secs_f64());

    // The audit table holds each counted vote once; every duplicate, sent or redelivered, was
    // recorded and not counted.
    assert_eq!(target.scalar("SELECT count(*) FROM vote_audit").await as u64, report.counted);
    let duplicates = target.scalar("SELECT count(*) FROM duplicate_attempts").await as u64;
    assert!(
        duplicates >= expected.duplicates_sent,
        "{duplicates} duplicates recorded < {} sent",
        expected.duplicates_sent
    );
    println!("redeliveries absorbed by the counting rule: {}", duplicates - expected.duplicates_sent);
    // A restarted engine has not seen the votes it committed before the kill: their redeliveries
    // make its plain inserts fail, and those batches are written again with ON CONFLICT.
    println!(
        "batches of the last engine written again after a plain insert met a recorded vote: {}",
        running.metric("plain_insert_fallbacks_total").await
    );

    // Dead-lettering is at least once across a kill.
    assert_dead_letters_at_least_once(&target, &expected, Duration::from_secs(30)).await;

    let (status, _, _) = running.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}
