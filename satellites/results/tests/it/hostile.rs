//! Hostile requests at every endpoint of the results service (see the kit's `hostile` module):
//! never a 5xx, never an internal error text, and nothing changed in the engine's tables.

use crate::common;

use common::{Database, Service};
use reqwest::Method;
use vote_satellite_kit::hostile::{Endpoint, throw_at};

const SEED: &str = "
    INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, \"timestamp\") VALUES
        ('h-a1', 'c1', 'law-a', 'oui', now()), ('h-b1', 'c2', 'law-b', 'non', now());
    INSERT INTO vote_results (law_id, oui_count, non_count) VALUES ('law-a', 1, 0), ('law-b', 0, 1);
";

const SNAPSHOT: &str = "SELECT (SELECT count(*) FROM vote_audit) || '/' || \
     (SELECT coalesce(string_agg(law_id || '=' || oui_count || ':' || non_count, ',' ORDER BY law_id), '') \
      FROM vote_results) || '/' || (SELECT count(*) FROM duplicate_attempts)";

#[test]
fn hostile_requests_get_4xx_and_change_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let database = runtime.block_on(Database::fresh("results_hostile"));
    runtime.block_on(database.execute(SEED));
    let role = vote_runtime::testing::unique_name("results_ro").to_lowercase();
    let url = database.results_role(&role, "Results-pw-1");
    let service = runtime.block_on(Service::start(&url, &[]));
    // The service is public: the token is one more header to spoil.
    let token = vote_satellite_kit::auth::testing::token("alice", &[]);
    let endpoints = [
        Endpoint::new(Method::GET, "/api/results?limit=10&q=law-", None),
        Endpoint::new(Method::GET, "/api/results/law-a", None),
        Endpoint::new(Method::GET, "/api/receipts/h-a1", None),
        Endpoint::new(Method::GET, "/", None),
    ];
    let snapshot = || {
        runtime.block_on(async { database.db.connect().await.unwrap().query_one(SNAPSHOT, &[]).await.unwrap().get(0) })
    };
    throw_at(&runtime, &service.url(""), &token, &endpoints, 64, snapshot);
    runtime.block_on(service.stop());
    runtime.block_on(database.drop_role(&role));
}
