//! Promise: losing the database's machine loses no acked vote and stops counting only until a
//! standby is promoted. The engine writes to a primary with a synchronous standby through a URL
//! that lists both servers (`target_session_attrs=read-write`); mid-drain, with a producer still
//! publishing, the primary is stopped in `immediate` mode and the standby promoted. The engine
//! finds the new primary by itself, and the new primary's totals are exact: every vote the engine
//! acked had committed on both servers.

use std::time::Duration;

use tokio::time::Instant;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_reliability::*;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;

const BACKLOG: u64 = 30_000;
/// Messages the producer publishes while the engine drains and the primary is lost.
const LIVE: u64 = 10_000;
const LIVE_RATE: f64 = 1_000.0;
/// This test's own pair of clusters (the suite's database on 5432 is not touched).
const PRIMARY_PORT: u16 = 5434;
const STANDBY_PORT: u16 = 5435;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_lost_mid_drain_and_its_promoted_standby_lose_no_acked_vote() {
    let _turn = turn().await;
    let pair = PostgresPair::start(PRIMARY_PORT, STANDBY_PORT);
    let dbname = testing::unique_name("test_rel_failover");
    let db_url = pair.url(&dbname);
    let db = DbTarget::parse(&db_url).expect("a multi-host URL parses");
    db.create_database_if_missing().await.expect("the scratch primary answers");
    let target = Target { db, db_url, amqp_url: testing::amqp_url(), queue: testing::unique_name("rel_failover") };

    let backlog = publish_backlog(&target, BACKLOG, generator(50)).await;
    let mut engine = target.engine().args(["--batch-size", "100", "--retry-delay-ms", "200"]).start().await;
    let live_config = PublishConfig { rate: Some(LIVE_RATE), ..PublishConfig::new(&target.queue, LIVE, generator(20)) };
    let amqp = target.amqp();
    let producer = tokio::spawn(async move { publish(&amqp, &live_config).await });

    let point = backlog.total / 3;
    wait_until("the drain reaches the failover", Duration::from_secs(120), async || target.counted().await >= point)
        .await;
    pair.stop_primary_immediately();
    let lost_at = Instant::now();
    engine.wait_readyz(503, Duration::from_secs(30)).await;
    engine.assert_running("with its primary gone");
    pair.promote();
    let promoted_at = Instant::now();
    let counted_at_promotion = target.counted().await;
    wait_until("counting resumes on the promoted standby", Duration::from_secs(60), async || {
        target.counted().await > counted_at_promotion
    })
    .await;
    let resumed_in = promoted_at.elapsed();
    println!(
        "primary lost at {point}+ of {} backlog votes; standby promoted {:.1} s later; counting again {:.2} s \
         after the promotion",
        backlog.total,
        (promoted_at - lost_at).as_secs_f64(),
        resumed_in.as_secs_f64()
    );

    let live = producer.await.expect("the producer task").expect("the producer publishes through the failover");
    let backlog_report = assert_exact(&target, &backlog, Duration::from_secs(180)).await;
    let live_report = assert_exact(&target, &live.expected, Duration::from_secs(180)).await;
    // The audit table of the new primary holds each counted vote once.
    assert_eq!(
        target.scalar("SELECT count(*) FROM vote_audit").await as u64,
        backlog_report.counted + live_report.counted
    );
    wait_for_dlq(&target, backlog.invalid_sent + live.expected.invalid_sent, Duration::from_secs(30)).await;

    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
    drop(pair);
}
