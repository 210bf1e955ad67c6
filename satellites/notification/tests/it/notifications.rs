//! NotificationService against the real servers: notifications from the queue stored once and
//! served, invalid ones dead-lettered, a failing store retried then dead-lettered, a message
//! published while the service is stopped stored when it is back, order confirmations.

use crate::common;

use std::time::Duration;

use common::world;
use serde_json::json;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_mq::REJECT_REASON_HEADER;
use vote_satellite_kit::testing::{broker, metric, publish_event, wait_until};
use vote_satellite_notification::domain::Notification;
use vote_satellite_notification::publish_notification;

const SEED: &str = r#"{"user_id":"user456","type":"trade_offer_accepted","title":"Trade Offer Accepted!","body":"Your trade offer has been accepted.","related_user_id":"user123"}"#;

#[tokio::test]
async fn a_notification_from_the_queue_is_stored_once_and_served() {
    let w = world().await;
    let n = w.notification_service().await;
    w.send(SEED, Some("m-1")).await;
    let list = w.wait_for_notifications(&n, "user456", 1).await;
    assert_eq!(list[0]["type"], "trade_offer_accepted");
    assert_eq!(list[0]["title"], "Trade Offer Accepted!");
    assert_eq!(list[0]["body"], "Your trade offer has been accepted.");
    assert_eq!(list[0]["related_user_id"], "user123");
    assert!(list[0]["created_at"].is_string() && list[0]["id"].is_i64(), "{}", list[0]);

    // The same message id again, and a message without an id sent twice: one more in all.
    w.send(SEED, Some("m-1")).await;
    let other = json!({"user_id": "user456", "type": "reminder", "title": "Hi", "body": "Ping"}).to_string();
    w.send(&other, None).await;
    w.send(&other, None).await;
    // A new id with the same body is a new notification.
    w.send(SEED, Some("m-2")).await;
    wait_until("every copy handled", || async { metric(&w.metrics(&n).await, "events_handled_total") == Some(5.0) })
        .await;
    let list = w.notifications(&n, "user456").await;
    let kinds: Vec<&str> = list.iter().map(|x| x["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["trade_offer_accepted", "reminder", "trade_offer_accepted"], "newest first");
    assert_eq!(metric(&w.metrics(&n).await, "notification_duplicates_total"), Some(2.0));
    assert!(w.notifications(&n, "user123").await.is_empty());
    let (_, everyone) = w.http.get(&n.url("/notifications")).await;
    assert_eq!(everyone.as_array().unwrap().len(), 3);
    n.stop().await;
}

#[tokio::test]
async fn invalid_messages_are_dead_lettered_with_their_reason() {
    let w = world().await;
    let n = w.notification_service().await;
    w.send("{not json", None).await;
    w.send(r#"{"user_id":"u1","type":"t","body":"no title"}"#, None).await;
    w.send(r#"{"user_id":42,"type":"t","title":"x","body":"b"}"#, None).await;
    let dead = w.dead_letters(&w.notifications, 3).await;
    let mut reasons: Vec<String> = dead.iter().map(|d| d.header(REJECT_REASON_HEADER).unwrap()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with("malformed: invalid notification: 'user_id' must be"), "{reasons:?}");
    assert!(reasons[1].starts_with("malformed: invalid notification: missing 'title'"), "{reasons:?}");
    assert!(reasons[2].starts_with("malformed: not JSON"), "{reasons:?}");
    assert_eq!(w.stored().await, 0);
    n.stop().await;
}

#[tokio::test]
async fn a_failing_store_is_retried_then_dead_lettered() {
    let w = world().await;
    let n = w.notification_service().await;
    let client = w.db.connect().await.unwrap();
    client.batch_execute("ALTER TABLE notifications RENAME TO notifications_gone").await.unwrap();
    w.send(SEED, Some("m-fail")).await;
    let dead = w.dead_letters(&w.notifications, 1).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].header(REJECT_REASON_HEADER).unwrap();
    assert!(reason.starts_with("retries exhausted after 3 attempts: database error"), "{reason}");
    assert_eq!(metric(&w.metrics(&n).await, "events_retried_total"), Some(2.0));
    client.batch_execute("ALTER TABLE notifications_gone RENAME TO notifications").await.unwrap();
    assert_eq!(w.stored().await, 0);
    n.stop().await;
}

#[tokio::test]
async fn a_notification_published_while_the_service_is_stopped_is_stored_when_it_is_back() {
    let w = world().await;
    // Started once so that its queue exists, then stopped.
    w.notification_service().await.stop().await;
    let publisher = vote_mq::Publisher::connect(&broker(), "notification-test").await.unwrap();
    let notification = Notification {
        user_id: "user789".to_owned(),
        kind: "trade_offer_received".to_owned(),
        title: "New offer".to_owned(),
        body: "Someone wants your bike.".to_owned(),
        related_user_id: Some("user321".to_owned()),
    };
    let message_id = publish_notification(&publisher, &w.notifications.queue, &notification).await.unwrap();
    publisher.close().await;
    assert_eq!(
        vote_mq::admin::message_count(&broker(), &w.notifications.queue).await.unwrap(),
        1,
        "kept by the broker"
    );

    let n = w.notification_service().await;
    let list = w.wait_for_notifications(&n, "user789", 1).await;
    assert_eq!(list[0]["body"], "Someone wants your bike.");
    assert_eq!(list[0]["related_user_id"], "user321");
    let client = w.db.connect().await.unwrap();
    let key: String = client.query_one("SELECT dedup_key FROM notifications", &[]).await.unwrap().get(0);
    assert_eq!(key, format!("message:{message_id}"));
    n.stop().await;
}

#[tokio::test]
async fn inventory_reserved_confirms_the_order_to_the_student_once() {
    let w = world().await;
    let n = w.notification_service().await;
    let order_id = Uuid::new_v4().to_string();
    let reserved = Envelope::new(
        "inventory.reserved",
        "inventory-service",
        json!({"order_id": order_id, "item": "Pizza", "qty": 2, "student_id": "S123", "remaining": 98}),
    );
    publish_event(&w.exchange, &reserved).await;
    publish_event(&w.exchange, &reserved).await;
    let list = w.wait_for_notifications(&n, "S123", 1).await;
    assert_eq!(list[0]["type"], "order_confirmed");
    assert_eq!(list[0]["body"], format!("Your order of 2 x Pizza is reserved (order {order_id})."));

    let anonymous = Envelope::new("inventory.reserved", "t", json!({"order_id": "o-2", "item": "Pizza", "qty": 1}));
    publish_event(&w.exchange, &anonymous).await;
    let dead = w.dead_letters(&w.events, 1).await;
    assert_eq!(
        dead[0].header(REJECT_REASON_HEADER).as_deref(),
        Some("rejected: order o-2 has no student_id to notify")
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(w.notifications(&n, "S123").await.len(), 1, "confirmed once");
    assert_eq!(metric(&w.metrics(&n).await, r#"notifications_stored_total{source="order"}"#), Some(1.0));
    n.stop().await;
}

#[tokio::test]
async fn listing_refuses_bad_queries_with_json_400() {
    let w = world().await;
    let n = w.notification_service().await;
    for (query, expected) in [
        ("limit=abc", "limit"),
        ("limit=0", "'limit' must be from 1 to 1000"),
        ("limit=1001", "'limit' must be from 1 to 1000"),
        ("user_id=", "'user_id' must be"),
    ] {
        let (status, answer) = w.http.get(&n.url(&format!("/notifications?{query}"))).await;
        assert_eq!(status, 400, "{query}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(expected), "{query}: {answer}");
    }
    let (status, answer) = w.http.post(&n.url("/notifications"), "{}").await;
    assert_eq!((status, answer["error"].as_str()), (405, Some("method not allowed")));
    n.stop().await;
}
