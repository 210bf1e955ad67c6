//! The VotingService HTTP API against the real servers.

use crate::common;

use common::spawn_app;
use serde_json::json;
use vote_satellite_kit::testing::{next_event, no_event};

const VOTE: &str = r#"{"vote":{"meeting_id":"m-1","pollType":"single","options":["Alice","Bob","Carol"]}}"#;

#[tokio::test]
async fn create_then_get_a_poll() {
    let app = spawn_app().await;
    let (status, poll) = app.post("/polls/", VOTE).await;
    assert_eq!(status, 200, "{poll}");
    assert_eq!(poll["meeting_id"], "m-1");
    assert_eq!(poll["pollType"], "single");
    assert_eq!(poll["options"], json!(["Alice", "Bob", "Carol"]));
    let uuid = poll["uuid"].as_str().unwrap().to_owned();
    let (status, got) = app.get(&format!("/polls/{uuid}/")).await;
    assert_eq!(status, 200);
    assert_eq!(got["uuid"], uuid.as_str());
    assert_eq!(got["options"], json!(["Alice", "Bob", "Carol"]), "option order is kept");
    assert_eq!(got["status"], "open");
    // Ranked, and the path without the trailing slash.
    let (status, ranked) =
        app.post("/polls", r#"{"vote":{"meeting_id":"m-1","pollType":"ranked","options":["Z","A"]}}"#).await;
    assert_eq!(status, 200);
    assert_eq!(ranked["pollType"], "ranked");
    assert_eq!(ranked["options"], json!(["Z", "A"]));
    assert_eq!(app.poll_count("m-1").await, 2);
    assert!(app.metrics().await.contains(r#"polls_created_total{source="http"} 2"#));
    app.stop().await;
}

#[tokio::test]
async fn every_bad_body_is_a_json_400() {
    let app = spawn_app().await;
    let cases = [
        ("", "not valid JSON"),
        ("{not json", "not valid JSON"),
        ("[]", "must be a JSON object"),
        ("{}", "missing 'vote'"),
        (r#"{"vote":"x"}"#, "'vote' must be a JSON object"),
        (r#"{"vote":{"pollType":"single","options":["a","b"]}}"#, "missing 'meeting_id'"),
        (r#"{"vote":{"meeting_id":5,"pollType":"single","options":["a","b"]}}"#, "'meeting_id' must be"),
        (r#"{"vote":{"meeting_id":"m","options":["a","b"]}}"#, "missing 'pollType'"),
        (r#"{"vote":{"meeting_id":"m","pollType":"approval","options":["a","b"]}}"#, "invalid 'pollType'"),
        (r#"{"vote":{"meeting_id":"m","pollType":"single"}}"#, "missing 'options'"),
        (r#"{"vote":{"meeting_id":"m","pollType":"single","options":{"a":1}}}"#, "'options' must be an array"),
        (r#"{"vote":{"meeting_id":"m","pollType":"single","options":["only"]}}"#, "at least 2 options"),
        (r#"{"vote":{"meeting_id":"m","pollType":"single","options":["a",null]}}"#, "each option must be"),
        (r#"{"vote":{"meeting_id":"m","pollType":"single","options":["a","a"]}}"#, "options must be distinct: 'a'"),
        (r#"{"vote":{"meeting_id":"m","pollType":"ranked","options":["a","b"," a"]}}"#, "options must be distinct"),
    ];
    for (body, expected) in cases {
        let (status, answer) = app.post("/polls/", body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_else(|| panic!("{body}: no error field in {answer}"));
        assert!(error.contains(expected), "{body}: {error}");
    }
    assert_eq!(app.poll_count("m").await, 0);
    app.stop().await;
}

#[tokio::test]
async fn get_answers_404_for_unknown_and_400_for_malformed_ids() {
    let app = spawn_app().await;
    let (status, body) = app.get(&format!("/polls/{}/", uuid::Uuid::new_v4())).await;
    assert_eq!(status, 404);
    assert!(body["error"].as_str().unwrap().contains("not found"));
    let (status, body) = app.get("/polls/not-a-uuid/").await;
    assert_eq!(status, 400);
    assert_eq!(body["error"], "poll id must be a UUID");
    let (status, body) = app.get("/nowhere").await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "not found");
    app.stop().await;
}

#[tokio::test]
async fn close_publishes_voting_completed_once_with_the_results() {
    let app = spawn_app().await;
    let mut completed = app.listen("voting.completed").await;
    let (_, poll) = app.post("/polls/", VOTE).await;
    let uuid = poll["uuid"].as_str().unwrap().to_owned();
    assert_eq!(app.cast(&uuid, &serde_json::json!({"voter_id": "v1", "choice": "Bob"})).await.0, 201);

    let (status, closed) = app.post(&format!("/polls/{uuid}/close"), "").await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["results"]["winner"], "Bob");
    let event = next_event(&mut completed).await;
    assert_eq!(event.event_type, "voting.completed");
    assert_eq!(event.producer, "voting-service");
    assert_eq!(event.data["uuid"], uuid.as_str());
    assert_eq!(event.data["meeting_id"], "m-1");
    assert_eq!(event.data["options"], json!(["Alice", "Bob", "Carol"]));
    assert_eq!(event.data["status"], "closed");
    assert_eq!(event.data["results"], closed["results"]);

    // Closing again answers the same results and publishes nothing.
    let (status, again) = app.post(&format!("/polls/{uuid}/close"), "").await;
    assert_eq!((status, &again), (200, &closed));
    no_event(&mut completed, std::time::Duration::from_millis(500)).await;
    assert!(app.metrics().await.contains(r#"events_published_total{event_type="voting.completed"} 1"#));

    let (status, _) = app.post(&format!("/polls/{}/close", uuid::Uuid::new_v4()), "").await;
    assert_eq!(status, 404);
    let (status, _) = app.post("/polls/nope/close", "").await;
    assert_eq!(status, 400);
    completed.close().await;
    app.stop().await;
}

#[tokio::test]
async fn an_http_caller_cannot_choose_the_poll_id() {
    let app = spawn_app().await;
    let id = uuid::Uuid::new_v4();
    let body = format!(r#"{{"vote":{{"uuid":"{id}","meeting_id":"m-2","pollType":"single","options":["a","b"]}}}}"#);
    let (status, answer) = app.post("/polls/", &body).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("'vote.uuid' is chosen by the VotingService: leave it out"))
    );
    assert_eq!(app.poll_count("m-2").await, 0);
    let (status, answer) = app.get(&format!("/polls/{id}/")).await;
    assert_eq!(status, 404, "{answer}");
    app.stop().await;
}

#[tokio::test]
async fn health_and_metrics_are_served() {
    let app = spawn_app().await;
    assert_eq!(app.get("/healthz").await.0, 200);
    assert_eq!(app.get("/health").await, (200, json!({"status": "ok"})));
    app.get("/polls/not-a-uuid/").await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains(r#"http_requests_total{method="GET",route="/polls/{poll_id}",status="400"} 1"#),
        "{metrics}"
    );
    assert!(metrics.contains("events_handled_total 0"), "{metrics}");
    app.stop().await;
}
