//! The service's OpenAPI document: valid OpenAPI 3.1, every operation it lists reaches a route,
//! and the answers of each operation, got through the kit's client, are the ones it describes
//! (the other tests of this crate use their own client, which checks nothing).

use crate::common;

use common::{Database, Service};
use serde_json::Value;
use vote_satellite_kit::contract::{Contract, assert_routes_answer, assert_valid_openapi};
use vote_satellite_kit::testing::Http;

const SEED: &str = "
    INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, \"timestamp\") VALUES
        ('h-a1', 'c1', 'law-a', 'oui', now()), ('h-a2', 'c2', 'law-a', 'non', now()),
        ('h-b1', 'c1', 'law-b', 'oui', now());
    INSERT INTO vote_results (law_id, oui_count, non_count) VALUES ('law-a', 1, 1), ('law-b', 1, 0), ('law-0', 0, 0);
    INSERT INTO duplicate_attempts (vote_hash, citizen_id, law_id, reason) VALUES
        ('h-a1', 'c1', 'law-a', 'vote_hash'), ('h-dup', 'c1', 'law-a', 'citizen_law'),
        ('h-again', 'c3', 'law-b', 'vote_hash');
    INSERT INTO recount_runs (started_at, law_id, laws_checked, votes_checked, differences)
        VALUES (now(), 'law-a', 1, 2, 0);
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_is_valid_openapi_and_describes_every_answer() {
    let database = Database::fresh("results_openapi").await;
    database.execute(SEED).await;
    // `assert_routes_answer` sends some fifty writes (each answered 405) from one address: more
    // than the default burst of the kit's rate limit.
    let service = Service::start(&database.url, &["--http-rate-burst", "1000"]).await;
    let http = Http::default();

    let (status, document) = http.get(&service.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert_valid_openapi(&document);
    let paths = document["paths"].as_object().unwrap();
    for path in ["/", "/api/results", "/api/results/{law_id}", "/api/receipts/{vote_hash}", "/api/stream", "/metrics"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    // Public and read-only: no operation asks for a token.
    for (path, item) in paths {
        for (method, operation) in item.as_object().unwrap() {
            assert!(operation.get("security").is_none(), "{method} {path} asks for a token");
        }
    }
    assert_eq!(
        document["paths"]["/api/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"]["type"],
        "string"
    );

    // Every kind of answer, each checked against the document by the client.
    for (path, expected) in [
        ("/api/results", 200),
        ("/api/results?q=law-&limit=1&offset=1", 200),
        ("/api/results?limit=0", 400),
        ("/api/results?limit=1&limit=2", 400),
        ("/api/results/law-a", 200),
        ("/api/results/law-0", 200),
        ("/api/results/law-zzz", 404),
        ("/api/results/%00", 400),
        ("/api/receipts/h-a2", 200),
        ("/api/receipts/h-dup", 200),
        ("/api/receipts/h-again", 200),
        ("/api/receipts/never-seen", 404),
        (&format!("/api/receipts/{}", "x".repeat(129)), 400),
        ("/", 200),
        ("/results.css", 200),
        ("/results.js", 200),
        ("/api/nowhere", 404),
    ] {
        let (status, body) = http.get(&service.url(path)).await;
        assert_eq!(status, expected, "{path}: {body}");
    }
    let (_, results) = http.get(&service.url("/api/results")).await;
    assert_eq!(results["last_recount"]["law_id"], "law-a", "{results}");
    let (_, law) = http.get(&service.url("/api/results/law-0")).await;
    assert_eq!(law["oui_pct"], Value::Null, "{law}");
    let (_, duplicate) = http.get(&service.url("/api/receipts/h-again")).await;
    assert_eq!((duplicate["status"].as_str(), duplicate["reason"].as_str()), (Some("duplicate"), Some("vote_hash")));
    let (status, _) = http.send(reqwest::Method::POST, &service.url("/api/results"), "{}").await;
    assert_eq!(status, 405);

    // The stream never ends, so the client (which reads whole bodies) cannot take it: its
    // answer is checked here, on its headers.
    let stream = reqwest::get(service.url("/api/stream")).await.unwrap();
    let content_type = stream.headers()["content-type"].to_str().unwrap().to_owned();
    Contract::new(document).check("GET", "/api/stream", None, stream.status().as_u16(), &content_type, b"");
    drop(stream);

    assert_routes_answer(&service.url("")).await;
    service.stop().await;
}
