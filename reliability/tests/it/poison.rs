//! Promise: a batch that fails because of one bad row is split until the bad vote is isolated;
//! only that vote is dead-lettered (`db_rejected`), the rest of the batch commits. The poison is
//! a rule the validator does not know: a CHECK constraint added to the database.

use std::collections::BTreeSet;
use std::time::Duration;

use vote_loadgen::generate::law_id;
use vote_reliability::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_poison_rows_of_large_batches_are_dead_lettered() {
    let _turn = turn().await;
    let target = Target::fresh("poison").await;
    target.migrate().await;
    target
        .client()
        .await
        .batch_execute("ALTER TABLE vote_audit ADD CONSTRAINT no_poison CHECK (citizen_id NOT LIKE 'poison-%')")
        .await
        .expect("add the CHECK constraint");
    // Three runs with poison between them: one alone, then two back to back (same batch). The
    // poison votes name a law of the first run, so counting one would show as a double count.
    let first = generator(20);
    let law = law_id(&first.law_prefix, 0);
    let poison: Vec<Vec<u8>> =
        (1..=3).map(|i| vote_body(&format!("poison-hash-{i}"), &format!("poison-{i}"), &law, "oui")).collect();
    let mut runs = vec![publish_backlog(&target, 12_000, first).await];
    publish_bodies(&target, &poison[..1]).await;
    runs.push(publish_backlog(&target, 12_000, generator(20)).await);
    publish_bodies(&target, &poison[1..]).await;
    runs.push(publish_backlog(&target, 12_000, generator(20)).await);

    let engine = target.engine().args(["--batch-size", "500", "--retry-delay-ms", "10"]).start().await;
    for expected in &runs {
        assert_exact(&target, expected, Duration::from_secs(120)).await;
    }
    let garbage: u64 = runs.iter().map(|e| e.invalid_sent).sum();
    wait_for_dlq(&target, garbage + 3, Duration::from_secs(60)).await;
    let letters = read_queue(&target.amqp(), &target.dlq(), (garbage + 3) as usize).await;
    let (rejected, refused): (Vec<_>, Vec<_>) =
        letters.into_iter().partition(|l| l.reason.as_deref() == Some("db_rejected"));
    let rejected: BTreeSet<Vec<u8>> = rejected.into_iter().map(|l| l.body).collect();
    assert_eq!(rejected, poison.iter().cloned().collect(), "exactly the poison votes are db_rejected");
    refused.iter().for_each(assert_refused_for_its_reason);

    // The poison sat in full batches that had to be split, and nothing else was refused.
    let text = engine.metrics().await;
    let metric = |series: &str| vote_reliability::engine::metric(&text, series).unwrap_or(0.0);
    assert_eq!(metric("votes_rejected_total{reason=\"db_rejected\"}"), 3.0);
    let splits = metric("aggregation_errors_total{error_type=\"db_data\"}");
    assert!(splits >= 2.0, "{splits} refused writes");
    let batches = metric("batch_size_votes_count");
    let mean = metric("batch_size_votes_sum") / batches;
    println!(
        "3 poison votes in {} messages: {splits} refused writes split down to them; {batches} batches of {mean:.0} votes on \
         average",
        runs.iter().map(|e| e.messages_sent).sum::<u64>() + 3
    );
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
}
