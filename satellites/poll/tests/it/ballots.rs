//! `POST /polls/{uuid}/ballots` against the real servers: one ballot per voter per poll (the
//! database's unique key decides, also between concurrent requests), repeats, conflicts, bad
//! ballots.

use crate::common;

use common::spawn_app;
use serde_json::{Value, json};
use tokio::task::JoinSet;

#[tokio::test]
async fn one_ballot_per_voter_an_identical_resend_answers_the_same_id() {
    let app = spawn_app().await;
    let poll = app.create_poll("single", &["Alice", "Bob", "Carol"]).await;

    let (status, receipt) = app.cast(&poll, &json!({"voter_id": "v1", "choice": "Bob"})).await;
    assert_eq!(status, 201, "{receipt}");
    let ballot_id = receipt["ballot_id"].as_str().unwrap().to_owned();
    assert_eq!(receipt, json!({"ballot_id": ballot_id, "poll_uuid": poll, "voter_id": "v1", "choice": "Bob"}));

    // A retry, even with other whitespace, is the same ballot.
    for body in [json!({"voter_id": "v1", "choice": "Bob"}), json!({"voter_id": " v1", "choice": "Bob "})] {
        let (status, again) = app.cast(&poll, &body).await;
        assert_eq!((status, &again), (200, &receipt), "{body}");
    }
    let (status, answer) = app.cast(&poll, &json!({"voter_id": "v1", "choice": "Carol"})).await;
    assert_eq!(status, 409, "{answer}");
    let error = answer["error"].as_str().unwrap();
    assert!(error.contains("voter v1 already cast a different ballot") && error.contains(&ballot_id), "{error}");

    let (status, other) = app.cast(&poll, &json!({"voter_id": "v2", "choice": "Carol"})).await;
    assert_eq!(status, 201);
    assert_ne!(other["ballot_id"], receipt["ballot_id"]);
    assert_eq!(app.ballot_count(&poll).await, 2);
    assert!(app.metrics().await.contains(r#"ballots_cast_total{source="http"} 2"#));
    app.stop().await;
}

#[tokio::test]
async fn a_ranked_poll_takes_partial_rankings_and_a_reordered_one_is_another_ballot() {
    let app = spawn_app().await;
    let poll = app.create_poll("ranked", &["Alice", "Bob", "Carol"]).await;
    let (status, receipt) = app.cast(&poll, &json!({"voter_id": "v1", "ranking": ["Carol", "Alice"]})).await;
    assert_eq!(status, 201, "{receipt}");
    assert_eq!(receipt["ranking"], json!(["Carol", "Alice"]));
    assert!(receipt.get("choice").is_none());
    assert_eq!(app.cast(&poll, &json!({"voter_id": "v1", "ranking": ["Carol", "Alice"]})).await.0, 200);
    for other in [json!(["Alice", "Carol"]), json!(["Carol"]), json!(["Carol", "Alice", "Bob"])] {
        let (status, _) = app.cast(&poll, &json!({"voter_id": "v1", "ranking": other})).await;
        assert_eq!(status, 409, "{other}");
    }
    let (status, full) = app.cast(&poll, &json!({"voter_id": "v2", "ranking": ["Bob", "Carol", "Alice"]})).await;
    assert_eq!((status, &full["ranking"]), (201, &json!(["Bob", "Carol", "Alice"])));
    assert_eq!(app.ballot_count(&poll).await, 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_ballots_are_json_400s_naming_the_problem_and_store_nothing() {
    let app = spawn_app().await;
    let single = app.create_poll("single", &["Alice", "Bob"]).await;
    let ranked = app.create_poll("ranked", &["Alice", "Bob", "Carol"]).await;
    let cases: [(&str, &str, &str); 12] = [
        (&single, "{", "request body is not valid JSON"),
        (&single, "[]", "request body must be a JSON object"),
        (&single, r#"{"voter_id":["v"],"choice":"Bob"}"#, "'voter_id' must be a non-empty string"),
        (&single, r#"{"voter_id":"v","choice":7}"#, "'choice' must be a non-empty string"),
        (&single, r#"{"voter_id":"v"}"#, "missing 'choice' (single poll) or 'ranking' (ranked poll)"),
        (&single, r#"{"voter_id":"v","choice":"Dave"}"#, "'Dave' is not an option of this poll"),
        (&single, r#"{"voter_id":"v","ranking":["Bob"]}"#, "this poll is single choice: send 'choice'"),
        (&ranked, r#"{"voter_id":"v","choice":"Bob"}"#, "this poll is ranked: send 'ranking'"),
        (&ranked, r#"{"voter_id":"v","ranking":[null]}"#, "'ranking' must be an array of option names"),
        (&ranked, r#"{"voter_id":"v","ranking":["Bob","Bob"]}"#, "'Bob' is ranked twice"),
        (&ranked, r#"{"voter_id":"v","ranking":["Bob","Zed"]}"#, "'Zed' is not an option of this poll"),
        (&ranked, r#"{"voter_id":"v","ranking":"Bob"}"#, "'ranking' must be an array of option names"),
    ];
    for (poll, body, expected) in cases {
        let (status, answer) = app.cast_as("v", poll, body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        let error = answer["error"].as_str().unwrap_or_else(|| panic!("{body}: {answer}"));
        assert!(error.starts_with(expected), "{body}: {error}");
    }
    let (status, answer) = app.cast_as("v", "nope", r#"{"voter_id":"v","choice":"Bob"}"#).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("poll id must be a UUID")));
    let unknown = uuid::Uuid::new_v4();
    let (status, answer) = app.cast_as("v", &unknown.to_string(), r#"{"voter_id":"v","choice":"Bob"}"#).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some(format!("poll {unknown} not found").as_str())));
    assert_eq!(app.ballot_count(&single).await + app.ballot_count(&ranked).await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_ballot_is_cast_in_the_caller_s_name_only() {
    let app = spawn_app().await;
    let poll = app.create_poll("single", &["Alice", "Bob"]).await;
    let ballots = format!("/polls/{poll}/ballots");
    let (status, answer) = app.cast_as("mallory", &poll, r#"{"voter_id":"v1","choice":"Bob"}"#).await;
    assert_eq!((status, answer["error"].as_str()), (403, Some("'voter_id' must be the authenticated caller")));
    let (status, _) = vote_satellite_kit::testing::Http::default()
        .post(&app.url(&ballots), r#"{"voter_id":"v1","choice":"Bob"}"#)
        .await;
    assert_eq!(status, 401, "no token, no ballot");
    assert_eq!(app.ballot_count(&poll).await, 0);
    let (status, receipt) = app.cast_as("v1", &poll, r#"{"choice":"Bob"}"#).await;
    assert_eq!((status, receipt["voter_id"].as_str()), (201, Some("v1")), "{receipt}");
    app.stop().await;
}

#[tokio::test]
async fn a_closed_poll_refuses_new_ballots_and_still_answers_a_repeat() {
    let app = spawn_app().await;
    let poll = app.create_poll("single", &["Alice", "Bob"]).await;
    let (_, receipt) = app.cast(&poll, &json!({"voter_id": "v1", "choice": "Alice"})).await;
    assert_eq!(app.post(&format!("/polls/{poll}/close"), "").await.0, 200);
    let (status, answer) = app.cast(&poll, &json!({"voter_id": "v2", "choice": "Bob"})).await;
    assert_eq!((status, answer["error"].as_str()), (409, Some(format!("poll {poll} is closed").as_str())));
    assert_eq!(app.cast(&poll, &json!({"voter_id": "v1", "choice": "Alice"})).await, (200, receipt));
    assert_eq!(app.cast(&poll, &json!({"voter_id": "v1", "choice": "Bob"})).await.0, 409);
    assert_eq!(app.ballot_count(&poll).await, 1);
    app.stop().await;
}

/// Sends `bodies` at once; returns the statuses and answers.
async fn at_once(app: &common::TestApp, poll: &str, bodies: Vec<Value>) -> Vec<(u16, Value)> {
    let mut requests = JoinSet::new();
    for body in bodies {
        let (http, url) = (common::voter_client(&body), app.url(&format!("/polls/{poll}/ballots")));
        requests.spawn(async move { http.post(&url, &body.to_string()).await });
    }
    requests.join_all().await
}

#[tokio::test]
async fn concurrent_ballots_of_one_voter_store_exactly_one() {
    let app = spawn_app().await;
    let poll = app.create_poll("ranked", &["A", "B", "C"]).await;
    let same = at_once(&app, &poll, vec![json!({"voter_id": "v", "ranking": ["A", "B"]}); 8]).await;
    let mut statuses: Vec<u16> = same.iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 200, 200, 200, 201], "{same:?}");
    assert!(same.iter().all(|(_, r)| r["ballot_id"] == same[0].1["ballot_id"]), "{same:?}");

    let different: Vec<Value> =
        ["A", "B", "C", "A", "B", "C"].iter().map(|first| json!({"voter_id": "w", "ranking": [first]})).collect();
    let answers = at_once(&app, &poll, different).await;
    let created: Vec<&Value> = answers.iter().filter(|(s, _)| *s == 201).map(|(_, r)| r).collect();
    assert_eq!(created.len(), 1, "{answers:?}");
    let winner = &created[0]["ranking"];
    for (status, answer) in &answers {
        let identical = answer["ranking"] == *winner;
        assert!(*status == 409 || (identical && (*status == 200 || *status == 201)), "{status}: {answer}");
    }
    assert_eq!(app.ballot_count(&poll).await, 2);
    app.stop().await;
}
