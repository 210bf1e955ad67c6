//! Order independence against the real database: a random set of votes (resends, revotes with
//! earlier and later timestamps, ties, one vote_hash with different contents) is delivered in
//! random permutations, with random copies, cut into random batches, up to three batches in
//! flight over two stores (two engines). Every delivery must leave the same `vote_results`, the
//! same counted rows in `vote_audit` and the same votes recorded as not counted, and these must
//! equal a reference computed here, independently of the engine's code.

use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use time::OffsetDateTime;
use vote_engine::app::migrate;
use vote_engine::decode::{Choice, Vote};
use vote_engine::metrics::Metrics;
use vote_engine::rule::RevoteRule;
use vote_engine::store::{Store, WriteRetryPolicy};
use vote_runtime::CancellationToken;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing::fresh_database;

/// A vote as the tables hold it: (vote_hash, citizen_id, law_id, choice, unix seconds).
type Row = (String, String, String, String, i64);
/// Everything a delivery leaves: per-law (oui, non); counted rows; recorded rows not identical
/// to a counted vote, with their reason. The reason of a vote whose vote_hash another citizen or
/// law also uses is left out (empty): it is the one it had when recorded or last replaced
/// (docs/decisions/022-counts-that-do-not-depend-on-delivery-order.md).
type Outcome = (BTreeMap<String, (i64, i64)>, BTreeSet<Row>, BTreeSet<(Row, String)>);

fn row(v: &Vote) -> Row {
    (
        v.vote_hash.clone(),
        v.citizen_id.clone(),
        v.law_id.clone(),
        v.choice.as_str().to_owned(),
        v.timestamp.unix_timestamp(),
    )
}

/// The reference: the votes sorted by the rule's key, each counted unless one counted before
/// it has its vote_hash or its citizen and law. Written from the rule's text, not the engine.
fn reference(rule: RevoteRule, votes: &[Vote]) -> Outcome {
    let mut distinct: Vec<Row> = votes.iter().map(row).collect::<BTreeSet<_>>().into_iter().collect();
    distinct.sort_by(|a, b| {
        let time = if rule == RevoteRule::Last { b.4.cmp(&a.4) } else { a.4.cmp(&b.4) };
        let rest =
            |r: &Row| (r.0.clone().into_bytes(), r.2.clone().into_bytes(), r.1.clone().into_bytes(), r.3.clone());
        match time {
            Ordering::Equal => rest(a).cmp(&rest(b)),
            other => other,
        }
    });
    let mut counted: Vec<Row> = Vec::new();
    let mut others = Vec::new();
    for r in distinct {
        if counted.iter().any(|c| c.0 == r.0 || (c.1 == r.1 && c.2 == r.2)) {
            others.push(r);
        } else {
            counted.push(r);
        }
    }
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    for c in &counted {
        let t = totals.entry(c.2.clone()).or_default();
        if c.3 == "oui" { t.0 += 1 } else { t.1 += 1 }
    }
    let recorded = others
        .into_iter()
        .map(|r| {
            let reason = if counted.iter().any(|c| c.0 == r.0) { "vote_hash" } else { "citizen_law" };
            (r, reason.to_owned())
        })
        .collect();
    (totals, counted.into_iter().collect(), recorded)
}

/// The vote_hashes that come with more than one (law_id, citizen_id) pair.
fn shared_hashes(votes: &[Vote]) -> BTreeSet<String> {
    let mut pairs: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for v in votes {
        pairs.entry(&v.vote_hash).or_default().insert((&v.law_id, &v.citizen_id));
    }
    pairs.into_iter().filter(|(_, p)| p.len() > 1).map(|(h, _)| h.to_owned()).collect()
}

fn without_shared_reasons(outcome: Outcome, shared: &BTreeSet<String>) -> Outcome {
    let (totals, counted, recorded) = outcome;
    let recorded =
        recorded.into_iter().map(|(r, reason)| if shared.contains(&r.0) { (r, String::new()) } else { (r, reason) });
    (totals, counted, recorded.collect())
}

async fn outcome(client: &tokio_postgres::Client) -> Outcome {
    let totals = client
        .query("SELECT law_id, oui_count, non_count FROM vote_results WHERE oui_count + non_count > 0", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get(0), (r.get(1), r.get(2))))
        .collect();
    let as_row = |r: &tokio_postgres::Row| -> Row {
        (r.get(0), r.get(1), r.get(2), r.get(3), r.get::<_, OffsetDateTime>(4).unix_timestamp())
    };
    let counted: BTreeSet<Row> = client
        .query("SELECT vote_hash, citizen_id, law_id, choice, \"timestamp\" FROM vote_audit", &[])
        .await
        .unwrap()
        .iter()
        .map(as_row)
        .collect();
    let mut recorded = BTreeSet::new();
    for r in client
        .query("SELECT vote_hash, citizen_id, law_id, choice, \"timestamp\", reason FROM duplicate_attempts", &[])
        .await
        .unwrap()
    {
        let vote = as_row(&r);
        let reason: String = r.get(5);
        if counted.contains(&vote) {
            // Another copy of a counted vote: a resend, whatever the order.
            assert_eq!(reason, "vote_hash", "a copy of a counted vote recorded as {reason}");
        } else {
            recorded.insert((vote, reason));
        }
    }
    (totals, counted, recorded)
}

/// A small world of conflicts: 5 citizens, 2 laws, timestamps over 4 seconds (ties), vote_hashes
/// drawn from a small pool (so one hash may come with different contents), and copies.
fn vote_set() -> impl Strategy<Value = Vec<Vote>> {
    let vote = (0..9u8, 0..5u8, 0..2u8, any::<bool>(), 0..4i64).prop_map(|(h, c, l, oui, t)| Vote {
        vote_hash: format!("h{h}"),
        citizen_id: format!("c{c}"),
        law_id: format!("law-{l}"),
        choice: if oui { Choice::Oui } else { Choice::Non },
        timestamp: OffsetDateTime::from_unix_timestamp(1_700_000_000 + t).unwrap(),
    });
    proptest::collection::vec(vote, 1..16)
}

/// A deterministic generator for one delivery (xorshift64*).
struct Dice(u64);

impl Dice {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) as usize % n.max(1)
    }
}

/// Delivers `votes` once: copies, a permutation, batches of 1 to 4, up to 3 batches in flight
/// spread over the stores.
async fn deliver(stores: &[Store], votes: &[Vote], seed: u64) {
    let mut dice = Dice(seed | 1);
    let mut messages: Vec<Vote> = votes.to_vec();
    for _ in 0..dice.below(votes.len() + 1) {
        messages.push(votes[dice.below(votes.len())].clone());
    }
    for i in (1..messages.len()).rev() {
        messages.swap(i, dice.below(i + 1));
    }
    let mut batches: Vec<Vec<Vote>> = Vec::new();
    while !messages.is_empty() {
        let n = (1 + dice.below(4)).min(messages.len());
        batches.push(messages.drain(..n).collect());
    }
    let mut rest = batches.as_slice();
    while !rest.is_empty() {
        let n = (1 + dice.below(3)).min(rest.len());
        let (now, later) = rest.split_at(n);
        let writes = now.iter().map(|batch| {
            let store = &stores[dice.below(stores.len())];
            async move { store.write(batch).await }
        });
        for result in futures::future::join_all(writes.collect::<Vec<_>>()).await {
            assert!(result.poisoned.is_empty(), "no vote here is refused by the database");
        }
        rest = later;
    }
}

async fn stores(db: &DbTarget, rule: RevoteRule) -> Vec<Store> {
    let retry = WriteRetryPolicy { initial_delay: Duration::from_millis(20), max_attempts: 3 };
    (0..2)
        .map(|_| {
            let metrics = Arc::new(Metrics::new(10).expect("metrics"));
            Store::new(db.pool(3).expect("pool"), retry, metrics).with_rule(rule)
        })
        .collect()
}

#[test]
fn the_outcome_depends_on_the_set_of_votes_only() {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let db = runtime.block_on(async {
        let db = fresh_database("order").await;
        migrate(&db, &CancellationToken::new()).await.expect("migrations");
        db
    });
    let client = runtime.block_on(db.connect()).expect("connect");
    let mut runner = TestRunner::new(Config { cases: 24, ..Config::default() });
    let strategy = (vote_set(), any::<bool>(), proptest::collection::vec(any::<u64>(), 3));
    let recorded = std::sync::atomic::AtomicU64::new(0);
    runner
        .run(&strategy, |(votes, last, seeds)| {
            let rule = if last { RevoteRule::Last } else { RevoteRule::First };
            let shared = shared_hashes(&votes);
            let expected = without_shared_reasons(reference(rule, &votes), &shared);
            runtime.block_on(async {
                for seed in &seeds {
                    client
                        .batch_execute("TRUNCATE vote_audit, vote_results, duplicate_attempts")
                        .await
                        .expect("truncate");
                    // New stores each time: nothing remembered from another delivery.
                    let stores = stores(&db, rule).await;
                    deliver(&stores, &votes, *seed).await;
                    let got = without_shared_reasons(outcome(&client).await, &shared);
                    prop_assert_eq!(&got, &expected, "rule {:?}, delivery seed {}", rule, seed);
                    let not_counted: i64 = client
                        .query_one("SELECT count(*) FROM duplicate_attempts WHERE choice IS NOT NULL", &[])
                        .await
                        .unwrap()
                        .get(0);
                    recorded.fetch_add(not_counted as u64, std::sync::atomic::Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .unwrap();
    assert!(recorded.into_inner() > 0, "the cases recorded votes not counted");
}

#[tokio::test]
async fn an_earlier_vote_arriving_after_a_later_one_replaces_it_in_every_table() {
    let db = fresh_database("order").await;
    migrate(&db, &CancellationToken::new()).await.expect("migrations");
    let store = stores(&db, RevoteRule::First).await.remove(0);
    let at = |t: i64| OffsetDateTime::from_unix_timestamp(1_700_000_000 + t).unwrap();
    let vote = |hash: &str, choice, t| Vote {
        vote_hash: hash.into(),
        citizen_id: "c".into(),
        law_id: "law".into(),
        choice,
        timestamp: at(t),
    };
    let revote = vote("revote", Choice::Non, 20);
    let original = vote("original", Choice::Oui, 10);
    assert_eq!(store.write(std::slice::from_ref(&revote)).await.outcome.counted(), 1);
    let replaced = store.write(std::slice::from_ref(&original)).await.outcome;
    assert_eq!(replaced.counted(), 0, "one vote in, one out");
    assert_eq!(replaced.replaced.len(), 1);
    // The revote again (a redelivery) changes nothing.
    assert_eq!(store.write(std::slice::from_ref(&revote)).await.outcome.counted(), 0);

    let client = db.connect().await.unwrap();
    let (totals, counted, recorded) = outcome(&client).await;
    assert_eq!(totals, BTreeMap::from([("law".to_owned(), (1, 0))]));
    assert_eq!(counted, BTreeSet::from([row(&original)]));
    assert_eq!(recorded, BTreeSet::from([(row(&revote), "citizen_law".to_owned())]));
    let rows: i64 = client.query_one("SELECT count(*) FROM duplicate_attempts", &[]).await.unwrap().get(0);
    assert_eq!(rows, 2, "the displaced revote, and its redelivery");
}
