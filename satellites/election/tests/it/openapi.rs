//! The services' OpenAPI documents: valid OpenAPI 3.1, and every operation they list reaches a
//! route. (Every answer the other tests get is checked against them by the kit's client.)

use crate::common;

use common::world;
use vote_satellite_kit::contract::{assert_routes_answer, assert_valid_openapi};

#[tokio::test]
async fn the_meeting_service_document_is_valid_openapi_and_every_operation_answers() {
    let w = world().await;
    let m = w.meeting_service().await;
    let (status, document) = w.get(&format!("{}/openapi.json", m.base)).await;
    assert_eq!(status, 200);
    assert_valid_openapi(&document);
    assert_eq!(document["info"]["title"], "meeting-service");
    let paths = document["paths"].as_object().unwrap();
    for path in [
        "/meetings",
        "/meetings/{meeting_id}",
        "/meetings/{meeting_id}/elections",
        "/meetings/{meeting_id}/elections/{agenda_item_id}/start",
        "/meetings/{meeting_id}/elections/{agenda_item_id}/cancel",
        "/metrics",
    ] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    let start = &document["paths"]["/meetings/{meeting_id}/elections/{agenda_item_id}/start"]["post"];
    assert_eq!(start["security"][0]["bearer"][0], "manager:{meeting_id}");
    assert_eq!(document["paths"]["/meetings"]["post"]["security"][0]["bearer"], serde_json::json!([]));
    assert_routes_answer(&m.base).await;
    m.stop().await;
}

#[tokio::test]
async fn the_election_service_document_is_valid_openapi_and_every_operation_answers() {
    let w = world().await;
    let e = w.election_service().await;
    let (status, document) = w.get(&format!("{}/openapi.json", e.base)).await;
    assert_eq!(status, 200);
    assert_valid_openapi(&document);
    assert_eq!(document["info"]["title"], "election-service");
    let paths = document["paths"].as_object().unwrap();
    for path in ["/elections/{election_id}", "/elections/{election_id}/nominations", "/election-page/election.js"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    let nominate = &document["paths"]["/elections/{election_id}/nominations"]["post"];
    assert_eq!(nominate["security"][0]["bearer"], serde_json::json!([]));
    assert!(document["paths"]["/elections/{election_id}"]["get"].get("security").is_none(), "reading is public");
    assert_routes_answer(&e.base).await;
    e.stop().await;
}
