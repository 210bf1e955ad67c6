//! Promise: losing one node of a 3-node RabbitMQ cluster loses no confirmed vote and counts none
//! twice. The vote queue is a quorum queue replicated on the three nodes (`scripts/rabbitmq-cluster.sh`,
//! AMQP ports 5673-5675); the engine and the producer are given every node in `AMQP_URL`. Mid-drain,
//! with the producer still publishing, one node is lost: the one they are connected to (kill -9),
//! the one leading the vote queue (kill -9), or one stopped for 30 s and started again. Each ends
//! with exact totals and every garbage message in the dead-letter queue (at least once: a
//! dead letter whose original's ack was lost with its node comes again).

use std::time::Duration;

use tokio::time::Instant;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_reliability::*;

const BACKLOG: u64 = 30_000;
/// Messages the producer publishes while the engine drains and the node is lost.
const LIVE: u64 = 10_000;
const LIVE_RATE: f64 = 1_000.0;
/// Votes that must be counted after the fault, beyond what was counted when it struck, to call
/// counting resumed (more than the batches that may have been committing at that moment).
const RESUMED_AFTER: u64 = 1_000;

/// Node `n`'s URL.
fn node_url(n: u8) -> String {
    format!("amqp://guest:guest@127.0.0.1:{}/%2f", 5672 + u16::from(n))
}

/// What befalls the cluster mid-drain.
enum Fault {
    /// kill -9 of the node the engine and the producer connect to first.
    KillConnected,
    /// kill -9 of the node leading the vote queue, which they are not connected to.
    KillLeader,
    /// The node they connect to, stopped cleanly for this long, then started again.
    StopFor(Duration),
}

async fn survives(name: &str, fault: Fault) {
    let cluster = RabbitCluster::up();
    let mut target = Target::fresh(name).await;
    // Declared through node 1; a quorum queue's members are every node of the cluster.
    target.amqp_url = [1, 2, 3].map(node_url).join(",");
    let backlog = publish_backlog(&target, BACKLOG, generator(50)).await;
    let leader: u8 = rabbitmq_cluster(&["leader", &target.queue]).trim().parse().expect("a node number");
    // Who is lost, and the order the clients try the nodes in (the lost node first, except for
    // the leader, which they must not be connected to).
    let (lost, order) = match fault {
        Fault::KillConnected | Fault::StopFor(_) => (1, [1, 2, 3]),
        Fault::KillLeader => {
            let others: Vec<u8> = [1, 2, 3].into_iter().filter(|n| *n != leader).collect();
            (leader, [others[0], others[1], leader])
        }
    };
    target.amqp_url = order.map(node_url).join(",");

    let mut engine = target.engine().args(["--batch-size", "200", "--retry-delay-ms", "200"]).start().await;
    let live_config = PublishConfig { rate: Some(LIVE_RATE), ..PublishConfig::new(&target.queue, LIVE, generator(20)) };
    let amqp = target.amqp();
    let producer = tokio::spawn(async move { publish(&amqp, &live_config).await });

    let point = backlog.total / 3;
    wait_until("the drain reaches the fault", Duration::from_secs(120), async || target.counted().await >= point).await;
    let counted_at_fault = target.counted().await;
    let struck = Instant::now();
    match fault {
        Fault::KillConnected | Fault::KillLeader => rabbitmq_cluster(&["kill", &lost.to_string()]),
        Fault::StopFor(_) => rabbitmq_cluster(&["stop", &lost.to_string()]),
    };
    wait_until("counting resumes", Duration::from_secs(60), async || {
        target.counted().await > counted_at_fault + RESUMED_AFTER
    })
    .await;
    let resumed_in = struck.elapsed();
    engine.assert_running("after the fault");
    if let Fault::StopFor(down) = fault {
        tokio::time::sleep(down.saturating_sub(struck.elapsed())).await;
    }
    rabbitmq_cluster(&["start", &lost.to_string()]);
    println!(
        "{name}: node {lost} lost (leader was {leader}) at {counted_at_fault} of {} backlog votes; {RESUMED_AFTER} \
         more counted {:.2} s after the fault",
        backlog.total,
        resumed_in.as_secs_f64()
    );

    let live = producer.await.expect("the producer task").expect("the producer publishes through the fault");
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_the_engine_is_connected_to_killed_mid_drain_loses_nothing() {
    let _turn = turn().await;
    survives("broker_kill_connected", Fault::KillConnected).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vote_queue_leader_killed_mid_drain_loses_nothing() {
    let _turn = turn().await;
    survives("broker_kill_leader", Fault::KillLeader).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_stopped_for_30_s_and_started_again_loses_nothing() {
    let _turn = turn().await;
    survives("broker_stop_node", Fault::StopFor(Duration::from_secs(30))).await;
}
