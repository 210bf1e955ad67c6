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

fn assert_paths(document: &Value, paths: &[&str]) {
    let documented = document["paths"].as_object().expect("paths");
    for path in paths {
        assert!(documented.contains_key(*path), "{path} is documented");
    }
}

#[tokio::test]
async fn the_order_service_document_is_valid_openapi_and_every_operation_answers() {
    let w = world().await;
    let orders = w.order_service().await;
    let document = document(&orders).await;
    assert_eq!(document["info"]["title"], "order-service");
    assert_paths(&document, &["/order", "/orders", "/orders/{order_id}", "/orders/{order_id}/status", "/metrics"]);
    assert_eq!(document["paths"]["/orders/{order_id}/status"]["patch"]["security"][0]["bearer"][0], "order-callback");
    assert_routes_answer(&orders.base).await;
    orders.stop().await;
}

#[tokio::test]
async fn the_inventory_service_document_is_valid_openapi_and_every_operation_answers() {
    let w = world().await;
    let inventory = w.inventory_service().await;
    let document = document(&inventory).await;
    assert_eq!(document["info"]["title"], "inventory-service");
    assert_paths(&document, &["/stock", "/stock/{item}", "/readyz"]);
    assert_eq!(document["paths"]["/stock/{item}"]["put"]["security"][0]["bearer"][0], "inventory-manager");
    assert!(document["paths"]["/stock/{item}"]["get"]["security"].is_null(), "reading the stock is public");
    assert_routes_answer(&inventory.base).await;
    inventory.stop().await;
}

#[tokio::test]
async fn the_order_callback_document_lists_only_the_ops_endpoints() {
    let w = world().await;
    let callback = w.callback("http://127.0.0.1:9", vote_satellite_kit::testing::fast_retries()).await;
    let document = document(&callback).await;
    assert_eq!(document["info"]["title"], "order-callback");
    let paths: Vec<&str> = document["paths"].as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(paths, ["/health", "/healthz", "/metrics", "/openapi.json", "/readyz"]);
    assert_routes_answer(&callback.base).await;
    callback.stop().await;
}
