//! Hostile requests at every endpoint of the order and inventory services (see the kit's
//! `hostile` module): never a 5xx, never an internal error text, the database unchanged by
//! refused requests.

use crate::common;

use common::world;
use reqwest::Method;
use serde_json::json;
use vote_satellite_kit::auth::{INVENTORY_MANAGER_ROLE, ORDER_CALLBACK_ROLE};
use vote_satellite_kit::hostile::{Endpoint, throw_at};

const SNAPSHOT: &str = "SELECT (SELECT count(*) FROM orders) || '/' || \
     (SELECT coalesce(string_agg(status, ',' ORDER BY id), '') FROM orders) || '/' || \
     (SELECT coalesce(string_agg(item || '=' || quantity, ',' ORDER BY item), '') FROM stock)";

#[test]
fn hostile_requests_get_4xx_and_change_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let w = runtime.block_on(world());
    // One service at a time: an order placed by a spoiled but valid request must not change the
    // stock behind a later case's back.
    let orders = runtime.block_on(w.order_service());
    let order = runtime.block_on(w.place(&orders, "Pizza", 1, "S1"));
    let token = vote_satellite_kit::auth::testing::token("S1", &[ORDER_CALLBACK_ROLE, INVENTORY_MANAGER_ROLE]);
    let snapshot =
        || runtime.block_on(async { w.db.connect().await.unwrap().query_one(SNAPSHOT, &[]).await.unwrap().get(0) });
    let order_endpoints = [
        Endpoint::new(Method::POST, "/order", Some(json!({"item": "Pizza", "qty": 1, "student_id": "S1"}))),
        Endpoint::new(Method::GET, "/orders", None),
        Endpoint::new(Method::GET, &format!("/orders/{order}"), None),
        Endpoint::new(Method::PATCH, &format!("/orders/{order}/status"), Some(json!({"status": "PLACED"}))),
    ];
    throw_at(&runtime, &orders.base, &token, &order_endpoints, 48, snapshot);
    runtime.block_on(orders.stop());
    let inventory = runtime.block_on(w.inventory_service());
    let stock_endpoints = [
        Endpoint::new(Method::GET, "/stock", None),
        Endpoint::new(Method::GET, "/stock/Pizza", None),
        Endpoint::new(Method::PUT, "/stock/Pizza", Some(json!({"quantity": 99}))),
    ];
    throw_at(&runtime, &inventory.base, &token, &stock_endpoints, 32, snapshot);
    runtime.block_on(inventory.stop());
}
