//! The engine end to end against the real RabbitMQ and PostgreSQL: exact counts, dedup,
//! dead-lettering, batching latency, poison isolation, failures and shutdown.

use crate::common;

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use common::*;
use vote_runtime::testing::TcpProxy;

/// A mixed stream and what the engine must make of it.
struct Stream {
    bodies: Vec<Vec<u8>>,
    expected: BTreeMap<String, (i64, i64)>,
    duplicates: usize,
    garbage_by_reason: HashMap<&'static str, usize>,
}

/// Valid votes, both kinds of duplicates, envelopes and every kind of garbage.
fn mixed_stream(laws: usize, votes: usize) -> Stream {
    let mut bodies = Vec::new();
    let mut expected: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut duplicates = 0;
    for i in 0..votes {
        let law = format!("law-{:03}", i % laws);
        let choice = if i % 3 == 0 { "non" } else { "oui" };
        let (hash, citizen) = (format!("h{i}"), format!("citizen-{i}"));
        bodies.push(if i % 10 == 0 {
            envelope(&hash, &citizen, &law, choice)
        } else {
            vote(&hash, &citizen, &law, choice)
        });
        let e = expected.entry(law.clone()).or_default();
        if choice == "oui" {
            e.0 += 1
        } else {
            e.1 += 1
        }
        if i % 7 == 0 {
            // Same vote again (a resend): same hash.
            bodies.push(vote(&hash, &citizen, &law, choice));
            duplicates += 1;
        }
        if i % 11 == 0 {
            // The same citizen votes again on the same law with another vote.
            bodies.push(vote(&format!("{hash}-again"), &citizen, &law, if choice == "oui" { "non" } else { "oui" }));
            duplicates += 1;
        }
    }
    let long = "x".repeat(129);
    let garbage: Vec<(&'static str, Vec<u8>)> = vec![
        ("invalid_json", b"{\"vote_hash\": ".to_vec()),
        ("invalid_utf8", vec![b'{', 0xc3, 0x28, b'}']),
        ("nul_byte", vote("nul\\u0000", "c", "law-000", "oui")),
        (
            "wrong_type",
            br#"{"vote_hash":1,"citizen_id":"c","law_id":"l","choice":"oui","timestamp":"2025-11-14T12:00:00Z"}"#
                .to_vec(),
        ),
        (
            "missing_field",
            br#"{"vote_hash":"m1","citizen_id":"c","choice":"oui","timestamp":"2025-11-14T12:00:00Z"}"#.to_vec(),
        ),
        ("empty_field", vote("", "c", "law-000", "oui")),
        ("invalid_choice", vote("bad-choice", "c", "law-000", "peut-etre")),
        ("field_too_long", vote(&long, "c", "law-000", "oui")),
        (
            "invalid_timestamp",
            String::from_utf8(vote("bad-ts", "c", "law-000", "oui"))
                .unwrap()
                .replace("2025-11-14T12:00:00.123456Z", "14/11/2025")
                .into_bytes(),
        ),
        ("body_too_large", vec![b' '; 1024 * 1024]),
        ("unknown_event_type", br#"{"event_type":"meeting.created","data":{}}"#.to_vec()),
    ];
    let mut reasons = HashMap::new();
    // Spread the garbage through the stream so it lands inside batches of valid votes.
    let step = bodies.len() / (garbage.len() + 1);
    for (k, (reason, body)) in garbage.into_iter().enumerate() {
        bodies.insert((k + 1) * step, body);
        *reasons.entry(reason).or_default() += 1;
    }
    Stream { bodies, expected, duplicates, garbage_by_reason: reasons }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counts_exactly_with_duplicates_envelopes_and_garbage() {
    let target = Target::fresh("exact").await;
    let engine = Engine::start(&target, &[]).await;
    let Stream { bodies, expected, duplicates, garbage_by_reason: reasons } = mixed_stream(7, 3000);
    publish(&target, &bodies).await;
    let total: i64 = expected.values().map(|(o, n)| o + n).sum();
    wait_for_total(&target.db, total, Duration::from_secs(60)).await;
    assert_eq!(totals(&target.db).await, expected);

    // Every garbage message is in the DLQ, with its reason, and nothing else is.
    let garbage = reasons.values().sum();
    let dead = read_queue(&target, &target.dlq(), garbage).await;
    let mut seen: HashMap<String, usize> = HashMap::new();
    for (reason, _) in &dead {
        *seen.entry(reason.clone().expect("x-reject-reason header")).or_default() += 1;
    }
    let want: HashMap<String, usize> = reasons.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert_eq!(seen, want);

    // Duplicates were recorded, not counted; the audit table holds exactly the counted votes.
    wait_until(|| async { scalar(&target.db, "SELECT count(*) FROM duplicate_attempts").await == duplicates as i64 })
        .await;
    assert_eq!(scalar(&target.db, "SELECT count(*) FROM vote_audit").await, total);
    assert_eq!(
        scalar(&target.db, "SELECT count(*) FROM duplicate_attempts WHERE reason = 'citizen_law'").await,
        (0..3000).filter(|i| i % 11 == 0).count() as i64
    );

    // /metrics agrees with the database, and counted the rejects by reason.
    let text = engine.metrics().await;
    for (law, (oui, non)) in &expected {
        assert_eq!(
            metric(&text, &format!("current_vote_totals{{choice=\"oui\",law_id=\"{law}\"}}")),
            Some(*oui as f64)
        );
        assert_eq!(
            metric(&text, &format!("current_vote_totals{{choice=\"non\",law_id=\"{law}\"}}")),
            Some(*non as f64)
        );
    }
    assert_eq!(metric(&text, "votes_rejected_total{reason=\"invalid_json\"}"), Some(1.0));
    assert_eq!(
        metric(&text, "duplicate_votes_total{reason=\"vote_hash\"}").unwrap()
            + metric(&text, "duplicate_votes_total{reason=\"citizen_law\"}").unwrap(),
        duplicates as f64
    );
    engine.stop().await;
    assert_eq!(vote_mq::admin::message_count(&target.amqp(), &target.queue).await.unwrap(), 0);

    // After a restart the gauge starts from the database, not from zero.
    let engine = Engine::start(&target, &[]).await;
    let text = engine.metrics().await;
    let (law, (oui, _)) = expected.iter().next().unwrap();
    assert_eq!(metric(&text, &format!("current_vote_totals{{choice=\"oui\",law_id=\"{law}\"}}")), Some(*oui as f64));
    engine.stop().await;
}

async fn wait_until<F, Fut>(mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..200 {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("condition not met within 10 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivered_and_resent_votes_count_once() {
    let target = Target::fresh("redeliver").await;
    let engine = Engine::start(&target, &[]).await;
    publish(&target, &[vote("a1", "alice", "law-1", "oui")]).await;
    wait_for_total(&target.db, 1, Duration::from_secs(10)).await;
    // The same message again in a later batch, and a second vote of the same citizen.
    publish(&target, &[vote("a1", "alice", "law-1", "oui"), vote("a2", "alice", "law-1", "non")]).await;
    wait_until(|| async { scalar(&target.db, "SELECT count(*) FROM duplicate_attempts").await == 2 }).await;
    assert_eq!(totals(&target.db).await, BTreeMap::from([("law-1".to_owned(), (1, 0))]));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_vote_does_not_wait_for_the_batch_timeout() {
    let target = Target::fresh("linger").await;
    let engine = Engine::start(&target, &["--batch-size", "1000", "--batch-timeout-ms", "30000"]).await;
    let started = Instant::now();
    publish(&target, &[vote("solo", "bob", "law-1", "non")]).await;
    wait_for_total(&target.db, 1, Duration::from_secs(10)).await;
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?} with a 30 s timeout", started.elapsed());
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_row_is_isolated_and_the_rest_commits() {
    let target = Target::fresh("poison").await;
    let engine = Engine::start(&target, &["--batch-size", "500", "--retry-delay-ms", "10"]).await;
    // A rule the validator does not know: the database refuses this one citizen's vote.
    let client = target.db.connect().await.unwrap();
    client
        .batch_execute("ALTER TABLE vote_audit ADD CONSTRAINT no_mallory CHECK (citizen_id <> 'mallory')")
        .await
        .unwrap();
    let mut bodies: Vec<Vec<u8>> = (0..400).map(|i| vote(&format!("p{i}"), &format!("c{i}"), "law-1", "oui")).collect();
    bodies.insert(200, vote("evil", "mallory", "law-1", "oui"));
    publish(&target, &bodies).await;
    wait_for_total(&target.db, 400, Duration::from_secs(30)).await;
    let dead = read_queue(&target, &target.dlq(), 1).await;
    assert_eq!(dead[0].0.as_deref(), Some("db_rejected"));
    assert!(String::from_utf8_lossy(&dead[0].1).contains("mallory"));
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_refusing_every_write_holds_the_votes_and_dead_letters_none() {
    let target = Target::fresh("setup_outage").await;
    let engine =
        Engine::start(&target, &["--batch-size", "100", "--retry-delay-ms", "10", "--max-retry-attempts", "2"]).await;
    // An operator mistake no vote can fix: the audit table is gone (42P01 on every write).
    let client = target.db.connect().await.unwrap();
    client.batch_execute("ALTER TABLE vote_audit RENAME TO vote_audit_away").await.unwrap();
    let bodies: Vec<Vec<u8>> = (0..300).map(|i| vote(&format!("s{i}"), &format!("c{i}"), "law-1", "oui")).collect();
    publish(&target, &bodies).await;
    let refused = r#"aggregation_errors_total{error_type="db_setup"}"#;
    let started = Instant::now();
    while metric(&engine.metrics().await, refused).unwrap_or(0.0) < 5.0 {
        assert!(started.elapsed() < Duration::from_secs(20), "the engine never tried to write");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Well past MAX_RETRY_ATTEMPTS: nothing split down to single votes and dead-lettered.
    read_queue(&target, &target.dlq(), 0).await;
    assert_eq!(metric(&engine.metrics().await, r#"aggregation_errors_total{error_type="db_data"}"#), Some(0.0));

    client.batch_execute("ALTER TABLE vote_audit_away RENAME TO vote_audit").await.unwrap();
    wait_for_total(&target.db, 300, Duration::from_secs(30)).await;
    read_queue(&target, &target.dlq(), 0).await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn survives_database_connections_being_killed() {
    let target = Target::fresh("dbkill").await;
    let engine = Engine::start(&target, &["--batch-size", "50", "--retry-delay-ms", "50"]).await;
    let bodies: Vec<Vec<u8>> =
        (0..5000).map(|i| vote(&format!("k{i}"), &format!("c{i}"), &format!("law-{}", i % 5), "oui")).collect();
    let killer = {
        let db = target.db.clone();
        tokio::spawn(async move {
            let admin = db.with_dbname("postgres").connect().await.unwrap();
            for _ in 0..10 {
                tokio::time::sleep(Duration::from_millis(150)).await;
                admin
                    .execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                        &[&db.dbname()],
                    )
                    .await
                    .unwrap();
            }
        })
    };
    publish(&target, &bodies).await;
    killer.await.unwrap();
    wait_for_total(&target.db, 5000, Duration::from_secs(60)).await;
    assert_eq!(scalar(&target.db, "SELECT count(*) FROM vote_audit").await, 5000);
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnects_after_the_broker_connection_is_cut() {
    let mut target = Target::fresh("brokercut").await;
    let proxy = TcpProxy::start("127.0.0.1:5672").await;
    let direct = target.clone();
    target.amqp_url = format!("amqp://guest:guest@127.0.0.1:{}/%2f", proxy.port());
    let engine = Engine::start(&target, &["--batch-size", "50"]).await;
    let bodies: Vec<Vec<u8>> = (0..4000).map(|i| vote(&format!("b{i}"), &format!("c{i}"), "law-1", "non")).collect();
    // Publish directly (not through the proxy) while the engine's link is cut twice.
    let publishing = tokio::spawn(async move { publish(&direct, &bodies).await });
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        proxy.cut();
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.restore();
    }
    publishing.await.unwrap();
    wait_for_total(&target.db, 4000, Duration::from_secs(60)).await;
    engine.wait_ready().await;
    let text = engine.metrics().await;
    assert!(metric(&text, "broker_reconnects_total").unwrap() >= 1.0, "{text}");
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_flushes_commits_acks_and_exits_zero() {
    let target = Target::fresh("sigterm").await;
    // Seed the schema and queue first so the backlog exists before the binary starts.
    Engine::start(&target, &[]).await.stop().await;
    let bodies: Vec<Vec<u8>> = (0..3000).map(|i| vote(&format!("s{i}"), &format!("c{i}"), "law-1", "oui")).collect();
    publish(&target, &bodies).await;
    let args = target.args(&["--batch-size", "100"]);
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_vote-engine"))
        .args(&args[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Let it get going, then stop it mid-drain.
    let sql = "SELECT coalesce(sum(oui_count + non_count), 0)::bigint FROM vote_results";
    wait_until(|| async { scalar(&target.db, sql).await > 0 }).await;
    let stopped_at = Instant::now();
    let kill = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(kill.success());
    let status = tokio::task::spawn_blocking(move || child.wait()).await.unwrap().unwrap();
    assert!(status.success(), "exit status {status:?}");
    assert!(stopped_at.elapsed() < Duration::from_secs(5), "took {:?} to stop", stopped_at.elapsed());
    // Whatever was not committed is still in the queue: committed + ready == published.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let committed = scalar(&target.db, sql).await;
    let ready = vote_mq::admin::message_count(&target.amqp(), &target.queue).await.unwrap() as i64;
    assert_eq!(committed + ready, 3000, "committed {committed} + still queued {ready}");
    // And a restart finishes the job exactly.
    let engine = Engine::start(&target, &[]).await;
    wait_for_total(&target.db, 3000, Duration::from_secs(30)).await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_of_another_type_stops_the_engine_with_what_to_do_and_classic_can_be_chosen() {
    let target = Target::fresh("queue_type").await;
    // An install from before quorum queues: the vote queue exists as a classic queue.
    let classic = vote_mq::QueueTopology::new(&target.queue, "votes.dlx", &target.dlq());
    let declare = vote_mq::SubscriptionConfig { topology: classic, bindings: None, prefetch: 1, name: "test".into() };
    vote_mq::declare_topology(&target.amqp(), &declare).await.expect("RabbitMQ must be running");
    publish(&target, &[vote("typed", "carol", "law-1", "oui")]).await;

    let (_, settings) = vote_engine::config::parse_cli(target.args(&[])).unwrap_or_else(|e| panic!("{}", e.message));
    let stop = vote_runtime::CancellationToken::new();
    let app = vote_engine::Application::build(settings, &stop).await.expect("engine builds");
    let outcome = tokio::time::timeout(Duration::from_secs(10), app.run_until_stopped(stop)).await;
    let error = outcome.expect("the engine gives up at once instead of retrying").expect_err("a type mismatch");
    let message = format!("{error:#}");
    assert!(message.contains(&target.queue) && message.contains("RABBITMQ_QUEUE_TYPE"), "{message}");
    assert!(!message.contains('\n'), "{message}");

    // Told the queue's type, the engine consumes it.
    let engine = Engine::start(&target, &["--rabbitmq-queue-type", "classic"]).await;
    wait_for_total(&target.db, 1, Duration::from_secs(10)).await;
    engine.stop().await;
}
