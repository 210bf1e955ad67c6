//! Batch writes against the real database.
//!
//! Two batches in flight (the default) or two engines write at once; when each holds the other's
//! revotes (same citizen and law, another vote_hash), they must not deadlock: one waits for the
//! other's commit and then finds its votes already taken. Each batch inserts in
//! (law_id, citizen_id) order, whatever the hashes.
//!
//! A store inserts the votes it has not seen without ON CONFLICT; votes recorded before it
//! started (an engine restart, another engine) must still count once.
//!
//! Which of conflicting votes counts is decided by the votes (REVOTE_RULE), whatever order they
//! arrive in, however often, in whatever batches, with batches of two stores in flight at once:
//! checked against the real database with random deliveries of random vote sets.

#[path = "store/order.rs"]
mod order;

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use vote_engine::app::migrate;
use vote_engine::decode::{Choice, Vote};
use vote_engine::metrics::Metrics;
use vote_engine::store::{Store, WriteRetryPolicy};
use vote_runtime::CancellationToken;
use vote_runtime::testing::fresh_database;

const CITIZENS: usize = 2000;

fn vote(hash: String, citizen: usize, choice: Choice) -> Vote {
    Vote {
        vote_hash: hash,
        citizen_id: format!("citizen-{citizen:05}"),
        law_id: "law-deadlock".to_owned(),
        choice,
        timestamp: OffsetDateTime::now_utc(),
    }
}

/// (votes in vote_audit, duplicates recorded per reason, total in vote_results).
async fn recorded(db: &vote_runtime::postgres::DbTarget) -> (i64, Vec<(String, i64)>, i64) {
    let client = db.connect().await.expect("connect");
    let counted: i64 = client.query_one("SELECT count(*) FROM vote_audit", &[]).await.unwrap().get(0);
    let rows = client
        .query("SELECT reason, count(*) FROM duplicate_attempts GROUP BY reason ORDER BY reason", &[])
        .await
        .unwrap();
    let total: i64 = client
        .query_one("SELECT coalesce(sum(oui_count + non_count), 0)::bigint FROM vote_results", &[])
        .await
        .unwrap()
        .get(0);
    (counted, rows.iter().map(|r| (r.get(0), r.get(1))).collect(), total)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_holding_each_others_revotes_do_not_deadlock() {
    let db = fresh_database("store").await;
    migrate(&db, &CancellationToken::new()).await.expect("migrations");
    let metrics = Arc::new(Metrics::new(10).expect("metrics"));
    // A deadlock would surface as a retry (after this delay) or, past the attempts, a split.
    let retry = WriteRetryPolicy { initial_delay: Duration::from_millis(200), max_attempts: 3 };
    let store = Store::new(db.pool(4).expect("pool"), retry, metrics.clone());
    // Sorted by vote_hash, batch `yes` would take the citizens in ascending order and batch `no`
    // in descending order, meeting in the middle.
    let yes: Vec<Vote> = (0..CITIZENS).map(|c| vote(format!("a{c:05}"), c, Choice::Oui)).collect();
    let no: Vec<Vote> = (0..CITIZENS).map(|c| vote(format!("b{:05}", CITIZENS - 1 - c), c, Choice::Non)).collect();

    let (first, second) = tokio::join!(store.write(&yes), store.write(&no));

    let conflicts = metrics.aggregation_errors.with_label_values(&["db_conflict"]).get();
    assert_eq!((metrics.db_retries.get(), conflicts), (0, 0), "the two batches deadlocked");
    assert!(first.poisoned.is_empty() && second.poisoned.is_empty());
    // Whichever committed first, each citizen's earlier vote (the `yes` one) counts.
    assert_eq!(first.outcome.counted() + second.outcome.counted(), CITIZENS as i64);
    let (counted, duplicates, total) = recorded(&db).await;
    assert_eq!(
        (counted, duplicates, total),
        (CITIZENS as i64, vec![("citizen_law".to_owned(), CITIZENS as i64)], CITIZENS as i64)
    );
    let client = db.connect().await.expect("connect");
    let row = client.query_one("SELECT oui_count, non_count FROM vote_results", &[]).await.unwrap();
    assert_eq!((row.get::<_, i64>(0), row.get::<_, i64>(1)), (CITIZENS as i64, 0));
}

#[tokio::test]
async fn votes_recorded_before_the_store_started_count_once() {
    let db = fresh_database("store").await;
    migrate(&db, &CancellationToken::new()).await.expect("migrations");
    let retry = WriteRetryPolicy { initial_delay: Duration::from_millis(200), max_attempts: 3 };
    let before = Store::new(db.pool(2).expect("pool"), retry, Arc::new(Metrics::new(10).expect("metrics")));
    let first: Vec<Vote> = (0..100).map(|c| vote(format!("h{c:05}"), c, Choice::Oui)).collect();
    assert_eq!(before.write(&first).await.outcome.counted(), 100);

    // A new store (an engine restart, or another engine) knows none of these keys.
    let metrics = Arc::new(Metrics::new(10).expect("metrics"));
    let after = Store::new(db.pool(2).expect("pool"), retry, metrics.clone());
    let mut second: Vec<Vote> = (100..150).map(|c| vote(format!("h{c:05}"), c, Choice::Non)).collect();
    second.push(first[50].clone()); // a redelivery: same vote_hash
    second.push(vote("revote-60".into(), 60, Choice::Non)); // same citizen and law, another hash
    let result = after.write(&second).await;
    assert!(result.poisoned.is_empty(), "a taken key is not the vote's fault");
    assert_eq!(result.outcome.counted(), 50);
    assert_eq!(metrics.plain_insert_fallbacks.get(), 1, "the plain insert met the taken keys");
    assert_eq!((metrics.db_retries.get(), metrics.aggregation_errors.with_label_values(&["db_data"]).get()), (0, 0));
    assert_eq!(recorded(&db).await, (150, vec![("citizen_law".into(), 1), ("vote_hash".into(), 1)], 150));

    // The next batch is written with ON CONFLICT at once (no second failed statement), and its
    // duplicates of the first batch count as duplicates too.
    let third = vec![first[10].clone(), vote("h00200".into(), 200, Choice::Oui)];
    assert_eq!(after.write(&third).await.outcome.counted(), 1);
    assert_eq!(metrics.plain_insert_fallbacks.get(), 1);
    assert_eq!(recorded(&db).await, (151, vec![("citizen_law".into(), 1), ("vote_hash".into(), 2)], 151));
}
