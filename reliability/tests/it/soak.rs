//! Soak, run on demand (ignored in the suite): a steady stream of votes for a long time against a
//! 3-node broker cluster and a PostgreSQL set that fails over by itself (pg_auto_failover,
//! `scripts/postgres-ha.sh`), with a fault every interval drawn in turn from: engine kill -9
//! (then started again), the broker node everyone is connected to killed (started again once
//! counting resumed), the database primary's postmaster killed, a broker node cut off from the
//! others for 30 s, the database secondary's machine lost for 15 s, the engine's database
//! backends killed, the database primary's machine lost (then its keeper started again: it
//! rejoins as a secondary), the database monitor unreachable for 15 s, a broker node stopped for
//! 30 s. No command mends a database fault. It ends exact (dead letters at least once), and the
//! engine's RSS and `deliveries_unacked` do not grow.
//!
//! ```sh
//! cargo test --release -p vote-reliability --test soak -- --ignored --nocapture
//! SOAK_MINUTES=5 SOAK_RATE=5000 SOAK_FAULT_SECONDS=60 cargo test ...   # shorter
//! ```

use std::time::Duration;

use tokio::time::Instant;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_reliability::*;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;

/// The soak's own database set: the monitor on this port, the nodes on the next two.
const HA_PORT: u16 = 5447;
/// How long a cut or a lost secondary lasts.
const HOLD: Duration = Duration::from_secs(15);

fn setting(name: &str, default: f64) -> f64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[derive(Debug, Clone, Copy)]
enum Fault {
    EngineKill,
    BrokerKill,
    DbPrimaryPostmasterKill,
    BrokerPartition,
    DbSecondaryLost,
    BackendKill,
    DbPrimaryLost,
    DbMonitorCut,
    BrokerStop,
}

const FAULTS: [Fault; 9] = [
    Fault::EngineKill,
    Fault::BrokerKill,
    Fault::DbPrimaryPostmasterKill,
    Fault::BrokerPartition,
    Fault::DbSecondaryLost,
    Fault::BackendKill,
    Fault::DbPrimaryLost,
    Fault::DbMonitorCut,
    Fault::BrokerStop,
];

/// The engine's resident memory, in MiB.
fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "soak: run on demand, see the module docs"]
async fn steady_votes_through_a_fault_every_interval_end_exact() {
    let _turn = turn().await;
    let minutes = setting("SOAK_MINUTES", 20.0);
    let rate = setting("SOAK_RATE", 10_000.0);
    let interval = Duration::from_secs_f64(setting("SOAK_FAULT_SECONDS", 120.0));
    let duration = Duration::from_secs_f64(minutes * 60.0);

    let cluster = RabbitCluster::up();
    let set = PostgresHa::start(HA_PORT);
    let dbname = testing::unique_name("test_rel_soak");
    let db_url = set.url(&dbname);
    let db = DbTarget::parse(&db_url).expect("a multi-host URL parses");
    db.create_database_if_missing().await.expect("the scratch primary answers");
    let amqp_url = rabbitmq_cluster(&["urls"]).trim().to_owned();
    let target = Target { db, db_url, amqp_url, queue: testing::unique_name("rel_soak") };

    let command = || target.engine().args(["--retry-delay-ms", "200"]);
    let mut engine = command().start().await;
    let config = PublishConfig {
        rate: Some(rate),
        duration: Some(duration),
        count: None,
        ..PublishConfig::new(&target.queue, 0, generator(1_000))
    };
    let amqp = target.amqp();
    let producer = tokio::spawn(async move { publish(&amqp, &config).await });

    let started = Instant::now();
    let mut samples: Vec<(f64, f64, f64)> = Vec::new(); // (minute, RSS MiB, deliveries_unacked)
    let mut next_fault = started + interval;
    let mut turn = 0;
    while started.elapsed() < duration {
        tokio::time::sleep(Duration::from_secs(10)).await;
        samples.push((
            started.elapsed().as_secs_f64() / 60.0,
            rss_mib(engine.pid()),
            engine.metric("deliveries_unacked").await,
        ));
        if Instant::now() < next_fault || started.elapsed() + Duration::from_secs(60) > duration {
            continue;
        }
        next_fault += interval;
        let fault = FAULTS[turn % FAULTS.len()];
        turn += 1;
        let counted = target.counted().await;
        let (primary, secondary) = (set.primary(), set.secondary());
        let struck = Instant::now();
        match fault {
            Fault::EngineKill => {
                engine.kill9().await;
                engine = command().start().await;
            }
            Fault::BrokerKill => {
                rabbitmq_cluster(&["kill", "1"]);
            }
            Fault::BrokerStop => {
                rabbitmq_cluster(&["stop", "2"]);
            }
            Fault::BackendKill => {
                target.kill_backends().await;
            }
            Fault::DbPrimaryPostmasterKill => set.kill_postgres(primary),
            Fault::BrokerPartition => {
                rabbitmq_cluster(&["partition", "3"]);
            }
            Fault::DbSecondaryLost => set.kill(secondary),
            Fault::DbPrimaryLost => set.kill(primary),
            Fault::DbMonitorCut => set.cut_monitor(),
        }
        wait_until("counting resumes after the fault", Duration::from_secs(120), async || {
            target.try_counted().await.is_some_and(|now| now > counted + 1_000)
        })
        .await;
        println!(
            "{:5.1} min: {fault:?}, counting again {:.1} s after it struck",
            started.elapsed().as_secs_f64() / 60.0,
            struck.elapsed().as_secs_f64()
        );
        match fault {
            Fault::BrokerKill => {
                rabbitmq_cluster(&["start", "1"]);
            }
            Fault::BrokerStop => {
                // Down for 30 s in all, then back.
                tokio::time::sleep(Duration::from_secs(30).saturating_sub(struck.elapsed())).await;
                rabbitmq_cluster(&["start", "2"]);
            }
            Fault::BrokerPartition => {
                tokio::time::sleep(Duration::from_secs(30).saturating_sub(struck.elapsed())).await;
                rabbitmq_cluster(&["heal"]);
            }
            Fault::DbSecondaryLost | Fault::DbMonitorCut => {
                tokio::time::sleep(HOLD.saturating_sub(struck.elapsed())).await;
                if matches!(fault, Fault::DbMonitorCut) {
                    set.heal();
                } else {
                    set.restart(secondary);
                }
            }
            Fault::DbPrimaryLost => set.restart(primary),
            _ => {}
        }
        if !matches!(fault, Fault::EngineKill | Fault::BackendKill | Fault::BrokerKill | Fault::BrokerStop) {
            wait_until("the database set settles", Duration::from_secs(120), async || set.is_settled()).await;
        }
        engine.assert_running("after the fault");
    }

    let published = producer.await.expect("the producer task").expect("the producer publishes through every fault");
    let report = assert_exact(&target, &published.expected, Duration::from_secs(600)).await;
    // Dead letters are at least once: a kill between a dead letter's confirm and its
    // original's ack sends it again.
    let dead = assert_dead_letters_at_least_once(&target, &published.expected, Duration::from_secs(120)).await;
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");

    // Memory and the unacked window after the first quarter against the last quarter.
    let quarter = samples.len() / 4;
    let max = |part: &[(f64, f64, f64)], pick: fn(&(f64, f64, f64)) -> f64| part.iter().map(pick).fold(0.0, f64::max);
    let (early, late) = (&samples[quarter..2 * quarter], &samples[samples.len() - quarter..]);
    let (rss_early, rss_late) = (max(early, |s| s.1), max(late, |s| s.1));
    let (unacked_early, unacked_late) = (max(early, |s| s.2), max(late, |s| s.2));
    println!(
        "soak: {minutes} min at {rate}/s, {} faults: {} messages, {} votes EXACT, {dead} dead letters for {} \
         garbage; engine RSS max {rss_early:.0} -> {rss_late:.0} MiB, deliveries_unacked max {unacked_early} -> \
         {unacked_late}",
        turn, published.expected.messages_sent, report.counted, published.expected.invalid_sent
    );
    assert!(rss_late <= rss_early * 1.5 + 16.0, "RSS grew: {rss_early:.0} -> {rss_late:.0} MiB");
    assert!(unacked_late <= unacked_early.max(1.0) * 2.0 + 1_000.0, "unacked grew: {unacked_early} -> {unacked_late}");
    target.delete_queues().await;
    drop(set);
    drop(cluster);
}
