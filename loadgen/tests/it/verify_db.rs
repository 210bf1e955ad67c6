//! The exactness check against a real PostgreSQL holding the engine's schema: exact counts pass,
//! any vote more or less fails, other runs' laws are ignored, and late counts are waited for.

use std::process::Command;
use std::time::Duration;

use tokio_postgres::Client;
use vote_loadgen::generate::Tally;
use vote_loadgen::verify::{WaitOptions, wait_and_verify, wait_and_verify_with};
use vote_loadgen::{Expected, Generator, GeneratorConfig, latency};
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;

const SCHEMA: &str = include_str!("../../../sql/engine/V1__vote_schema.sql");

async fn engine_database(name: &str) -> (DbTarget, Client) {
    let db = testing::fresh_database(name).await;
    let client = db.connect().await.expect("connect to the fresh database");
    client.batch_execute(SCHEMA).await.expect("engine schema");
    (db, client)
}

/// Expected totals of 2000 generated messages of a run with `prefix`.
fn expected(prefix: &str) -> Expected {
    let config = GeneratorConfig {
        law_prefix: prefix.to_owned(),
        laws: 12,
        citizens: 1_000,
        seed: 21,
        ..GeneratorConfig::default()
    };
    let mut generator = Generator::new(config).expect("generator");
    let mut messages = Vec::new();
    generator.fill(2_000, &mut messages);
    let mut tally = Tally::default();
    messages.iter().for_each(|m| tally.record(m));
    generator.expected(&tally, "votes")
}

async fn store(client: &Client, expected: &Expected) {
    for (law, totals) in &expected.laws {
        client
            .execute(
                "INSERT INTO vote_results (law_id, oui_count, non_count) VALUES ($1, $2, $3)",
                &[law, &(totals.oui as i64), &(totals.non as i64)],
            )
            .await
            .expect("insert vote_results");
    }
}

fn quick(timeout_ms: u64) -> WaitOptions {
    WaitOptions {
        timeout: Duration::from_millis(timeout_ms),
        settle: Duration::from_millis(200),
        poll: Duration::from_millis(50),
    }
}

fn first_law(expected: &Expected) -> String {
    expected.laws.keys().next().expect("some law has votes").clone()
}

#[tokio::test]
async fn exact_counts_verify_and_other_runs_are_ignored() {
    let (db, client) = engine_database("loadgen_verify_exact").await;
    let run = expected("law-aaaaaa-");
    store(&client, &run).await;
    // An earlier run in the same database, with counts of its own.
    store(&client, &expected("law-bbbbbb-")).await;
    let report = wait_and_verify(&db, &run, Duration::from_secs(10)).await.expect("verify");
    assert!(report.is_exact(), "{report}");
    assert_eq!(report.counted, run.total);
    assert!(!report.timed_out);
}

#[tokio::test]
async fn one_vote_more_or_less_is_reported() {
    let (_db, client) = engine_database("loadgen_verify_off_by_one").await;
    let run = expected("law-cccccc-");
    store(&client, &run).await;
    let law = first_law(&run);

    client.execute("UPDATE vote_results SET oui_count = oui_count + 1 WHERE law_id = $1", &[&law]).await.unwrap();
    let report = wait_and_verify_with(&client, &run, &quick(5_000), &mut |_| {}).await.expect("verify");
    assert!(!report.is_exact());
    assert_eq!((report.lost, report.double_counted, report.wrongly_counted), (0, 1, 0), "{report}");
    assert!(!report.timed_out, "above the total and stable: no need to wait for the timeout");

    client.execute("UPDATE vote_results SET oui_count = oui_count - 2 WHERE law_id = $1", &[&law]).await.unwrap();
    let report = wait_and_verify_with(&client, &run, &quick(600), &mut |_| {}).await.expect("verify");
    assert_eq!((report.lost, report.double_counted, report.wrongly_counted), (1, 0, 0), "{report}");
    assert!(report.timed_out, "below the total: waits until the timeout");
    assert_eq!(report.reached_seconds, None);
    assert_eq!(report.counted + 1, run.total);
}

#[tokio::test]
async fn counts_arriving_during_the_wait_are_waited_for() {
    let (db, client) = engine_database("loadgen_verify_late").await;
    let run = expected("law-dddddd-");
    let late = run.clone();
    let writer = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(700)).await;
        let client = db.connect().await.expect("connect");
        store(&client, &late).await;
    });
    let mut seen = Vec::new();
    let report = wait_and_verify_with(&client, &run, &quick(10_000), &mut |total| seen.push(total)).await.unwrap();
    writer.await.unwrap();
    assert!(report.is_exact(), "{report}");
    assert!(report.waited_seconds >= 0.7, "waited {}", report.waited_seconds);
    let reached = report.reached_seconds.expect("the total was reached");
    assert!(reached >= 0.7 && reached <= report.waited_seconds - 0.2, "reached {reached}, then settled 200 ms");
    assert_eq!(seen.first(), Some(&0));
}

#[tokio::test]
async fn a_database_without_the_schema_yet_counts_as_empty() {
    let db = testing::fresh_database("loadgen_verify_no_schema").await;
    let client = db.connect().await.expect("connect");
    let run = expected("law-eeeeee-");
    let report = wait_and_verify_with(&client, &run, &quick(300), &mut |_| {}).await.expect("verify");
    assert!(report.timed_out);
    assert_eq!((report.counted, report.lost), (0, run.total));
}

#[tokio::test]
async fn end_to_end_latency_reads_the_runs_audit_rows() {
    let (_db, client) = engine_database("loadgen_verify_latency").await;
    let run = expected("law-ffffff-");
    let other = expected("law-gggggg-");
    for (prefix, lag_ms, rows) in [(&run.law_prefix, 5, 40), (&other.law_prefix, 900, 10)] {
        for i in 0..rows {
            client
                .execute(
                    "INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, \"timestamp\") \
                     VALUES ($1, $2, $3, 'oui', now() - make_interval(secs => $4))",
                    &[
                        &format!("{prefix}{i}"),
                        &format!("citizen-{i}"),
                        &format!("{prefix}00001"),
                        &(lag_ms as f64 / 1000.0),
                    ],
                )
                .await
                .expect("insert vote_audit");
        }
    }
    let latency = latency::end_to_end(&client, &run, &latency::ConfirmTimes::default()).await.expect("latency");
    let summary = latency::LatencySummary::of(&latency.total);
    assert_eq!(summary.count, 40);
    assert!(summary.p50_us >= 5_000 && summary.max_us < 900_000, "{summary:?}");
    assert!(latency.after_confirm.is_empty(), "no confirm times, no split");
}

#[tokio::test]
async fn end_to_end_latency_is_split_at_the_confirm_of_each_votes_message() {
    let (_db, client) = engine_database("loadgen_verify_latency_split").await;
    let run = expected("law-jjjjjj-");
    // Ten votes published a microsecond apart, each written 10 ms after its publish time.
    let base_us: i64 = 1_796_000_000_000_000;
    for i in 0..10 {
        client
            .execute(
                "INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, \"timestamp\", recorded_at) \
                 VALUES ($1, $2, $3, 'oui', to_timestamp(0) + $4::int8 * interval '1 us', \
                         to_timestamp(0) + $4::int8 * interval '1 us' + interval '10 ms')",
                &[&format!("split-{i}"), &format!("citizen-{i}"), &first_law(&run), &(base_us + i)],
            )
            .await
            .expect("insert vote_audit");
    }
    // The broker confirmed the first six messages 4 ms after their send; the others' confirms
    // are unknown (a message published again, say): they count in the total only.
    let confirms = latency::ConfirmTimes::new((0..6).map(|i| (base_us + i, 4_000)).collect());
    let latency = latency::end_to_end(&client, &run, &confirms).await.expect("latency");
    let (total, after) =
        (latency::LatencySummary::of(&latency.total), latency::LatencySummary::of(&latency.after_confirm));
    assert_eq!((total.count, after.count), (10, 6));
    assert!((9_990..=10_010).contains(&total.p50_us), "{total:?}");
    assert!((5_990..=6_010).contains(&after.p50_us) && after.max_us <= 6_010, "{after:?}");
}

#[tokio::test]
async fn the_verify_command_exits_0_when_exact_1_when_not_2_on_bad_settings() {
    let (db, client) = engine_database("loadgen_verify_cli").await;
    let run = expected("law-hhhhhh-");
    store(&client, &run).await;
    let file = std::env::temp_dir().join(format!("{}.json", testing::unique_name("loadgen_expected")));
    run.write(&file).expect("write expected file");
    let server = testing::database_url();
    let database_url = format!("{}/{}", server.rsplit_once('/').expect("a database URL has a path").0, db.dbname());
    let verify = |database_url: &str| {
        Command::new(env!("CARGO_BIN_EXE_loadgen"))
            .args(["verify", "--timeout", "2s", "--settle", "100ms", "--json", "--expected"])
            .arg(&file)
            .args(["--database-url", database_url])
            .output()
            .expect("run loadgen")
    };
    let out = verify(&database_url);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["exact"], true);
    assert_eq!(json["verify"]["counted"], run.total);

    let law = first_law(&run);
    client.execute("UPDATE vote_results SET non_count = non_count + 1 WHERE law_id = $1", &[&law]).await.unwrap();
    let out = verify(&database_url);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["verify"]["double_counted"], 1);

    assert_eq!(verify("postgres://nobody@127.0.0.1:notaport/x").status.code(), Some(2));
    let _ = std::fs::remove_file(&file);
}

#[tokio::test]
async fn a_database_error_other_than_a_missing_table_is_reported_not_read_as_zero() {
    let db = testing::fresh_database("loadgen_verify_bad_schema").await;
    let client = db.connect().await.expect("connect");
    client.batch_execute("CREATE TABLE vote_results (law_id text PRIMARY KEY)").await.expect("a table without counts");
    let run = expected("law-kkkkkk-");
    assert!(
        vote_loadgen::verify::counted_total(&client, &run.law_prefix).await.is_err(),
        "no count columns: an error, not 0"
    );
    assert!(
        vote_loadgen::verify::fetch_actual(&client, &run.law_prefix).await.is_err(),
        "no count columns: an error, not no laws"
    );
    assert!(wait_and_verify_with(&client, &run, &quick(300), &mut |_| {}).await.is_err());
}

#[tokio::test]
async fn the_wait_ends_at_its_timeout_even_between_two_polls() {
    let db = testing::fresh_database("loadgen_verify_timeout").await;
    let client = db.connect().await.expect("connect");
    let run = expected("law-llllll-");
    // Polls at 0 and 0.9 s; the next one is due at the timeout (1 s), not a poll later (1.8 s).
    let options = WaitOptions {
        timeout: Duration::from_secs(1),
        settle: Duration::from_millis(200),
        poll: Duration::from_millis(900),
    };
    let report = wait_and_verify_with(&client, &run, &options, &mut |_| {}).await.expect("verify");
    assert!(report.timed_out);
    assert!((1.0..1.5).contains(&report.waited_seconds), "waited {} s", report.waited_seconds);
}
