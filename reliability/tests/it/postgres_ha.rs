//! Promise: the database fails over without a human. The engine writes through the multi-host
//! URL of a pg_auto_failover set (`scripts/postgres-ha.sh`: a monitor, a primary, a synchronous
//! secondary); mid-drain, with a producer publishing, one fault strikes and nobody types a
//! command to mend it. Each run ends exact (every confirmed vote counted once, dead letters =
//! garbage sent, the audit table holding each counted vote once):
//! - the primary's postmaster killed: counting again within 30 s;
//! - the secondary's machine lost: counting goes on, no commit waits more than 10 s;
//! - the primary's machine lost, then its keeper started again: the secondary is promoted, the
//!   old primary rejoins as a secondary and never takes a write sent to it directly;
//! - the monitor unreachable for longer than a primary's partition timeout: no failover, the
//!   primary keeps its role (its secondary is still connected) and counting goes on;
//! - the monitor unreachable, then the secondary's machine lost: the primary, alone, fences
//!   itself (stops PostgreSQL) after its partition timeout, and no write sent to it directly is
//!   acknowledged meanwhile; once the monitor is back and the secondary started again, counting
//!   resumes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::time::Instant;
use vote_loadgen::publish::{PublishConfig, publish};
use vote_reliability::*;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;

const BACKLOG: u64 = 20_000;
/// Messages the producer publishes while the engine drains and the fault strikes.
const LIVE: u64 = 20_000;
const LIVE_RATE: f64 = 1_000.0;
/// Votes that must be counted after the fault, beyond what was counted when it struck, to call
/// counting resumed (more than the batches that may have been committing at that moment).
const RESUMED_AFTER: u64 = 500;
/// This binary's own set: the monitor on this port, the nodes on the next two.
const HA_PORT: u16 = 5444;
/// How long the secondary stays lost, and the monitor unreachable: past the monitor's unhealthy
/// timeout and the nodes' network partition timeout (`scripts/postgres-ha.sh`).
const HOLD: Duration = Duration::from_secs(15);

/// Long enough for a keeper to notice the monitor is unreachable (a few failed tries).
const MONITOR_NOTICED: Duration = Duration::from_secs(8);

enum Fault {
    PrimaryPostmasterKilled,
    SecondaryLost,
    PrimaryLostThenBack,
    MonitorCut,
    PrimaryIsolated,
}

async fn survives(name: &str, fault: Fault) {
    let set = PostgresHa::start(HA_PORT);
    let dbname = testing::unique_name(&format!("test_rel_{name}"));
    let db_url = set.url(&dbname);
    let db = DbTarget::parse(&db_url).expect("the set's multi-host URL parses");
    db.create_database_if_missing().await.expect("the set's primary answers");
    let target =
        Target { db, db_url, amqp_url: testing::amqp_url(), queue: testing::unique_name(&format!("rel_{name}")) };

    let backlog = publish_backlog(&target, BACKLOG, generator(50)).await;
    let mut engine = target.engine().args(["--batch-size", "100", "--retry-delay-ms", "200"]).start().await;
    let live_config = PublishConfig { rate: Some(LIVE_RATE), ..PublishConfig::new(&target.queue, LIVE, generator(20)) };
    let amqp = target.amqp();
    let producer = tokio::spawn(async move { publish(&amqp, &live_config).await });

    let point = backlog.total / 3;
    wait_until("the drain reaches the fault", Duration::from_secs(120), async || target.counted().await >= point).await;
    let primary = set.primary();
    let counted_at_fault = target.counted().await;
    let resumed = async |struck: Instant, within: Duration| {
        // No server may take connections for a while: the query is tried again until one does.
        wait_until("counting resumes", within, async || {
            target.try_counted().await.is_some_and(|counted| counted > counted_at_fault + RESUMED_AFTER)
        })
        .await;
        struck.elapsed()
    };
    match fault {
        Fault::PrimaryPostmasterKilled => {
            set.kill_postgres(primary);
            let resumed_in = resumed(Instant::now(), Duration::from_secs(60)).await;
            wait_until("the set settles", Duration::from_secs(90), async || set.is_settled()).await;
            println!(
                "{name}: node{primary}'s postmaster killed at {counted_at_fault} votes; {RESUMED_AFTER} more counted \
                 {:.2} s after the kill; primary now node{}",
                resumed_in.as_secs_f64(),
                set.primary()
            );
            assert!(resumed_in <= Duration::from_secs(30), "counting resumed only {resumed_in:?} after the kill");
        }
        Fault::SecondaryLost => {
            let secondary = 3 - primary;
            let probe = CommitProbe::start(target.db.clone()).await;
            let struck = Instant::now();
            set.kill(secondary);
            let resumed_in = resumed(struck, Duration::from_secs(60)).await;
            tokio::time::sleep(HOLD.saturating_sub(struck.elapsed())).await;
            let counted_while_lost = target.counted().await - counted_at_fault;
            let seen = probe.finish().await;
            set.restart(secondary);
            wait_until("the secondary rejoins", Duration::from_secs(120), async || set.is_settled()).await;
            assert_eq!(set.primary(), primary, "losing the secondary moves no primary");
            println!(
                "{name}: node{secondary}'s machine lost at {counted_at_fault} votes for {HOLD:?}; {RESUMED_AFTER} more \
                 counted {:.2} s after, {counted_while_lost} while it was lost; probe: {} commits, longest wait \
                 {:.2} s; rejoined as secondary",
                resumed_in.as_secs_f64(),
                seen.commits,
                seen.longest_wait.as_secs_f64()
            );
            assert!(seen.longest_wait <= Duration::from_secs(10), "a commit waited {:?}", seen.longest_wait);
            let metrics = engine.metrics().await;
            let within_10s = testing::metric(&metrics, "batch_processing_duration_seconds_bucket{le=\"10\"}");
            let all = testing::metric(&metrics, "batch_processing_duration_seconds_count");
            assert_eq!(within_10s, all, "every batch write took at most 10 s");
        }
        Fault::PrimaryLostThenBack => {
            let struck = Instant::now();
            set.kill(primary);
            wait_until("the monitor promotes the secondary", Duration::from_secs(90), async || {
                set.try_primary().is_some_and(|n| n != primary)
            })
            .await;
            let promoted_in = struck.elapsed();
            let promoted = set.primary();
            let resumed_in = resumed(struck, Duration::from_secs(90)).await;
            // While the old primary comes back, a writer aims at it directly, every 50 ms.
            let old = set.node(primary, &dbname);
            let watching = Arc::new(AtomicBool::new(true));
            let watcher = tokio::spawn({
                let (old, watching) = (old.clone(), watching.clone());
                async move {
                    let mut seen = Vec::new();
                    while watching.load(Ordering::Relaxed) {
                        seen.push(direct_write(&old).await);
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    seen
                }
            });
            let back = Instant::now();
            set.restart(primary);
            wait_until("the old primary rejoins", Duration::from_secs(120), async || set.is_settled()).await;
            let rejoined_in = back.elapsed();
            watching.store(false, Ordering::Relaxed);
            let seen = watcher.await.expect("the fencing watcher");
            let refused = seen.iter().filter(|w| **w == DirectWrite::ReadOnly).count();
            println!(
                "{name}: node{primary}'s machine lost at {counted_at_fault} votes; node{promoted} promoted {:.1} s \
                 after the loss, {RESUMED_AFTER} more counted {:.2} s after the loss; node{primary} started again: \
                 a secondary {:.1} s later; {} direct writes tried meanwhile, {refused} refused as read-only, none \
                 accepted",
                promoted_in.as_secs_f64(),
                resumed_in.as_secs_f64(),
                rejoined_in.as_secs_f64(),
                seen.len()
            );
            assert!(!seen.contains(&DirectWrite::Accepted), "the old primary took a write: {seen:?}");
            assert_eq!(set.primary(), promoted);
            assert_eq!(direct_write(&old).await, DirectWrite::ReadOnly, "a write sent to the old primary");
            assert_eq!(direct_write(&set.node(promoted, &dbname)).await, DirectWrite::Accepted);
        }
        Fault::MonitorCut => {
            let probe = CommitProbe::start(target.db.clone()).await;
            let struck = Instant::now();
            set.cut_monitor();
            let resumed_in = resumed(struck, Duration::from_secs(60)).await;
            tokio::time::sleep(HOLD.saturating_sub(struck.elapsed())).await;
            let counted_while_cut = target.counted().await - counted_at_fault;
            // The monitor cannot be asked while cut off: the primary is asked directly.
            let still_primary = direct_write(&set.node(primary, &dbname)).await;
            set.heal();
            let seen = probe.finish().await;
            wait_until("the set settles", Duration::from_secs(60), async || set.is_settled()).await;
            println!(
                "{name}: monitor unreachable for {HOLD:?} from {counted_at_fault} votes; {RESUMED_AFTER} more counted \
                 {:.2} s after the cut, {counted_while_cut} while cut; node{primary} stayed primary; probe: {} \
                 commits, {} failed, longest wait {:.2} s",
                resumed_in.as_secs_f64(),
                seen.commits,
                seen.failures,
                seen.longest_wait.as_secs_f64()
            );
            assert_eq!(still_primary, DirectWrite::Accepted, "the primary kept taking writes while cut off");
            assert_eq!(set.primary(), primary, "no failover without the monitor");
            assert_eq!(seen.failures, 0, "no commit failed while the monitor was unreachable");
        }
        Fault::PrimaryIsolated => {
            let secondary = 3 - primary;
            let old = set.node(primary, &dbname);
            // The keeper counts its partition timeout from the last time it saw its secondary
            // after losing the monitor: it must see the monitor gone first (it retries for a few
            // seconds), then the secondary.
            set.cut_monitor();
            tokio::time::sleep(MONITOR_NOTICED).await;
            let struck = Instant::now();
            set.kill(secondary);
            // From now on, a write sent straight to the primary every 50 ms. Its commits wait for the
            // lost secondary (no monitor can relax that), so none is acknowledged; after the
            // partition timeout the primary demotes itself and refuses them outright.
            let (mut last_accepted, mut first_refused) = (None, None);
            let watched = loop {
                match direct_write(&old).await {
                    DirectWrite::Accepted => last_accepted = Some(struck.elapsed()),
                    DirectWrite::Failed(e) if e == "write timed out" => {}
                    _ => {
                        first_refused.get_or_insert(struck.elapsed());
                    }
                }
                if struck.elapsed() > Duration::from_secs(20) {
                    break struck.elapsed();
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            };
            let counted_when_fenced = target.try_counted().await;
            set.heal();
            set.restart(secondary);
            let healed = Instant::now();
            wait_until("the set settles", Duration::from_secs(120), async || set.is_settled()).await;
            let resumed_in = resumed(healed, Duration::from_secs(90)).await;
            println!(
                "{name}: monitor cut off, {MONITOR_NOTICED:?} later node{secondary}'s machine lost; writes sent to \
                 node{primary} for {watched:?}: last acknowledged {last_accepted:?} after the loss, refused outright \
                 from {first_refused:?} on; {counted_when_fenced:?} counted then; healed: primary node{:?}, \
                 counting again {:.2} s after the heal",
                set.try_primary(),
                resumed_in.as_secs_f64()
            );
            assert!(
                last_accepted.is_none_or(|t| t <= Duration::from_secs(1)),
                "the isolated primary acknowledged writes until {last_accepted:?}"
            );
            assert!(
                first_refused.is_some_and(|t| t <= Duration::from_secs(15)),
                "the isolated primary did not fence itself within 15 s: {first_refused:?}"
            );
        }
    }
    engine.assert_running("after the fault");

    let live = producer.await.expect("the producer task").expect("the producer publishes through the fault");
    let backlog_report = assert_exact(&target, &backlog, Duration::from_secs(180)).await;
    let live_report = assert_exact(&target, &live.expected, Duration::from_secs(180)).await;
    assert_eq!(
        target.scalar("SELECT count(*) FROM vote_audit").await as u64,
        backlog_report.counted + live_report.counted,
        "each counted vote is in the audit table once"
    );
    wait_for_dlq(&target, backlog.invalid_sent + live.expected.invalid_sent, Duration::from_secs(30)).await;
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
    drop(set);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_primarys_postmaster_killed_mid_drain_counting_resumes_within_30_s() {
    let _turn = turn().await;
    survives("ha_primary_kill", Fault::PrimaryPostmasterKilled).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_secondarys_machine_lost_mid_drain_no_commit_waits_over_10_s() {
    let _turn = turn().await;
    survives("ha_secondary_lost", Fault::SecondaryLost).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_old_primary_back_after_failover_rejoins_as_secondary_and_refuses_writes() {
    let _turn = turn().await;
    survives("ha_old_primary", Fault::PrimaryLostThenBack).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_monitor_cut_off_moves_no_primary_and_loses_no_vote() {
    let _turn = turn().await;
    survives("ha_monitor_cut", Fault::MonitorCut).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_primary_cut_off_from_the_monitor_and_its_secondary_fences_itself() {
    let _turn = turn().await;
    survives("ha_isolated", Fault::PrimaryIsolated).await;
}
