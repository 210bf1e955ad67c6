//! Promise: which of a citizen's votes on a law counts is decided by the votes (REVOTE_RULE,
//! default the earliest timestamp), not by the order they arrive in, crashes or engines.
//!
//! Every citizen votes twice on a law: an original, and a revote with the other choice and a
//! timestamp an hour later. The revotes are published and counted first; the engine is killed
//! (kill -9) before the originals are published, and again while it replaces the revotes by
//! them; then two engines consume one queue holding originals and revotes mixed, conflicting on
//! the same rows. Each run must end with every original counted, every revote recorded as not
//! counted, the totals of the originals, and `vote-engine recount` agreeing.

use std::collections::BTreeMap;
use std::time::Duration;

use vote_loadgen::GeneratorConfig;
use vote_loadgen::contract::RevoteRule;
use vote_reliability::*;

/// Citizens, each with an original and a revote on one law.
const CITIZENS: usize = 6_000;
const LAWS: usize = 20;

/// (vote_hash, citizen, law, choice, timestamp) of citizen `i`'s original or revote.
fn vote(i: usize, revote: bool) -> (String, String, String, &'static str, String) {
    let original_oui = !i.is_multiple_of(3);
    let oui = original_oui != revote;
    let minute = i % 60;
    let hour = if revote { 13 } else { 12 };
    (
        format!("{}-{i:05}", if revote { "revote" } else { "original" }),
        format!("citizen-{i:05}"),
        format!("law-{:02}", i % LAWS),
        if oui { "oui" } else { "non" },
        format!("2026-11-14T{hour}:{minute:02}:00Z"),
    )
}

fn body(i: usize, revote: bool) -> Vec<u8> {
    let (hash, citizen, law, choice, timestamp) = vote(i, revote);
    serde_json::to_vec(&serde_json::json!({
        "vote_hash": hash, "citizen_id": citizen, "law_id": law, "choice": choice, "timestamp": timestamp,
    }))
    .expect("a JSON object serializes")
}

/// The originals' totals per law.
fn originals_totals() -> BTreeMap<String, (i64, i64)> {
    let mut totals = BTreeMap::new();
    for i in 0..CITIZENS {
        let (_, _, law, choice, _) = vote(i, false);
        let t: &mut (i64, i64) = totals.entry(law).or_default();
        if choice == "oui" { t.0 += 1 } else { t.1 += 1 }
    }
    totals
}

async fn totals(target: &Target) -> BTreeMap<String, (i64, i64)> {
    let client = target.client().await;
    let rows = client.query("SELECT law_id, oui_count, non_count FROM vote_results", &[]).await.expect("totals");
    rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect()
}

async fn originals_counted(target: &Target) -> i64 {
    target.scalar("SELECT count(*) FROM vote_audit WHERE vote_hash LIKE 'original-%'").await
}

/// The end state every run must reach: the originals counted, nothing else, the revotes recorded.
async fn assert_originals_count(target: &Target) {
    wait_until("every original is counted", Duration::from_secs(180), async || {
        originals_counted(target).await == CITIZENS as i64
    })
    .await;
    assert_eq!(target.scalar("SELECT count(*) FROM vote_audit").await, CITIZENS as i64);
    assert_eq!(totals(target).await, originals_totals(), "the totals are the originals'");
    let revotes_recorded = target
        .scalar(
            "SELECT count(DISTINCT vote_hash) FROM duplicate_attempts \
             WHERE vote_hash LIKE 'revote-%' AND reason = 'citizen_law' AND choice IS NOT NULL",
        )
        .await;
    assert_eq!(revotes_recorded, CITIZENS as i64, "every revote is recorded as not counted");
    let stray = target.scalar("SELECT count(*) FROM duplicate_attempts WHERE vote_hash LIKE 'original-%'").await;
    println!("copies of originals recorded (redeliveries after a kill): {stray}");
    let recount = std::process::Command::new(engine_binary())
        .env_clear()
        .env("DATABASE_URL", &target.db_url)
        .arg("recount")
        .output()
        .expect("run vote-engine recount");
    let printed = String::from_utf8_lossy(&recount.stdout).into_owned();
    assert_eq!(recount.status.code(), Some(0), "{printed}{}", String::from_utf8_lossy(&recount.stderr));
    println!("{}", printed.trim());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revotes_counted_before_their_originals_are_replaced_across_kill_9() {
    let _turn = turn().await;
    let target = Target::fresh("revotes_kill").await;
    let engine = || target.engine().args(["--batch-size", "100"]);
    let revotes: Vec<Vec<u8>> = (0..CITIZENS).map(|i| body(i, true)).collect();
    publish_bodies(&target, &revotes).await;
    let running = engine().start().await;
    wait_until("every revote is counted", Duration::from_secs(120), async || target.counted().await == CITIZENS as u64)
        .await;
    running.kill9().await;

    let originals: Vec<Vec<u8>> = (0..CITIZENS).map(|i| body(i, false)).collect();
    publish_bodies(&target, &originals).await;
    let running = engine().start().await;
    wait_until("the replacements are under way", Duration::from_secs(120), async || {
        originals_counted(&target).await >= (CITIZENS / 3) as i64
    })
    .await;
    let unacked = running.metric("deliveries_unacked").await;
    running.kill9().await;
    let at_kill = originals_counted(&target).await;
    assert!(at_kill < CITIZENS as i64, "the kill landed after the originals were all counted");
    println!("kill -9 with {at_kill} of {CITIZENS} originals counted, {unacked} deliveries unacked");

    let running = engine().start().await;
    assert_originals_count(&target).await;
    println!("votes replaced by the last engine: {}", running.counter("votes_replaced_total").await);
    let (status, _, _) = running.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_engines_on_one_queue_of_originals_and_revotes_count_the_originals() {
    let _turn = turn().await;
    let target = Target::fresh("revotes_two").await;
    // Originals and revotes, each pair in either order, shuffled (a fixed permutation), so the
    // two engines hold each other's conflicting votes in flight.
    let mut bodies: Vec<Vec<u8>> = (0..2 * CITIZENS).map(|k| body(k / 2, (k % 2 == 0) == (k / 2 % 2 == 0))).collect();
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    for i in (1..bodies.len()).rev() {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        bodies.swap(i, (state >> 33) as usize % (i + 1));
    }
    publish_bodies(&target, &bodies).await;
    let engine = || target.engine().args(["--batch-size", "50"]);
    let (a, b) = tokio::join!(engine().start(), engine().start());
    assert_originals_count(&target).await;
    let replaced = a.counter("votes_replaced_total").await + b.counter("votes_replaced_total").await;
    let conflicts = a.counter("aggregation_errors_total{error_type=\"db_conflict\"}").await
        + b.counter("aggregation_errors_total{error_type=\"db_conflict\"}").await;
    println!("{} messages, two engines: {replaced} votes replaced, {conflicts} write conflicts retried", bodies.len());
    for engine in [a, b] {
        let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
        assert!(status.success(), "{status}");
    }
    assert_eq!(target.queue_depth().await, 0);
    target.delete_queues().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_last_counts_the_latest_of_loadgen_conflicting_votes_across_kill_9() {
    let _turn = turn().await;
    let target = Target::fresh("revotes_last").await;
    // Conflicting votes published before and after their vote, a day earlier or later: the
    // expected totals are loadgen's, by the rule `last`, stated in its own code.
    let generator =
        GeneratorConfig { conflict_ratio: 0.1, revote_rule: RevoteRule::Last, citizens: 50_000, ..generator(23) };
    let expected = publish_backlog(&target, 30_000, generator).await;
    assert!(expected.conflicting_sent > 2_000, "{}", expected.conflicting_sent);
    let engine = || target.engine().env("REVOTE_RULE", "last").args(["--batch-size", "100"]);
    let running = engine().start().await;
    wait_until("the drain is under way", Duration::from_secs(120), async || {
        target.counted().await >= expected.total / 2
    })
    .await;
    running.kill9().await;
    let running = engine().start().await;
    assert_exact(&target, &expected, Duration::from_secs(180)).await;
    println!("votes replaced by the last engine: {}", running.counter("votes_replaced_total").await);
    let recorded = target.scalar("SELECT count(*) FROM duplicate_attempts").await as u64;
    assert!(recorded >= expected.duplicates_sent, "{recorded} not counted < {} sent", expected.duplicates_sent);
    let (status, _, _) = running.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
}
