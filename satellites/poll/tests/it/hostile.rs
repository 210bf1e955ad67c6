//! Hostile requests at every endpoint of the VotingService (see the kit's `hostile` module):
//! never a 5xx, never an internal error text, the database unchanged by refused requests.

use crate::common;

use reqwest::Method;
use serde_json::json;
use vote_satellite_kit::hostile::{Endpoint, throw_at};

const SNAPSHOT: &str = "SELECT (SELECT count(*) FROM polls) || '/' || (SELECT count(*) FROM poll_options) || '/' || \
     (SELECT count(*) FROM polls WHERE status = 'closed')";

#[test]
fn hostile_requests_get_4xx_and_change_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let app = runtime.block_on(common::spawn_app());
    let valid = json!({"vote": {"meeting_id": "m", "pollType": "ranked", "options": ["A", "B", "C"]}});
    let (status, poll) = runtime.block_on(app.post("/polls/", &valid.to_string()));
    assert_eq!(status, 200, "{poll}");
    let uuid = poll["uuid"].as_str().unwrap().to_owned();
    let endpoints = [
        Endpoint::new(Method::POST, "/polls/", Some(valid)),
        Endpoint::new(Method::GET, &format!("/polls/{uuid}/"), None),
        Endpoint::new(Method::POST, &format!("/polls/{uuid}/close"), None),
    ];
    let token = vote_satellite_kit::auth::testing::token("alice", &["manager:m"]);
    let snapshot =
        || runtime.block_on(async { app.db.connect().await.unwrap().query_one(SNAPSHOT, &[]).await.unwrap().get(0) });
    throw_at(&runtime, &app.url(""), &token, &endpoints, 64, snapshot);
    runtime.block_on(app.stop());
}
