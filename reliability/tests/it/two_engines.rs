//! Promise: several engines may consume the same queue at once. Each delivery goes to one of
//! them; a duplicate handled by one engine while its original commits on the other still counts
//! once, and their upserts in law_id order cannot deadlock.

use std::time::Duration;

use vote_reliability::*;

const BACKLOG: u64 = 50_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_queue_count_each_vote_once() {
    let _turn = turn().await;
    let target = Target::fresh("two_engines").await;
    // Few laws: both engines update the same rows all the time.
    let expected = publish_backlog(&target, BACKLOG, generator(10)).await;
    let engine = || target.engine().args(["--batch-size", "50"]);
    let (first, second) = tokio::join!(engine().start(), engine().start());
    assert_exact(&target, &expected, Duration::from_secs(180)).await;
    wait_for_dlq(&target, expected.invalid_sent, Duration::from_secs(30)).await;
    let duplicates = target.scalar("SELECT count(*) FROM duplicate_attempts").await as u64;
    assert_eq!(duplicates, expected.duplicates_sent, "a message was processed twice");

    // Both took part.
    for engine in [&first, &second] {
        let processed = engine.metric("batch_size_processed_total").await;
        let conflicts = engine.counter("aggregation_errors_total{error_type=\"db_conflict\"}").await;
        // Each engine knows only the keys it wrote: a duplicate of a vote the other engine
        // wrote makes its plain insert fail, and the batch is written again with ON CONFLICT.
        let fallbacks = engine.metric("plain_insert_fallbacks_total").await;
        println!(
            "engine pid {}: {processed} votes processed, {conflicts} write conflicts retried, \
             {fallbacks} batches written again after a plain insert met a recorded vote",
            engine.pid()
        );
        assert!(processed > 0.0, "engine {} did no work", engine.pid());
    }
    for engine in [first, second] {
        let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
        assert!(status.success(), "{status}");
    }
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}
