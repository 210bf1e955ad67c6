//! Benchmark (ignored; run on demand): closing a ranked poll of 100,000 ballots over 10
//! options, counted in the closing transaction by instant runoff (one seat) and by STV (three
//! seats). Target: under 2 s in a release build.
//!
//! `cargo test -p vote-satellite-poll --release --test it close_bench -- --ignored --nocapture`

use crate::common;

use std::time::Instant;

use common::spawn_app;

const BALLOTS: usize = 100_000;
const OPTIONS: usize = 10;

/// Rankings of 1 to 10 options, a random order each (a fixed seed): first preferences spread
/// evenly, so the count runs to its last rounds, and short rankings exhaust on the way.
fn rankings() -> Vec<String> {
    let mut seed: u64 = 0x5eed;
    let mut next = move |bound: usize| {
        seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        (seed >> 33) as usize % bound
    };
    (0..BALLOTS)
        .map(|_| {
            let mut order: Vec<usize> = (0..OPTIONS).collect();
            for i in (1..OPTIONS).rev() {
                order.swap(i, next(i + 1));
            }
            let len = 1 + next(OPTIONS);
            order[..len].iter().map(usize::to_string).collect::<Vec<_>>().join(",")
        })
        .collect()
}

#[tokio::test]
#[ignore = "benchmark: run on demand with --ignored"]
async fn close_bench() {
    bench(1).await;
}

#[tokio::test]
#[ignore = "benchmark: run on demand with --ignored"]
async fn close_bench_three_seats() {
    bench(3).await;
}

async fn bench(seats: u32) {
    let app = spawn_app().await;
    let options: Vec<String> = (0..OPTIONS).map(|o| format!("option-{o}")).collect();
    let body =
        serde_json::json!({"vote": {"meeting_id": "m-b", "pollType": "ranked", "options": options, "seats": seats}});
    let (status, created) = app.post("/polls/", &body.to_string()).await;
    assert_eq!(status, 200, "{created}");
    let poll = created["uuid"].as_str().unwrap().to_owned();
    let client = app.db.connect().await.unwrap();
    let voters: Vec<String> = (0..BALLOTS).map(|v| format!("voter-{v}")).collect();
    let inserted = client
        .execute(
            "INSERT INTO poll_ballots (ballot_id, poll_id, voter_id, ranking)
             SELECT gen_random_uuid(), p.id, t.voter, string_to_array(t.ranking, ',')::smallint[]
             FROM polls p, unnest($2::text[], $3::text[]) AS t (voter, ranking)
             WHERE p.uuid = $1",
            &[&uuid::Uuid::parse_str(&poll).unwrap(), &voters, &rankings()],
        )
        .await
        .unwrap();
    assert_eq!(inserted, BALLOTS as u64);
    client.batch_execute("ANALYZE poll_ballots").await.unwrap();

    let started = Instant::now();
    let (status, closed) = app.post(&format!("/polls/{poll}/close"), "").await;
    let elapsed = started.elapsed();
    assert_eq!(status, 200, "{closed}");
    let results = &closed["results"];
    let rounds = results["rounds"].as_array().unwrap().len();
    println!(
        "close_bench: {BALLOTS} ballots, {OPTIONS} options, {seats} seat(s), {}: closed and counted in {:.3} s ({rounds} rounds, elected {}, {} exhausted)",
        results["method"],
        elapsed.as_secs_f64(),
        results["elected"],
        results["exhausted"],
    );
    assert_eq!(results["ballots"].as_u64(), Some(BALLOTS as u64));
    assert!(rounds > 1);
    app.stop().await;
}
