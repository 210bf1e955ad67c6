//! The VotingService's `voting.create` consumer against the real servers.

use crate::common;

use common::spawn_app;
use serde_json::json;
use vote_mq::Envelope;
use vote_mq::REJECT_REASON_HEADER;
use vote_satellite_kit::testing::Running;

#[tokio::test]
async fn voting_create_creates_a_poll_wrapped_or_bare() {
    let app = spawn_app().await;
    let wrapped = json!({"vote": {"meeting_id": "ev-1", "pollType": "single", "options": ["A", "B"]}});
    app.publish("voting.create", Envelope::new("voting.create", "election-service", wrapped).to_bytes()).await;
    let bare = json!({"meeting_id": "ev-1", "pollType": "ranked", "options": ["C", "D", "E"]});
    app.publish("voting.create", Envelope::new("voting.create", "election-service", bare).to_bytes()).await;
    app.wait_for_polls("ev-1", 2).await;
    assert!(app.metrics().await.contains(r#"polls_created_total{source="event"} 2"#));
    app.stop().await;
}

#[tokio::test]
async fn a_redelivered_event_creates_one_poll() {
    let app = spawn_app().await;
    let event = Envelope::new(
        "voting.create",
        "t",
        json!({"vote": {"meeting_id": "ev-2", "pollType": "single", "options": ["A", "B"]}}),
    );
    app.publish("voting.create", event.to_bytes()).await;
    app.publish("voting.create", event.to_bytes()).await;
    // A third, different event proves both copies were consumed before we count.
    let marker = Envelope::new(
        "voting.create",
        "t",
        json!({"vote": {"meeting_id": "ev-2b", "pollType": "single", "options": ["A", "B"]}}),
    );
    app.publish("voting.create", marker.to_bytes()).await;
    app.wait_for_polls("ev-2b", 1).await;
    assert_eq!(app.poll_count("ev-2").await, 1);
    assert!(app.metrics().await.contains("events_handled_total 3"));
    app.stop().await;
}

#[tokio::test]
async fn the_same_event_delivered_concurrently_to_two_instances_creates_one_poll() {
    // Two processes on one queue and database; the event-id mark serializes them.
    let app = spawn_app().await;
    let second = vote_satellite_poll::build(app.settings.clone()).await.unwrap();
    let second = Running::start(second.port(), |stop| second.run_until_stopped(stop)).await;
    let event = Envelope::new(
        "voting.create",
        "t",
        json!({"vote": {"meeting_id": "ev-3", "pollType": "single", "options": ["A", "B"]}}),
    );
    for _ in 0..4 {
        app.publish("voting.create", event.to_bytes()).await;
    }
    app.wait_for_polls("ev-3", 1).await;
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(app.poll_count("ev-3").await, 1);
    second.stop().await;
    app.stop().await;
}

#[tokio::test]
async fn invalid_and_malformed_events_are_dead_lettered_at_once() {
    let app = spawn_app().await;
    let one_option = json!({"vote": {"meeting_id": "ev-4", "pollType": "single", "options": ["A"]}});
    app.publish("voting.create", Envelope::new("voting.create", "t", one_option).to_bytes()).await;
    app.publish("voting.create", b"not json at all".to_vec()).await;
    let dead = app.dead_letters(2).await;
    assert_eq!(dead.len(), 2);
    let reasons: Vec<String> = dead.iter().map(|d| d.header(REJECT_REASON_HEADER).unwrap()).collect();
    assert!(reasons.iter().any(|r| r == "rejected: at least 2 options are required"), "{reasons:?}");
    assert!(reasons.iter().any(|r| r.starts_with("malformed: not an event envelope")), "{reasons:?}");
    assert_eq!(app.poll_count("ev-4").await, 0);
    let metrics = app.metrics().await;
    assert!(metrics.contains(r#"events_dead_lettered_total{reason="rejected"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"events_dead_lettered_total{reason="malformed"} 1"#), "{metrics}");
    app.stop().await;
}

#[tokio::test]
async fn a_database_failure_is_retried_then_dead_lettered() {
    let app = spawn_app().await;
    // Break the schema under the running service: every insert now fails with a retriable error.
    let client = app.db.connect().await.unwrap();
    client.batch_execute("ALTER TABLE poll_options RENAME TO poll_options_gone").await.unwrap();
    let vote = json!({"vote": {"meeting_id": "ev-5", "pollType": "single", "options": ["A", "B"]}});
    app.publish("voting.create", Envelope::new("voting.create", "t", vote).to_bytes()).await;
    let dead = app.dead_letters(1).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].header(REJECT_REASON_HEADER).unwrap();
    assert!(reason.starts_with("retries exhausted after 3 attempts"), "{reason}");
    assert_eq!(app.poll_count("ev-5").await, 0, "the failed attempts rolled back");
    assert!(app.metrics().await.contains("events_retried_total 2"));
    app.stop().await;
}

#[tokio::test]
async fn a_voting_create_colliding_with_another_poll_is_refused_and_announced() {
    let app = spawn_app().await;
    let mut refused = app.listen("voting.refused").await;
    let uuid = uuid::Uuid::new_v4();
    let create = |meeting: &str, options: &[&str]| {
        let vote = json!({"vote": {"uuid": uuid, "meeting_id": meeting, "pollType": "single", "options": options}});
        Envelope::new("voting.create", "election-service", vote)
    };
    app.publish("voting.create", create("ev-6", &["Ann", "Bob"]).to_bytes()).await;
    app.wait_for_polls("ev-6", 1).await;
    // The same poll asked for again (another event) is acknowledged; another poll under its id
    // is refused, dead-lettered with the reason and announced to the one who asked.
    app.publish("voting.create", create("ev-6", &["Ann", "Bob"]).to_bytes()).await;
    let intruder = create("ev-6", &["X", "Y"]);
    app.publish("voting.create", intruder.to_bytes()).await;
    app.publish("voting.create", intruder.to_bytes()).await;
    let dead = app.dead_letters(1).await;
    let reason = dead[0].header(REJECT_REASON_HEADER).unwrap();
    assert_eq!(reason, format!("rejected: poll {uuid} exists already, with other options"));
    let event = vote_satellite_kit::testing::next_event(&mut refused).await;
    assert_eq!(event.data, json!({"uuid": uuid, "reason": format!("poll {uuid} exists already, with other options")}));
    // An invalid request naming a poll id is announced too.
    let other = uuid::Uuid::new_v4();
    let look_alikes =
        json!({"vote": {"uuid": other, "meeting_id": "ev-7", "pollType": "single", "options": ["Bob", "Ｂob"]}});
    app.publish("voting.create", Envelope::new("voting.create", "t", look_alikes).to_bytes()).await;
    let event = vote_satellite_kit::testing::next_event(&mut refused).await;
    assert_eq!(event.data["uuid"], json!(other));
    assert_eq!(event.data["reason"], "options must be distinguishable: 'Ｂob' is confusable with 'Bob'");
    vote_satellite_kit::testing::no_event(&mut refused, std::time::Duration::from_millis(300)).await;
    let (status, poll) = app.get(&format!("/polls/{uuid}/")).await;
    assert_eq!((status, &poll["options"]), (200, &json!(["Ann", "Bob"])), "the first poll is untouched");
    assert_eq!(app.poll_count("ev-7").await, 0);
    refused.close().await;
    app.stop().await;
}
