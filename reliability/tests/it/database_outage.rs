//! Promise: a database error is retried with exponential backoff while the deliveries are held;
//! the engine never crash-loops and never acks what did not commit. PostgreSQL is made
//! unreachable for five seconds mid-drain (a proxy the test cuts), then the engine's backend
//! connections are killed (`pg_terminate_backend`) over and over.

use std::time::Duration;

use tokio::time::Instant;
use vote_reliability::*;
use vote_runtime::testing::TcpProxy;

const BACKLOG: u64 = 40_000;
const OUTAGE: Duration = Duration::from_secs(5);
const BACKEND_KILLS: usize = 5;
/// The engine's prefetch: the most deliveries it may hold.
const PREFETCH: u32 = 200;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn engine_holds_deliveries_through_a_database_outage_and_killed_connections() {
    let _turn = turn().await;
    let target = Target::fresh("db_outage").await;
    let expected = publish_backlog(&target, BACKLOG, generator(50)).await;
    let proxy = TcpProxy::start(&target.db_address()).await;
    let through_proxy = via(&target.db_url, &format!("127.0.0.1:{}", proxy.port()));
    let mut engine = target
        .engine_via(&target.amqp_url, &through_proxy)
        .args(["--batch-size", "50", "--retry-delay-ms", "200"])
        .args(["--rabbitmq-prefetch-count", &PREFETCH.to_string()])
        .start()
        .await;

    // 1. PostgreSQL unreachable for OUTAGE.
    let point = expected.total / 4;
    wait_until("the drain reaches the outage", Duration::from_secs(120), async || target.counted().await >= point)
        .await;
    proxy.cut();
    let cut_at = Instant::now();
    engine.wait_readyz(503, Duration::from_secs(10)).await;
    let unready_in = cut_at.elapsed();
    // A COMMIT already forwarded when the link dropped may still complete on the server.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let counted_at_cut = target.counted().await;
    assert!(counted_at_cut < expected.total, "the outage landed after the drain ended");
    let queued_at_cut = target.queue_depth().await;
    let mut unacked = 0.0;
    while cut_at.elapsed() < OUTAGE {
        engine.assert_running("during the database outage");
        unacked = engine.metric("deliveries_unacked").await;
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // Held, not acked: nothing committed, and the queue did not drain past the prefetch window.
    assert_eq!(target.counted().await, counted_at_cut, "votes counted while the database was unreachable");
    assert!(unacked > 0.0, "no deliveries held during the outage");
    let drained = queued_at_cut - target.queue_depth().await;
    assert!(drained <= PREFETCH, "{drained} messages left the queue while nothing could commit");
    proxy.restore();
    let restored_at = Instant::now();
    engine.wait_ready(Duration::from_secs(30)).await;
    let ready_in = restored_at.elapsed();
    wait_until("counting resumes after the outage", Duration::from_secs(60), async || {
        target.counted().await > counted_at_cut
    })
    .await;
    println!(
        "database unreachable {:.1} s at {counted_at_cut} of {} votes: /readyz 503 after {:.2} s, {unacked} deliveries \
         held; /readyz 200 {:.2} s and counting {:.2} s after restore",
        (restored_at - cut_at).as_secs_f64(),
        expected.total,
        unready_in.as_secs_f64(),
        ready_in.as_secs_f64(),
        restored_at.elapsed().as_secs_f64()
    );

    // 2. The engine's backend connections killed, repeatedly, mid-drain.
    let point = expected.total * 6 / 10;
    wait_until("the drain reaches the backend kills", Duration::from_secs(120), async || {
        target.counted().await >= point
    })
    .await;
    let mut killed = 0;
    for _ in 0..BACKEND_KILLS {
        killed += target.kill_backends().await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        engine.assert_running("after its database connections were killed");
    }
    let counted_after_kills = target.counted().await;
    assert!(counted_after_kills < expected.total, "the backend kills landed after the drain ended");
    println!("{killed} backend connections terminated in {BACKEND_KILLS} rounds at {counted_after_kills} votes");

    assert_exact(&target, &expected, Duration::from_secs(180)).await;
    engine.wait_ready(Duration::from_secs(30)).await;
    // The broker link never dropped: each garbage message was dead-lettered exactly once. A
    // connection killed during COMMIT leaves the engine unsure whether the batch committed; it
    // writes it again and the counting rule records the second write as duplicates.
    wait_for_dlq(&target, expected.invalid_sent, Duration::from_secs(30)).await;
    let duplicates = target.scalar("SELECT count(*) FROM duplicate_attempts").await as u64;
    assert!(
        duplicates >= expected.duplicates_sent,
        "{duplicates} duplicates recorded < {} sent",
        expected.duplicates_sent
    );
    let retries = engine.metric("db_retries_total").await;
    let lost = engine.counter("aggregation_errors_total{error_type=\"db_connection\"}").await;
    assert!(retries > 0.0, "no retry recorded");
    println!("{retries} batch writes retried, {lost} connection errors");
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}
