//! Promise: one RabbitMQ node cut off from the other two loses no confirmed vote; the majority
//! keeps counting. The 3-node cluster (`scripts/rabbitmq-cluster.sh`) runs with
//! `cluster_partition_handling = pause_minority`; `partition N` drops node N's inter-node traffic
//! with nftables while clients can still reach it. Mid-drain, with a producer publishing, either
//! the node leading the vote queue is cut off (the clients are on the other two), or the node the
//! clients are connected to (it pauses once it sees it is the minority, and they move). After
//! the cut is healed the node rejoins, and the totals are exact.

use std::time::Duration;

use tokio::sync::Mutex;
use tokio::time::Instant;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_reliability::*;

const BACKLOG: u64 = 20_000;
/// Messages the producer publishes while the engine drains and the node is cut off.
const LIVE: u64 = 30_000;
const LIVE_RATE: f64 = 1_000.0;
/// Votes that must be counted after the cut, beyond what was counted when it struck, to call
/// counting resumed: more than the engine may hold unacked ([`PREFETCH`]) and count without
/// the broker.
const RESUMED_AFTER: u64 = 1_000;
const PREFETCH: &str = "300";
/// How long the node stays cut off: past the 10-12.5 s in which the others declare it down.
const HOLD: Duration = Duration::from_secs(30);

/// The tests share the one local cluster: one fault at a time.
static CLUSTER: Mutex<()> = Mutex::const_new(());

fn node_url(n: u8) -> String {
    format!("amqp://guest:guest@127.0.0.1:{}/%2f", 5672 + u16::from(n))
}

/// Which node is cut off.
enum Cut {
    /// The node leading the vote queue, which the clients are not connected to.
    Leader,
    /// The node the engine and the producer are connected to.
    Connected,
}

async fn survives(name: &str, cut: Cut) -> Duration {
    let _one_at_a_time = CLUSTER.lock().await;
    let cluster = RabbitCluster::up();
    let mut target = Target::fresh(name).await;
    target.amqp_url = [1, 2, 3].map(node_url).join(",");
    let backlog = publish_backlog(&target, BACKLOG, generator(50)).await;
    let leader: u8 = rabbitmq_cluster(&["leader", &target.queue]).trim().parse().expect("a node number");
    let (isolated, order) = match cut {
        Cut::Leader => {
            let others: Vec<u8> = [1, 2, 3].into_iter().filter(|n| *n != leader).collect();
            (leader, [others[0], others[1], leader])
        }
        Cut::Connected => {
            let first = if leader == 1 { 2 } else { 1 };
            let others: Vec<u8> = [1, 2, 3].into_iter().filter(|n| *n != first).collect();
            (first, [first, others[0], others[1]])
        }
    };
    target.amqp_url = order.map(node_url).join(",");

    let mut engine = target
        .engine()
        .args(["--batch-size", "100", "--rabbitmq-prefetch-count", PREFETCH, "--retry-delay-seconds", "0.2"])
        .start()
        .await;
    let live_config = PublishConfig { rate: Some(LIVE_RATE), ..PublishConfig::new(&target.queue, LIVE, generator(20)) };
    let amqp = target.amqp();
    let producer = tokio::spawn(async move { publish(&amqp, &live_config).await });

    let point = backlog.total / 3;
    wait_until("the drain reaches the cut", Duration::from_secs(120), async || target.counted().await >= point).await;
    let counted_at_cut = target.counted().await;
    let struck = Instant::now();
    rabbitmq_cluster(&["partition", &isolated.to_string()]);
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
        "{name}: node {isolated} cut off (leader was {leader}, clients on {order:?}) at {counted_at_cut} of {} backlog \
         votes; {RESUMED_AFTER} more counted {:.2} s after the cut, {counted_while_cut} in the {HOLD:?} cut; all three \
         nodes running {:.1} s after the heal",
        backlog.total,
        resumed_in.as_secs_f64(),
        healed.elapsed().as_secs_f64()
    );

    let live = producer.await.expect("the producer task").expect("the producer publishes through the partition");
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
    resumed_in
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_vote_queue_leader_cut_off_the_majority_counts_on_within_10_s() {
    let resumed_in = survives("partition_leader", Cut::Leader).await;
    assert!(resumed_in <= Duration::from_secs(10), "counting resumed {resumed_in:?} after the cut");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_node_the_clients_use_cut_off_pauses_and_they_move_to_the_majority() {
    survives("partition_connected", Cut::Connected).await;
}
