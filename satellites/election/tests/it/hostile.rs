//! Hostile requests at every endpoint of the meeting and election services (see the kit's
//! `hostile` module): never a 5xx, never an internal error text, the database unchanged by
//! refused requests.

use crate::common;

use common::{CALLER, world};
use reqwest::Method;
use serde_json::json;
use vote_satellite_kit::hostile::{Endpoint, throw_at};

const SNAPSHOT: &str = "SELECT (SELECT count(*) FROM meetings) || '/' || (SELECT count(*) FROM agenda_items) || '/' || \
     (SELECT count(*) FROM agenda_items WHERE status <> 'created') || '/' || (SELECT count(*) FROM nominations)";

#[test]
fn hostile_requests_get_4xx_and_change_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let w = runtime.block_on(world());
    let (m, e) = runtime.block_on(async { (w.meeting_service().await, w.election_service().await) });
    let (meeting, item) = runtime.block_on(async {
        let (_, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM"}"#).await;
        let id = meeting["id"].as_str().unwrap().to_owned();
        let (_, item) = w.post(&format!("{}/meetings/{id}/elections", m.base), r#"{"title":"Chair"}"#).await;
        let item = item["id"].as_str().unwrap().to_owned();
        w.get_until(&format!("{}/elections/{item}", e.base), |b| b["status"] == "nominating").await;
        (id, item)
    });
    let token = vote_satellite_kit::auth::testing::token(CALLER, &[]);
    let snapshot =
        || runtime.block_on(async { w.db.connect().await.unwrap().query_one(SNAPSHOT, &[]).await.unwrap().get(0) });
    // Elections first: a start among the meeting cases closes the nominations.
    let elections = [
        Endpoint::new(Method::GET, &format!("/elections/{item}"), None),
        Endpoint::new(Method::POST, &format!("/elections/{item}/nominations"), Some(json!({"nominee": "Alice"}))),
    ];
    throw_at(&runtime, &e.base, &token, &elections, 32, snapshot);
    let meetings = [
        Endpoint::new(Method::POST, "/meetings", Some(json!({"title": "AGM", "created_by": CALLER}))),
        Endpoint::new(Method::GET, &format!("/meetings/{meeting}"), None),
        Endpoint::new(Method::POST, &format!("/meetings/{meeting}/elections"), Some(json!({"title": "Treasurer"}))),
        Endpoint::new(Method::POST, &format!("/meetings/{meeting}/elections/{item}/start"), None),
    ];
    throw_at(&runtime, &m.base, &token, &meetings, 48, snapshot);
    runtime.block_on(async {
        e.stop().await;
        m.stop().await;
    });
}
