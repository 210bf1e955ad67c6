//! Hostile requests at every endpoint of the notification and matchmaking services (see the
//! kit's `hostile` module): never a 5xx, never an internal error text, the database unchanged
//! by refused requests.

use crate::common;

use common::world;
use reqwest::Method;
use serde_json::json;
use vote_satellite_kit::hostile::{Endpoint, throw_at};

#[test]
fn hostile_requests_get_4xx_and_change_nothing() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let w = runtime.block_on(world());
    let snapshot = || runtime.block_on(w.stored()).to_string();
    // One service at a time: a notification published by a spoiled but valid accept must not be
    // stored behind a later case's back.
    let notifications = runtime.block_on(w.notification_service());
    let token = vote_satellite_kit::auth::testing::token("user456", &[]);
    let list = [Endpoint::new(Method::GET, "/notifications", None)];
    throw_at(&runtime, &notifications.base, &token, &list, 32, snapshot);
    runtime.block_on(notifications.stop());
    let matchmaking = runtime.block_on(w.matchmaking_service());
    let accept = [Endpoint::new(
        Method::POST,
        "/trades/trade-1/accept",
        Some(json!({"user_id": "user123", "accepted_by": "user456"})),
    )];
    throw_at(&runtime, &matchmaking.base, &token, &accept, 32, snapshot);
    runtime.block_on(matchmaking.stop());
}
