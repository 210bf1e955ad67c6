//! Promise: the engine rides out a broker restart by itself: it notices the lost connection,
//! reconnects with backoff once RabbitMQ is back, re-declares its topology and resumes; the
//! redelivered messages are absorbed by the counting rule.
//!
//! `rabbitmqctl stop_app` stops the broker for every client on this machine: the suite's other
//! tests wait for their turn, and cargo runs the other crates' test binaries one after another.

use std::time::Duration;

use tokio::time::Instant;
use vote_reliability::*;

const BACKLOG: u64 = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_resumes_by_itself_after_the_broker_restarts_mid_drain() {
    let _turn = turn().await;
    let target = Target::fresh("broker_restart").await;
    let expected = publish_backlog(&target, BACKLOG, generator(50)).await;
    let mut engine = target.engine().args(["--batch-size", "50"]).start().await;
    let point = expected.total * 3 / 10;
    wait_until("the drain reaches the restart point", Duration::from_secs(120), async || {
        target.counted().await >= point
    })
    .await;
    let stopping = Instant::now();
    // Start the broker again whatever happens below, or every later test would fail.
    let restart = on_drop(|| {
        rabbitmqctl(&["start_app"]);
    });
    tokio::task::spawn_blocking(|| rabbitmqctl(&["stop_app"])).await.expect("stop_app");
    let stopped_in = stopping.elapsed();
    let counted_at_stop = target.counted().await;
    assert!(counted_at_stop < expected.total, "the restart landed after the drain ended");
    engine.wait_readyz(503, Duration::from_secs(15)).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    engine.assert_running("while the broker was stopped");
    let starting = Instant::now();
    tokio::task::spawn_blocking(move || drop(restart)).await.expect("start_app");
    let started_in = starting.elapsed();
    let back = Instant::now();
    engine.wait_ready(Duration::from_secs(60)).await;
    let ready_in = back.elapsed();
    wait_until("counting resumes after the restart", Duration::from_secs(60), async || {
        target.counted().await > counted_at_stop
    })
    .await;
    println!(
        "broker stopped at {counted_at_stop} of {} votes (stop_app {:.1} s, start_app {:.1} s); engine ready {:.2} s and \
         counting {:.2} s after the broker was back",
        expected.total,
        stopped_in.as_secs_f64(),
        started_in.as_secs_f64(),
        ready_in.as_secs_f64(),
        back.elapsed().as_secs_f64()
    );
    assert_exact(&target, &expected, Duration::from_secs(180)).await;
    let reconnects = engine.metric("broker_reconnects_total").await;
    assert!(reconnects >= 1.0, "no reconnect recorded");

    assert_dead_letters_at_least_once(&target, &expected, Duration::from_secs(30)).await;
    println!("{reconnects} reconnects");
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}
