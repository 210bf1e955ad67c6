//! Promise: a consumer the broker stops feeding is noticed and replaced. Mid-drain, the broker's
//! process for the engine's channel is suspended: the connection stays up (heartbeats are
//! another process), nothing more is delivered, nothing on the wire says why, as when a quorum
//! queue's consumer is left stranded after a node rejoins. The engine sees votes waiting in the
//! queue while it receives none, drops the session, opens a new one and drains the rest; once
//! the channel is resumed, what it held comes back and is absorbed by the counting rule.
//!
//! Needs `rabbitmqctl` with the broker's cookie (root next to the broker).

use std::time::Duration;

use tokio::time::Instant;
use vote_reliability::*;

const BACKLOG: u64 = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_consumer_the_broker_stops_feeding_is_replaced_and_the_drain_ends_exact() {
    let _turn = turn().await;
    let target = Target::fresh("consumer_stall").await;
    let expected = publish_backlog(&target, BACKLOG, generator(50)).await;
    let engine = target.engine().args(["--batch-size", "50"]).start().await;
    let point = expected.total / 5;
    wait_until("the drain reaches the stall point", Duration::from_secs(120), async || target.counted().await >= point)
        .await;
    let channel = consumer_channel(&target.queue);
    let suspended = suspend(&channel);
    let struck = Instant::now();
    let counted_at_stall = target.counted().await;
    assert!(counted_at_stall < expected.total, "the stall landed after the drain ended");

    wait_until("the engine notices the stall", Duration::from_secs(60), async || {
        engine.metric("consumer_stalls_total").await >= 1.0
    })
    .await;
    let noticed = struck.elapsed();
    wait_until("counting resumes on a new session", Duration::from_secs(60), async || {
        target.counted().await > counted_at_stall + 1_000
    })
    .await;
    let resumed = struck.elapsed();
    // The stalled channel still holds its deliveries; resumed, it dies with its connection and
    // they come back.
    drop(suspended);
    println!(
        "channel {channel} suspended at {counted_at_stall} of {} votes: stall noticed {:.1} s and counting again \
         {:.1} s after it",
        expected.total,
        noticed.as_secs_f64(),
        resumed.as_secs_f64()
    );
    assert_exact(&target, &expected, Duration::from_secs(180)).await;
    assert_dead_letters_at_least_once(&target, &expected, Duration::from_secs(60)).await;
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
}
