//! Concurrent batch writes against the real database. Two batches in flight (the default) or two
//! engines write at once; when each holds the other's revotes (same citizen and law, another
//! vote_hash), they must not deadlock: one waits for the other's commit and then finds its votes
//! already taken. Each batch inserts in (law_id, citizen_id) order, whatever the hashes.

use std::sync::Arc;
use std::time::Duration;

use time::OffsetDateTime;
use vote_engine::app::migrate;
use vote_engine::decode::{Choice, Vote};
use vote_engine::metrics::Metrics;
use vote_engine::store::{RetryPolicy, Store};
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_batches_holding_each_others_revotes_do_not_deadlock() {
    let db = fresh_database("store").await;
    migrate(&db, &CancellationToken::new()).await.expect("migrations");
    let metrics = Arc::new(Metrics::new(10).expect("metrics"));
    // A deadlock would surface as a retry (after this delay) or, past the attempts, a split.
    let retry = RetryPolicy { initial_delay: Duration::from_millis(200), max_attempts: 3 };
    let store = Store::new(db.pool(4).expect("pool"), retry, metrics.clone());
    // Sorted by vote_hash, batch `yes` would take the citizens in ascending order and batch `no`
    // in descending order, meeting in the middle.
    let yes: Vec<Vote> = (0..CITIZENS).map(|c| vote(format!("a{c:05}"), c, Choice::Oui)).collect();
    let no: Vec<Vote> = (0..CITIZENS).map(|c| vote(format!("b{:05}", CITIZENS - 1 - c), c, Choice::Non)).collect();

    let (first, second) = tokio::join!(store.write(&yes), store.write(&no));

    let conflicts = metrics.aggregation_errors.with_label_values(&["db_conflict"]).get();
    assert_eq!((metrics.db_retries.get(), conflicts), (0, 0), "the two batches deadlocked");
    assert!(first.poisoned.is_empty() && second.poisoned.is_empty());
    // Whichever committed first took each citizen's vote; the other recorded duplicates.
    assert_eq!(first.outcome.counted() + second.outcome.counted(), CITIZENS as i64);
    let client = db.connect().await.expect("connect");
    let counted: i64 = client.query_one("SELECT count(*) FROM vote_audit", &[]).await.unwrap().get(0);
    let duplicates: i64 = client.query_one("SELECT count(*) FROM duplicate_attempts", &[]).await.unwrap().get(0);
    let total: i64 = client
        .query_one("SELECT oui_count + non_count FROM vote_results WHERE law_id = 'law-deadlock'", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!((counted, duplicates, total), (CITIZENS as i64, CITIZENS as i64, CITIZENS as i64));
}
