//! Promise: one RabbitMQ node cut off from the other two loses no confirmed vote; the majority
//! keeps counting. The 3-node cluster (`scripts/rabbitmq-cluster.sh`) runs with
//! `cluster_partition_handling = pause_minority`; `partition N` drops node N's inter-node traffic
//! with nftables while clients can still reach it. Mid-drain, with a producer publishing, first
//! the node leading the vote queue is cut off (the clients are on the other two): the majority
//! elects a new leader and counting goes on within 10 s. Once healed, the node the clients are
//! connected to is cut off: it pauses when it sees it is the minority, closing their
//! connections, and they move to the majority. After each heal the node rejoins, and at the end
//! the totals are exact.

use std::time::Duration;

use tokio::time::Instant;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_reliability::*;

const BACKLOG: u64 = 20_000;
/// Messages the producer publishes while the engine drains and the nodes are cut off, one by one.
const LIVE: u64 = 60_000;
const LIVE_RATE: f64 = 1_000.0;
/// Votes that must be counted after a cut, beyond what was counted when it struck, to call
/// counting resumed: more than the engine may hold unacked ([`PREFETCH`]) and count without
/// the broker.
const RESUMED_AFTER: u64 = 1_000;
const PREFETCH: &str = "300";
/// How long a node stays cut off: past the 10-12.5 s in which the others declare it down.
const HOLD: Duration = Duration::from_secs(20);

fn node_url(n: u8) -> String {
    format!("amqp://guest:guest@127.0.0.1:{}/%2f", 5672 + u16::from(n))
}

/// Cuts node `n` off for [`HOLD`], heals, waits until all three nodes run together again;
/// returns how long after the cut counting resumed.
async fn cut_off(target: &Target, engine: &mut EngineProcess, n: u8, what: &str) -> Duration {
    let counted_at_cut = target.counted().await;
    let struck = Instant::now();
    rabbitmq_cluster(&["partition", &n.to_string()]);
    wait_until("counting resumes", Duration::from_secs(120), async || {
        target.counted().await > counted_at_cut + RESUMED_AFTER
    })
    .await;
    let resumed_in = struck.elapsed();
    engine.assert_running("during the partition");
    tokio::time::sleep(HOLD.saturating_sub(struck.elapsed())).await;
    let counted_while_cut = target.counted().await - counted_at_cut;
    rabbitmq_cluster(&["heal"]);
    let healed = Instant::now();
    // The paused minority comes back by itself once it sees the others again.
    wait_until("the cut-off node rejoins", Duration::from_secs(120), async || {
        let status = rabbitmq_cluster(&["status"]);
        status.lines().filter(|l| l.ends_with(" up")).count() == 3
            && status.lines().any(|l| l.starts_with("members:") && l.matches("rabbit-").count() == 6)
    })
    .await;
    println!(
        "node {n} ({what}) cut off at {counted_at_cut} votes: {RESUMED_AFTER} more counted {:.2} s after the cut, \
         {counted_while_cut} in the {HOLD:?} cut; all three nodes running {:.1} s after the heal",
        resumed_in.as_secs_f64(),
        healed.elapsed().as_secs_f64()
    );
    resumed_in
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "open bug: in one full-suite run counting did not resume within 120 s after the second cut"]
async fn a_node_cut_off_from_the_others_loses_nothing_and_the_majority_counts_on() {
    let _turn = turn().await;
    let cluster = RabbitCluster::up();
    let mut target = Target::fresh("partition").await;
    target.amqp_url = [1, 2, 3].map(node_url).join(",");
    let backlog = publish_backlog(&target, BACKLOG, generator(50)).await;
    let leader: u8 = rabbitmq_cluster(&["leader", &target.queue]).trim().parse().expect("a node number");
    // The clients try the two other nodes first; the first of them is cut off second.
    let others: Vec<u8> = [1, 2, 3].into_iter().filter(|n| *n != leader).collect();
    target.amqp_url = [others[0], others[1], leader].map(node_url).join(",");

    let mut engine = target
        .engine()
        .args(["--batch-size", "100", "--rabbitmq-prefetch-count", PREFETCH, "--retry-delay-ms", "200"])
        .start()
        .await;
    let live_config = PublishConfig { rate: Some(LIVE_RATE), ..PublishConfig::new(&target.queue, LIVE, generator(20)) };
    let amqp = target.amqp();
    let producer = tokio::spawn(async move { publish(&amqp, &live_config).await });

    let point = backlog.total / 3;
    wait_until("the drain reaches the cut", Duration::from_secs(120), async || target.counted().await >= point).await;
    let leader_cut = cut_off(&target, &mut engine, leader, "the vote queue's leader").await;
    assert!(!producer.is_finished(), "the producer still publishes when the second cut strikes");
    cut_off(&target, &mut engine, others[0], "the clients' node").await;
    assert!(leader_cut <= Duration::from_secs(10), "counting resumed {leader_cut:?} after the leader was cut off");

    let live = producer.await.expect("the producer task").expect("the producer publishes through the partitions");
    let backlog_report = assert_exact(&target, &backlog, Duration::from_secs(180)).await;
    let live_report = assert_exact(&target, &live.expected, Duration::from_secs(180)).await;
    assert_eq!(
        target.scalar("SELECT count(*) FROM vote_audit").await as u64,
        backlog_report.counted + live_report.counted,
        "each counted vote is in the audit table once"
    );
    let mut sent = backlog.clone();
    sent.invalid_sent += live.expected.invalid_sent;
    assert_dead_letters_at_least_once(&target, &sent, Duration::from_secs(60)).await;
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
    drop(cluster);
}
