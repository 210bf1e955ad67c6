//! The seed's matchmaking -> notifications flow end to end, over HTTP and the broker only, and
//! the matchmaking-service's answers to bad requests.

use crate::common;

use common::world;
use vote_satellite_kit::testing::{Http, metric};

#[tokio::test]
async fn accepting_a_trade_offer_notifies_its_maker() {
    let w = world().await;
    let n = w.notification_service().await;
    let m = w.matchmaking_service().await;
    let (status, accepted) = Http::as_caller("user123", &[])
        .post(&m.url("/trades/trade-42/accept"), r#"{"user_id":"user456","accepted_by":"user123"}"#)
        .await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(
        (accepted["trade_id"].as_str(), accepted["notified_user_id"].as_str()),
        (Some("trade-42"), Some("user456"))
    );
    let list = w.wait_for_notifications(&n, "user456", 1).await;
    assert_eq!(list[0]["type"], "trade_offer_accepted");
    assert_eq!(list[0]["title"], "Trade Offer Accepted!");
    assert_eq!(list[0]["body"], "Your trade offer trade-42 has been accepted by user123.");
    assert_eq!(list[0]["related_user_id"], "user123");
    assert!(w.notifications(&n, "user123").await.is_empty(), "only the other user is notified");
    assert_eq!(metric(&w.metrics(&m).await, "notifications_published_total"), Some(1.0));
    m.stop().await;
    n.stop().await;
}

#[tokio::test]
async fn notifications_sent_before_the_notification_service_ever_ran_are_kept() {
    let w = world().await;
    // The matchmaking-service declares the queue at start: nothing it sends is dropped.
    let m = w.matchmaking_service().await;
    let (status, _) = Http::as_caller("bob", &[])
        .post(&m.url("/trades/t-1/accept"), r#"{"user_id":"alice","accepted_by":"bob"}"#)
        .await;
    assert_eq!(status, 202);
    let n = w.notification_service().await;
    let list = w.wait_for_notifications(&n, "alice", 1).await;
    assert_eq!(list[0]["related_user_id"], "bob");
    n.stop().await;
    m.stop().await;
}

#[tokio::test]
async fn bad_accept_requests_are_json_400() {
    let w = world().await;
    let m = w.matchmaking_service().await;
    for (body, expected) in [
        ("", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (r#"{"accepted_by":"bob"}"#, "missing 'user_id'"),
        (r#"{"user_id":"alice"}"#, "missing 'accepted_by'"),
        (r#"{"user_id":"alice","accepted_by":5}"#, "'accepted_by' must be"),
        (r#"{"user_id":"alice","accepted_by":"alice"}"#, "cannot accept their own trade offer"),
    ] {
        let (status, answer) = Http::as_caller("alice", &[]).post(&m.url("/trades/t-1/accept"), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(expected), "{body}: {answer}");
    }
    let (status, answer) =
        Http::as_caller("b", &[]).post(&m.url("/trades/%20/accept"), r#"{"user_id":"a","accepted_by":"b"}"#).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(metric(&w.metrics(&m).await, "notifications_published_total"), Some(0.0));
    m.stop().await;
}
