//! Promise: messages that carry many votes (`vote.batch`) count exactly like one vote per
//! message: each vote is deduplicated on its own, a bad vote inside is dead-lettered alone
//! (its own JSON as the body, its reason in the headers) while the others count, and the
//! message is acked only once all its votes are committed, so a kill -9 mid-drain loses nothing
//! and counts nothing twice.

use std::time::Duration;

use vote_loadgen::publish::{PublishConfig, publish};
use vote_reliability::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_100_votes_count_exactly_through_a_kill_9() {
    let _turn = turn().await;
    let target = Target::fresh("vote_batches").await;
    let config = PublishConfig { votes_per_message: 100, ..PublishConfig::new(&target.queue, 60_000, generator(30)) };
    let report = publish(&target.amqp(), &config).await.expect("publish vote batches");
    let expected = report.expected;
    println!(
        "published {} votes and garbage messages ({} unique votes, {} duplicates, {} garbage alone)",
        expected.messages_sent, expected.total, expected.duplicates_sent, expected.invalid_sent
    );
    // One message mixing a good vote, a bad one and a duplicate of the good one.
    let good = vote_body("batch-good-hash", "batch-citizen", "batch-law", "oui");
    let bad = vote_body("batch-bad-hash", "batch-citizen-2", "batch-law", "maybe");
    let mixed = [&good[..], &bad[..], &good[..]].map(|v| String::from_utf8_lossy(v).into_owned()).join(",");
    publish_bodies(&target, &[format!(r#"{{"event_type":"vote.batch","data":[{mixed}]}}"#).into_bytes()]).await;
    let messages = target.queue_depth().await;
    println!("{messages} AMQP messages in the queue");

    let engine = || target.engine().args(["--batch-size", "500", "--votes-per-message", "100"]);
    let first = engine().start().await;
    wait_until("a third is counted", Duration::from_secs(120), async || target.counted().await >= expected.total / 3)
        .await;
    first.kill9().await;
    let counted_at_kill = target.counted().await;
    assert!(counted_at_kill < expected.total, "the kill landed after the drain ended");
    let second = engine().start().await;
    let report = assert_exact(&target, &expected, Duration::from_secs(180)).await;
    let mixed_law =
        "SELECT coalesce(sum(oui_count + non_count), 0)::bigint FROM vote_results WHERE law_id = 'batch-law'";
    wait_until("the mixed message's good vote is counted", Duration::from_secs(30), async || {
        target.scalar(mixed_law).await == 1
    })
    .await;
    let repeats = target.scalar("SELECT count(*) FROM duplicate_attempts WHERE vote_hash = 'batch-good-hash'").await;
    assert!(repeats >= 1, "the good vote's second copy in the same message is a recorded duplicate");
    println!(
        "killed at {counted_at_kill} votes; counted {} exactly, and the mixed message's one good vote",
        report.counted
    );

    // Dead letters: every garbage message, and the mixed message's bad vote alone (at least
    // once: a message redelivered after the kill is refused again).
    wait_until("every refusal is dead-lettered", Duration::from_secs(60), async || {
        u64::from(target.dlq_depth().await) > expected.invalid_sent
    })
    .await;
    let letters = read_queue(&target.amqp(), &target.dlq(), target.dlq_depth().await as usize).await;
    for letter in &letters {
        assert_refused_for_its_reason(letter);
    }
    assert!(
        letters.iter().any(|l| l.body == bad && l.reason.as_deref() == Some("invalid_choice")),
        "the bad vote is dead-lettered alone, as its own JSON"
    );
    let (status, _, _) = second.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert_eq!(target.queue_depth().await, 0, "every message acked");
    target.delete_queues().await;
}
