//! The seed's "notification sent" test: an order placed with the OrderService, reserved by the
//! InventoryService, is confirmed to the student by the NotificationService (its own copy of
//! `inventory.reserved`), across the real services.

use crate::common;

use common::world;
use vote_satellite_kit::testing::{Http, Running, queue_settings, service_settings};
use vote_satellite_ordering::config::{OrderSettings, Settings};
use vote_satellite_ordering::{inventory, order};

#[tokio::test]
async fn an_order_reserved_is_confirmed_to_the_student() {
    let w = world().await;
    let n = w.notification_service().await;
    let orders = order::build(OrderSettings {
        service: service_settings(&w.exchange, "order-service"),
        database: w.db.clone().into(),
    })
    .await
    .expect("order-service starts");
    let orders = Running::start(orders.port(), |stop| orders.run_until_stopped(stop)).await;
    let stock = inventory::build(Settings {
        service: service_settings(&w.exchange, "inventory-service"),
        queue: queue_settings("order_placed", &["order.placed"]),
        database: w.db.clone().into(),
    })
    .await
    .expect("inventory-service starts");
    let stock = Running::start(stock.port(), |stop| stock.run_until_stopped(stop)).await;

    let student = Http::as_caller("S123", &[]);
    let (status, placed) = student.post(&orders.url("/order"), r#"{"item":"Pizza","qty":2,"student_id":"S123"}"#).await;
    assert_eq!(status, 201, "{placed}");
    let order_id = placed["order_id"].as_str().unwrap();
    let list = w.wait_for_notifications(&n, "S123", 1).await;
    assert_eq!(list[0]["type"], "order_confirmed");
    assert_eq!(list[0]["body"], format!("Your order of 2 x Pizza is reserved (order {order_id})."));
    stock.stop().await;
    orders.stop().await;
    n.stop().await;
}
