//! The ordering flow against the real servers, the seed's tests first: an order placed is
//! RESERVED; a backlog built while the InventoryService is down drains when it is back; the
//! same order delivered twice reserves once; a malformed message lands in the order-placed
//! dead-letter queue. Then: insufficient stock or an unknown item is FAILED, and the callback's
//! retries and dead-letters.

use crate::common;

use std::time::Duration;

use common::{patient_retries, world};
use serde_json::json;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_mq::REJECT_REASON_HEADER;
use vote_mq::admin::message_count;
use vote_runtime::testing::{TcpProxy, broker_proxy};
use vote_satellite_kit::testing::{
    broker, fast_retries, listen, metric, next_event, no_event, publish_event, wait_until,
};

#[tokio::test]
async fn an_order_placed_is_reserved() {
    let w = world().await;
    let orders = w.order_service().await;
    let inventory = w.inventory_service().await;
    let callback = w.callback(&orders.base, fast_retries()).await;

    let id = w.place(&orders, "Pizza", 2, "S123").await;
    let order = w.wait_for_status(&orders, &id, "RESERVED").await;
    assert_eq!(
        (order["item"].as_str(), order["qty"].as_i64(), order["student_id"].as_str()),
        (Some("Pizza"), Some(2), Some("S123"))
    );
    assert_eq!(w.stock(&inventory, "Pizza").await, 98);
    let (status, all) = w.http.get(&orders.url("/orders")).await;
    assert_eq!(status, 200);
    assert!(all.as_array().unwrap().iter().any(|o| o["order_id"] == id.as_str() && o["status"] == "RESERVED"), "{all}");
    let metrics = w.http.text(&inventory.url("/metrics")).await;
    assert_eq!(metric(&metrics, r#"inventory_reservations_total{outcome="reserved"}"#), Some(1.0), "{metrics}");
    assert!(
        metric(&w.http.text(&orders.url("/metrics")).await, r#"events_published_total{event_type="order.placed"}"#)
            == Some(1.0)
    );
    callback.stop().await;
    inventory.stop().await;
    orders.stop().await;
}

#[tokio::test]
async fn insufficient_stock_and_unknown_items_fail_without_taking_stock() {
    let w = world().await;
    let orders = w.order_service().await;
    let inventory = w.inventory_service().await;
    let callback = w.callback(&orders.base, fast_retries()).await;
    let mut failed = listen(&w.exchange, "inventory.failed").await;

    let (status, _) = w.http.put(&inventory.url("/stock/Coffee"), r#"{"quantity":1}"#).await;
    assert_eq!(status, 200);
    let too_many = w.place(&orders, "Coffee", 2, "S1").await;
    w.wait_for_status(&orders, &too_many, "FAILED").await;
    let event = next_event(&mut failed).await;
    assert_eq!(event.data["order_id"], too_many.as_str());
    assert_eq!(event.data["student_id"], "S1");
    assert_eq!(event.data["reason"], "insufficient stock for 'Coffee': 2 requested, 1 available");
    assert_eq!(w.stock(&inventory, "Coffee").await, 1, "a failed order takes nothing");

    let unknown = w.place(&orders, "Caviar", 1, "S1").await;
    w.wait_for_status(&orders, &unknown, "FAILED").await;
    assert_eq!(next_event(&mut failed).await.data["reason"], "unknown item 'Caviar'");

    let enough = w.place(&orders, "Coffee", 1, "S1").await;
    w.wait_for_status(&orders, &enough, "RESERVED").await;
    assert_eq!(w.stock(&inventory, "Coffee").await, 0);
    failed.close().await;
    callback.stop().await;
    inventory.stop().await;
    orders.stop().await;
}

#[tokio::test]
async fn a_backlog_built_while_inventory_is_down_drains_when_it_returns() {
    let w = world().await;
    let orders = w.order_service().await;
    let callback = w.callback(&orders.base, fast_retries()).await;
    // Started once so that its queue exists, then stopped.
    w.inventory_service().await.stop().await;

    let mut ids = Vec::new();
    for i in 1..=10 {
        ids.push(w.place(&orders, "Coffee", 1, &format!("BACKLOG-{i}")).await);
    }
    let queue = w.inventory_queue.queue.clone();
    wait_until("10 orders waiting in the queue", || async {
        message_count(&broker(), &queue).await.unwrap_or(0) == 10
    })
    .await;
    for id in &ids {
        assert_eq!(w.http.get(&orders.url(&format!("/orders/{id}"))).await.1["status"], "PLACED");
    }

    let inventory = w.inventory_service().await;
    for id in &ids {
        w.wait_for_status(&orders, id, "RESERVED").await;
    }
    assert_eq!(w.stock(&inventory, "Coffee").await, 190);
    assert_eq!(message_count(&broker(), &queue).await.unwrap(), 0);
    inventory.stop().await;
    callback.stop().await;
    orders.stop().await;
}

#[tokio::test]
async fn the_same_order_delivered_twice_reserves_once() {
    let w = world().await;
    let inventory = w.inventory_service().await;
    let mut outcomes = listen(&w.exchange, "inventory.*").await;
    let order_id = Uuid::new_v4().to_string();
    let data = json!({"order_id": order_id, "item": "Burger", "qty": 3, "student_id": "S9"});
    let placed = Envelope::new("order.placed", "order-service", data.clone());
    publish_event(&w.exchange, &placed).await;
    publish_event(&w.exchange, &placed).await;
    // Another envelope, and the bare order, for the same order id.
    publish_event(&w.exchange, &Envelope::new("order.placed", "order-service", data.clone())).await;
    w.publish_order(data.to_string().into_bytes()).await;

    let event = next_event(&mut outcomes).await;
    assert_eq!(
        (event.event_type.as_str(), event.data["order_id"].as_str()),
        ("inventory.reserved", Some(order_id.as_str()))
    );
    assert_eq!(event.data["remaining"], 97);
    wait_until("the copies are handled", || async {
        metric(&w.http.text(&inventory.url("/metrics")).await, "inventory_duplicate_orders_total") == Some(3.0)
    })
    .await;
    no_event(&mut outcomes, Duration::from_millis(300)).await;
    assert_eq!(w.stock(&inventory, "Burger").await, 97, "reserved once");
    assert_eq!(w.processed(&order_id).await, 1);
    // Another order under the handled id is refused with the reason, not taken for a copy.
    let other = json!({"order_id": order_id, "item": "Burger", "qty": 30, "student_id": "S9"});
    publish_event(&w.exchange, &Envelope::new("order.placed", "order-service", other)).await;
    let dead = w.inventory_dead_letters(1).await;
    assert_eq!(
        dead[0].header(REJECT_REASON_HEADER).unwrap(),
        format!("rejected: order {order_id} was handled already with another item or quantity")
    );
    no_event(&mut outcomes, Duration::from_millis(300)).await;
    assert_eq!(w.stock(&inventory, "Burger").await, 97, "nothing more reserved");
    outcomes.close().await;
    inventory.stop().await;
}

#[tokio::test]
async fn malformed_orders_land_in_the_order_placed_dead_letter_queue() {
    let w = world().await;
    let inventory = w.inventory_service().await;
    w.publish_order(b"{this is not json".to_vec()).await;
    let no_qty = Envelope::new("order.placed", "t", json!({"order_id": "o-1", "item": "Pizza"}));
    publish_event(&w.exchange, &no_qty).await;
    // Straight to the queue through the default exchange, as a producer without the exchange would.
    vote_satellite_kit::testing::publish("", &w.inventory_queue.queue, br#"{"item":"Pizza","qty":1}"#.to_vec(), None)
        .await;

    let dead = w.inventory_dead_letters(3).await;
    assert_eq!(dead.len(), 3);
    let mut reasons: Vec<String> = dead.iter().map(|d| d.header(REJECT_REASON_HEADER).unwrap()).collect();
    reasons.sort();
    assert!(reasons[0].starts_with("malformed: invalid order: missing 'order_id'"), "{reasons:?}");
    assert!(reasons[1].starts_with("malformed: invalid order: missing 'qty'"), "{reasons:?}");
    assert!(reasons[2].starts_with("malformed: not JSON"), "{reasons:?}");
    assert!(dead.iter().any(|d| d.body == b"{this is not json"), "the original body is kept");
    assert_eq!(w.stock(&inventory, "Pizza").await, 100);
    let metrics = w.http.text(&inventory.url("/metrics")).await;
    assert_eq!(metric(&metrics, r#"events_dead_lettered_total{reason="malformed"}"#), Some(3.0), "{metrics}");
    inventory.stop().await;
}

#[tokio::test]
async fn the_callback_retries_an_unreachable_order_service_then_dead_letters() {
    let w = world().await;
    // A port nothing listens on.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://127.0.0.1:{}", closed.local_addr().unwrap().port());
    drop(closed);
    let callback = w.callback(&url, fast_retries()).await;
    let reserved = Envelope::new(
        "inventory.reserved",
        "inventory-service",
        json!({"order_id": Uuid::new_v4(), "item": "x", "qty": 1}),
    );
    publish_event(&w.exchange, &reserved).await;
    let dead = vote_satellite_kit::testing::take(&w.callback_queue.dead_letter_queue, 1).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].header(REJECT_REASON_HEADER).unwrap();
    assert!(reason.starts_with("retries exhausted after 3 attempts: order-service:"), "{reason}");
    assert_eq!(metric(&w.http.text(&callback.url("/metrics")).await, "events_retried_total"), Some(2.0));
    callback.stop().await;
}

#[tokio::test]
async fn the_callback_rides_out_an_outage_and_dead_letters_unknown_orders_at_once() {
    let w = world().await;
    let orders = w.order_service().await;
    let port = orders.base.rsplit(':').next().unwrap().to_owned();
    let proxy = TcpProxy::start(&format!("127.0.0.1:{port}")).await;
    let callback = w.callback(&format!("http://127.0.0.1:{}", proxy.port()), patient_retries()).await;
    let id = w.place(&orders, "Salad", 1, "S5").await;

    proxy.cut();
    publish_event(
        &w.exchange,
        &Envelope::new("inventory.failed", "inventory-service", json!({"order_id": id, "reason": "r"})),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(w.http.get(&orders.url(&format!("/orders/{id}"))).await.1["status"], "PLACED");
    proxy.restore();
    w.wait_for_status(&orders, &id, "FAILED").await;

    for data in [json!({"order_id": Uuid::new_v4()}), json!({"order_id": "not-a-uuid"}), json!({"item": "x"})] {
        publish_event(&w.exchange, &Envelope::new("inventory.reserved", "inventory-service", data)).await;
    }
    let dead = vote_satellite_kit::testing::take(&w.callback_queue.dead_letter_queue, 3).await;
    let mut reasons: Vec<String> = dead.iter().map(|d| d.header(REJECT_REASON_HEADER).unwrap()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with("rejected: bad inventory.reserved data: missing field `order_id`"), "{reasons:?}");
    assert!(reasons[1].starts_with("rejected: order ") && reasons[1].ends_with("not found"), "{reasons:?}");
    assert_eq!(reasons[2], "rejected: order id must be a UUID", "{reasons:?}");
    callback.stop().await;
    orders.stop().await;
}

#[tokio::test]
async fn orders_placed_while_the_broker_is_cut_off_are_all_published_in_order_once_it_is_back() {
    let w = world().await;
    let proxy = broker_proxy().await;
    let orders = w.order_service_via(Some(&proxy)).await;
    let mut placed = listen(&w.exchange, "order.placed").await;
    let mut ids = Vec::new();
    for i in 0..10 {
        ids.push(w.place(&orders, "Pizza", 1, &format!("S{i}")).await);
    }
    // The orders commit while no event can leave: the relay's rounds fail and leave them pending.
    proxy.cut();
    for i in 10..40 {
        ids.push(w.place(&orders, "Pizza", 1, &format!("S{i}")).await);
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.restore();
    // Each order's event arrives at least once; a repeat (a confirm lost in the cut) carries the
    // same event_id, and the first arrivals keep the order the orders were placed in.
    let mut first_seen: Vec<String> = Vec::new();
    let mut event_ids = std::collections::HashMap::new();
    while first_seen.len() < ids.len() {
        let event = next_event(&mut placed).await;
        let order_id = event.data["order_id"].as_str().expect("an order id").to_owned();
        let event_id = *event_ids.entry(order_id.clone()).or_insert(event.event_id);
        assert_eq!(event.event_id, event_id, "a repeat of {order_id}'s event has another event_id");
        if !first_seen.contains(&order_id) {
            first_seen.push(order_id);
        }
    }
    assert_eq!(first_seen, ids);
    // Every event ends marked published: none is left pending to go out again.
    let metrics = orders.url("/metrics");
    wait_until("every confirmed event is counted", || async {
        metric(&w.http.text(&metrics).await, r#"events_published_total{event_type="order.placed"}"#) >= Some(40.0)
    })
    .await;
    let client = w.db.connect().await.expect("the test database");
    let pending: i64 =
        client.query_one("SELECT count(*) FROM outbox WHERE published_at IS NULL", &[]).await.unwrap().get(0);
    assert_eq!(pending, 0, "events left pending");
    orders.stop().await;
}
