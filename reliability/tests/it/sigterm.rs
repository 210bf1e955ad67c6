//! Promise: SIGTERM stops consuming, flushes, commits, acks, closes and exits 0. Whatever was
//! not committed is still in the queue, whatever was committed is acked: each published message
//! is exactly one of counted, recorded as a duplicate, dead-lettered, or still queued.

use std::time::Duration;

use vote_reliability::*;

const BACKLOG: u64 = 40_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_batch_exits_zero_with_every_message_accounted_for() {
    let _turn = turn().await;
    let target = Target::fresh("sigterm").await;
    let expected = publish_backlog(&target, BACKLOG, generator(50)).await;
    // The accounting below assumes every message reached the queue exactly once.
    assert_eq!(expected.republished, 0, "the broker asked for republishes; rerun");
    let engine = target.engine().args(["--batch-size", "50"]).start().await;
    let point = expected.total * 3 / 10;
    wait_until("the drain reaches the stop point", Duration::from_secs(120), async || target.counted().await >= point)
        .await;
    // Mid-batch: stop while deliveries are held, unacked, and batches commit.
    wait_until("deliveries in flight", Duration::from_secs(10), async || {
        engine.metric("deliveries_unacked").await > 0.0
    })
    .await;
    let (status, took, output) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "SIGTERM must exit 0, got {status}");
    let stopping = output.lines().find(|l| l.contains("stopping: flushing pending votes")).expect("the stop is logged");
    let held = |field: &str| -> u64 {
        let at = stopping.find(&format!("\"{field}\":")).map(|i| i + field.len() + 3);
        at.map_or(0, |i| {
            stopping[i..].chars().take_while(char::is_ascii_digit).collect::<String>().parse().unwrap_or(0)
        })
    };
    let (pending, inflight) = (held("pending"), held("inflight"));
    let committed = target.counted().await;
    assert!(committed < expected.total, "the stop landed after the drain ended");

    // Nothing left unacked-but-committed (it would be redelivered and show up as a duplicate
    // later) and nothing acked-but-uncommitted (it would be missing): the four outcomes of a
    // message add up to exactly what was published. The broker requeues the closed channel's
    // unacked deliveries asynchronously, so wait until the sum is reached.
    let accounted = async || {
        let audit = target.scalar("SELECT count(*) FROM vote_audit").await as u64;
        let duplicates = target.scalar("SELECT count(*) FROM duplicate_attempts").await as u64;
        let dead = u64::from(target.dlq_depth().await);
        let queued = u64::from(target.queue_depth().await);
        (audit, duplicates, dead, queued)
    };
    wait_until("the requeued deliveries are back in the queue", Duration::from_secs(15), async || {
        let (audit, duplicates, dead, queued) = accounted().await;
        audit + duplicates + dead + queued >= expected.messages_sent
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (audit, duplicates, dead, queued) = accounted().await;
    println!(
        "SIGTERM with {pending} votes pending and {inflight} writes in flight: exit 0 in {:.2} s; {audit} counted + {duplicates} duplicates + \
         {dead} dead-lettered + {queued} still queued = {} of {} published",
        took.as_secs_f64(),
        audit + duplicates + dead + queued,
        expected.messages_sent
    );
    assert_eq!(audit, committed, "vote_audit and vote_results disagree");
    assert_eq!(audit + duplicates + dead + queued, expected.messages_sent);

    // A restart finishes the job exactly, and dead-letters each garbage message once.
    let engine = target.engine().args(["--batch-size", "50"]).start().await;
    assert_exact(&target, &expected, Duration::from_secs(120)).await;
    wait_for_dlq(&target, expected.invalid_sent, Duration::from_secs(30)).await;
    let duplicates = target.scalar("SELECT count(*) FROM duplicate_attempts").await as u64;
    assert_eq!(duplicates, expected.duplicates_sent, "a message was processed twice");
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}
