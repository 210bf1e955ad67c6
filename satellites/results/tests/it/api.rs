//! The API against a real database, the service running as the read-only role of
//! `sql/roles/results_role.sql`: results in order with pages and prefixes, receipts that never
//! tell the choice, every bad request a 4xx JSON error, the stream's events, the recount shown.

use crate::common;

use std::time::{Duration, Instant};

use common::{Database, Service};
use serde_json::{Value, json};
use tokio_postgres::error::SqlState;

const SEED: &str = "
    INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, \"timestamp\") VALUES
        ('h-a1', 'c1', 'law-a', 'oui', now()), ('h-a2', 'c2', 'law-a', 'non', now()),
        ('h-a3', 'c3', 'law-a', 'oui', now()), ('h-b1', 'c1', 'law-b', 'oui', now()),
        ('h-x1', 'c1', 'bill-x', 'non', now());
    INSERT INTO vote_results (law_id, oui_count, non_count) VALUES
        ('law-a', 2, 1), ('law-b', 1, 0), ('bill-x', 0, 1);
    INSERT INTO duplicate_attempts (vote_hash, citizen_id, law_id, reason) VALUES
        ('h-a1', 'c1', 'law-a', 'vote_hash'), ('h-dup', 'c1', 'law-a', 'citizen_law');
";

async fn seeded(name: &str) -> (Database, String, String) {
    let database = Database::fresh(name).await;
    database.execute(SEED).await;
    let role = vote_runtime::testing::unique_name("results_ro").to_lowercase();
    let url = database.results_role(&role, "Results-pw-1");
    (database, role, url)
}

fn ids(body: &Value) -> Vec<&str> {
    body["laws"].as_array().unwrap().iter().map(|l| l["law_id"].as_str().unwrap()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_receipts_and_bad_requests_as_the_read_only_role() {
    let (database, role, url) = seeded("results_api").await;
    let service = Service::start(&url, &[]).await;

    let (status, body) = service.get("/api/results").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(ids(&body), ["law-a", "bill-x", "law-b"], "most votes first, then by id");
    assert_eq!((body["total_votes"].as_i64(), body["laws_count"].as_i64()), (Some(5), Some(3)));
    assert_eq!((body["total_oui"].as_i64(), body["total_non"].as_i64()), (Some(3), Some(2)));
    let law_a = &body["laws"][0];
    assert_eq!((law_a["oui"].as_i64(), law_a["non"].as_i64(), law_a["total"].as_i64()), (Some(2), Some(1), Some(3)));
    assert_eq!(law_a["oui_pct"].as_f64(), Some(66.67));
    assert!(law_a["updated_at"].as_str().is_some() && body["as_of"].as_str().is_some(), "{body}");
    assert_eq!(body["last_recount"], Value::Null);

    assert_eq!(ids(&service.get("/api/results?limit=1&offset=1").await.1), ["bill-x"]);
    let (_, prefixed) = service.get("/api/results?q=law-&limit=1").await;
    assert_eq!((ids(&prefixed), prefixed["matching"].as_i64()), (vec!["law-a"], Some(2)));
    assert_eq!(ids(&service.get("/api/results?q=nothing").await.1), Vec::<&str>::new());
    assert_eq!(ids(&service.get("/api/results?offset=1000000").await.1), Vec::<&str>::new());

    let (status, one) = service.get("/api/results/law-b").await;
    assert_eq!((status, one["law_id"].as_str(), one["oui"].as_i64()), (200, Some("law-b"), Some(1)));
    let (status, unknown) = service.get("/api/results/law-zzz").await;
    assert_eq!(status, 404, "{unknown}");
    assert!(unknown["error"].is_string(), "{unknown}");

    // Receipts: counted (also when it was resent), duplicate with its reason, unknown.
    for hash in ["h-a2", "h-a1"] {
        let (status, receipt) = service.get(&format!("/api/receipts/{hash}")).await;
        assert_eq!(status, 200, "{receipt}");
        assert_eq!((receipt["status"].as_str(), receipt["law_id"].as_str()), (Some("counted"), Some("law-a")));
        let counted_at = receipt["counted_at"].as_str().unwrap();
        assert!(counted_at.ends_with(":00Z"), "to the minute: {counted_at}");
        let keys: Vec<&String> = receipt.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["counted_at", "law_id", "status", "vote_hash"], "nothing about the choice or the citizen");
    }
    let (status, duplicate) = service.get("/api/receipts/h-dup").await;
    assert_eq!(status, 200, "{duplicate}");
    assert_eq!(
        (duplicate["status"].as_str(), duplicate["reason"].as_str(), duplicate["law_id"].as_str()),
        (Some("duplicate"), Some("citizen_law"), Some("law-a"))
    );
    assert!(duplicate.get("choice").is_none() && duplicate.get("citizen_id").is_none(), "{duplicate}");
    let (status, unknown) = service.get("/api/receipts/never-seen").await;
    assert_eq!((status, unknown), (404, json!({"vote_hash": "never-seen", "status": "unknown"})));

    // Bad requests: 4xx with a JSON error, never a 5xx.
    let long = "x".repeat(129);
    let cases = [
        ("/api/results?limit=0", 400),
        ("/api/results?limit=1001", 400),
        ("/api/results?limit=99999999999999999999999", 400),
        ("/api/results?limit=abc", 400),
        ("/api/results?limit=-1", 400),
        ("/api/results?offset=-1", 400),
        ("/api/results?offset=1e3", 400),
        ("/api/results?offset=1000000001", 400),
        ("/api/results?limit=1&limit=2", 400),
        (&format!("/api/results?q={long}"), 400),
        ("/api/results?q=%00", 400),
        ("/api/results/%00", 400),
        (&format!("/api/results/{long}"), 400),
        ("/api/results/%FF", 400),
        ("/api/receipts/", 404),
        ("/api/receipts/%00", 400),
        ("/api/receipts/a%00b", 400),
        (&format!("/api/receipts/{long}"), 400),
        ("/api/receipts/%C3%28", 400),
        ("/api/nowhere", 404),
    ];
    for (path, expected) in cases {
        let (status, body) = service.get(path).await;
        assert_eq!(status, expected, "{path}: {body}");
        assert!(body["error"].as_str().is_some_and(|e| !e.is_empty()), "{path}: {body}");
    }
    let posted = reqwest::Client::new().post(service.url("/api/results")).send().await.unwrap();
    assert_eq!(posted.status(), 405);

    // The counters, at 0 before anything happened and counting since.
    let metrics = reqwest::get(service.url("/metrics")).await.unwrap().text().await.unwrap();
    for series in [
        "receipt_lookups_total{status=\"counted\"} 2",
        "receipt_lookups_total{status=\"duplicate\"} 1",
        "receipt_lookups_total{status=\"unknown\"} 1",
        // The other refused receipts (NUL, invalid UTF-8) are stopped before the handler.
        "receipt_lookups_total{status=\"invalid\"} 1",
        "results_feed_reads_total{outcome=\"error\"} 0",
        "results_laws 3",
        "results_stream_clients 0",
    ] {
        assert!(metrics.contains(series), "{series} missing:\n{metrics}");
    }
    assert_eq!(reqwest::get(service.url("/healthz")).await.unwrap().status(), 200);

    // The role reads what the service shows and nothing more; it writes nothing.
    let client = database.db.with_user(&role, Some("Results-pw-1")).connect().await.expect("the role logs in");
    for sql in [
        "SELECT choice FROM vote_audit",
        "SELECT citizen_id FROM vote_audit",
        "SELECT citizen_id FROM duplicate_attempts",
        "SELECT * FROM vote_audit",
        "SELECT count(*) FROM vote_engine_schema_history",
    ] {
        let error = client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error}");
    }
    for sql in [
        "CREATE TABLE intruder (id int)",
        "CREATE TEMPORARY TABLE intruder (id int)",
        "UPDATE vote_results SET oui_count = 0",
        "INSERT INTO recount_runs (started_at, laws_checked, votes_checked, differences) VALUES (now(), 0, 0, 0)",
        "DELETE FROM vote_results",
    ] {
        let error = client.batch_execute(sql).await.expect_err(sql);
        let refused = [SqlState::INSUFFICIENT_PRIVILEGE, SqlState::READ_ONLY_SQL_TRANSACTION];
        assert!(error.code().is_some_and(|c| refused.contains(c)), "{sql}: {error}");
    }
    drop(client);

    service.stop().await;
    database.drop_role(&role).await;
}

/// Reads the stream until its text contains `needle`, for at most `within`.
async fn read_until(stream: &mut reqwest::Response, seen: &mut String, needle: &str, within: Duration) {
    let deadline = tokio::time::Instant::now() + within;
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout_at(deadline, stream.chunk())
            .await
            .unwrap_or_else(|_| panic!("{needle:?} not in the stream within {within:?}; got:\n{seen}"))
            .expect("stream readable")
            .expect("stream still open");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_carries_each_change_and_the_recount_within_a_second() {
    let (database, role, url) = seeded("results_stream").await;
    let service = Service::start(&url, &[]).await;
    let mut stream = reqwest::get(service.url("/api/stream")).await.unwrap();
    assert_eq!(stream.status(), 200);
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    read_until(&mut stream, &mut seen, "event: resync\n", Duration::from_secs(5)).await;
    let (_, metrics) = service.get("/metrics").await;
    assert!(metrics.as_str().unwrap().contains("results_stream_clients 1"), "{metrics}");

    // A commit like the engine's: the change arrives as an update event with the law's totals.
    let committed = Instant::now();
    database
        .execute("UPDATE vote_results SET oui_count = oui_count + 4, updated_at = now() WHERE law_id = 'law-b'")
        .await;
    let mut events = String::new();
    read_until(&mut stream, &mut events, "\n\n", Duration::from_secs(1)).await;
    let delay = committed.elapsed();
    let data = events.lines().find_map(|l| l.strip_prefix("data: ")).expect("a data line");
    assert!(events.starts_with("event: update\n"), "{events}");
    let update: Value = serde_json::from_str(data).unwrap();
    assert_eq!(update["laws"].as_array().unwrap().len(), 1, "only the law that changed: {update}");
    assert_eq!((update["laws"][0]["law_id"].as_str(), update["laws"][0]["oui"].as_i64()), (Some("law-b"), Some(5)));
    assert_eq!(update["total_votes"].as_i64(), Some(9));
    println!("update delivered {delay:?} after the commit");

    // A change stamped before the newest time the feed has seen (a transaction that began
    // earlier and committed later) is still delivered.
    database
        .execute("UPDATE vote_results SET non_count = non_count + 1, updated_at = now() - interval '3 seconds' WHERE law_id = 'bill-x'")
        .await;
    let mut late = String::new();
    read_until(&mut stream, &mut late, "\"law_id\":\"bill-x\"", Duration::from_secs(1)).await;
    assert!(late.contains("\"non\":2"), "{late}");

    // A recorded recount reaches the stream and the API.
    database
        .execute(
            "INSERT INTO recount_runs (started_at, laws_checked, votes_checked, differences) VALUES (now(), 3, 5, 1)",
        )
        .await;
    let mut recount = String::new();
    read_until(&mut stream, &mut recount, "\"differences\":1", Duration::from_secs(1)).await;
    let (_, body) = service.get("/api/results").await;
    assert_eq!(body["last_recount"]["agreed"], false, "{body}");
    assert_eq!(body["last_recount"]["law_id"], Value::Null, "{body}");

    // Shutdown ends the open stream instead of waiting for it.
    service.stop().await;
    let rest =
        tokio::time::timeout(Duration::from_secs(2), async { while let Ok(Some(_)) = stream.chunk().await {} }).await;
    assert!(rest.is_ok(), "the stream ended at shutdown");
    database.drop_role(&role).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_and_its_assets_come_from_the_binary() {
    let (database, role, url) = seeded("results_page").await;
    let service = Service::start(&url, &[]).await;
    let page = reqwest::get(service.url("/")).await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-security-policy"].to_str().unwrap().contains("default-src 'self'"));
    let html = page.text().await.unwrap();
    assert!(html.contains("/results.js") && html.contains("/results.css") && !html.contains("http"), "{html}");
    for (path, kind) in [("/results.js", "text/javascript"), ("/results.css", "text/css")] {
        let asset = reqwest::get(service.url(path)).await.unwrap();
        assert_eq!(asset.status(), 200);
        assert!(asset.headers()["content-type"].to_str().unwrap().starts_with(kind));
        assert!(!asset.text().await.unwrap().contains("https://"), "{path} loads nothing from elsewhere");
    }
    service.stop().await;
    database.drop_role(&role).await;
}
