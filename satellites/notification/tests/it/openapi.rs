//! Each service's OpenAPI document: valid OpenAPI 3.1, the key operations and their roles
//! present, and every operation it lists reaches a route. (Every answer the other tests get is
//! checked against it by the kit's client.)

use serde_json::Value;
use vote_satellite_kit::contract::{assert_routes_answer, assert_valid_openapi};
use vote_satellite_kit::testing::{Http, Running};

use crate::common::world;

/// The document `service` serves, checked by the standard validator.
async fn document(service: &Running) -> Value {
    let (status, document) = Http::default().get(&service.url("/openapi.json")).await;
    assert_eq!(status, 200);
    assert_valid_openapi(&document);
    document
}

#[tokio::test]
async fn the_notification_service_document_is_valid_openapi_and_every_operation_answers() {
    let w = world().await;
    let notifications = w.notification_service().await;
    let document = document(&notifications).await;
    assert_eq!(document["info"]["title"], "notification-service");
    let paths = document["paths"].as_object().unwrap();
    for path in ["/notifications", "/readyz", "/metrics"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    assert_eq!(document["paths"]["/notifications"]["get"]["security"][0]["bearer"], serde_json::json!([]));
    assert_routes_answer(&notifications.base).await;
    notifications.stop().await;
}

#[tokio::test]
async fn the_matchmaking_service_document_is_valid_openapi_and_every_operation_answers() {
    let w = world().await;
    let matchmaking = w.matchmaking_service().await;
    let document = document(&matchmaking).await;
    assert_eq!(document["info"]["title"], "matchmaking-service");
    let paths = document["paths"].as_object().unwrap();
    for path in ["/trades/{trade_id}/accept", "/healthz", "/metrics"] {
        assert!(paths.contains_key(path), "{path} is documented");
    }
    let accept = &document["paths"]["/trades/{trade_id}/accept"]["post"];
    assert_eq!(accept["security"][0]["bearer"], serde_json::json!([]), "any signed-in caller");
    assert!(accept["responses"]["202"].is_object(), "{accept}");
    assert_routes_answer(&matchmaking.base).await;
    matchmaking.stop().await;
}
