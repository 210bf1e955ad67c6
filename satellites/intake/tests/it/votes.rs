//! `POST /votes` and `POST /votes/batch` end to end: the receipt is the counted vote's hash, the
//! citizen is the token's, a retry is the same vote, a changed vote is a 409 once the first is
//! counted, a gateway's votes are each accepted or refused on their own, limits hold.

use std::collections::BTreeSet;

use serde_json::{Value, json};
use vote_runtime::testing;
use vote_satellite_kit::auth::testing as auth;
use vote_satellite_kit::testing::Http;

use crate::{Engine, Intake, ballot, intake_args};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizens_vote_is_counted_once_under_their_token_with_a_stable_receipt() {
    let engine = Engine::start("intake_votes").await;
    let role = testing::unique_name("intake_ro").to_lowercase();
    let database = engine.intake_role(&role, "Intake-pw-1");
    let intake = Intake::start(intake_args(&engine, &testing::amqp_url(), &database, &[])).await;
    let alice = Http::as_caller("alice", &[]);

    let (status, body) = alice.post(&intake.url("/votes"), &ballot("law-1", "oui")).await;
    assert_eq!(status, 202, "{body}");
    let receipt = body["receipt"].as_str().unwrap().to_owned();
    assert_eq!(body["law_id"], "law-1");
    assert_eq!(receipt.len(), 64);
    let rows = engine.wait_counted(1).await;
    assert_eq!(rows, [(receipt.clone(), "alice".into(), "law-1".into(), "oui".into())]);

    // The same vote again: the same receipt, nothing counted twice, nothing resent.
    let (status, again) = alice.post(&intake.url("/votes"), &ballot("law-1", "oui")).await;
    assert_eq!((status, again["receipt"].as_str()), (202, Some(receipt.as_str())));
    // A changed mind once the first is counted: 409, and nothing reaches the engine.
    let (status, changed) = alice.post(&intake.url("/votes"), &ballot("law-1", "non")).await;
    assert_eq!(status, 409, "{changed}");
    assert_eq!(changed["law_id"], "law-1");
    assert!(changed["error"].as_str().is_some());
    // Naming oneself is fine; naming another citizen is a 403.
    let (status, _) =
        alice.post(&intake.url("/votes"), r#"{"law_id":"law-2","choice":"non","citizen_id":"alice"}"#).await;
    assert_eq!(status, 202);
    let (status, body) =
        alice.post(&intake.url("/votes"), r#"{"law_id":"law-3","choice":"oui","citizen_id":"bob"}"#).await;
    assert_eq!(status, 403, "{body}");
    let rows = engine.wait_counted(2).await;
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|r| r.1 == "alice"));
    assert!(
        engine.duplicates().await.is_empty(),
        "no retry or change reached the engine: {:?}",
        engine.duplicates().await
    );

    // Bob's receipt for the same vote differs from Alice's: it is keyed by the citizen.
    let (_, bobs) = Http::as_caller("bob", &[]).post(&intake.url("/votes"), &ballot("law-1", "oui")).await;
    assert_ne!(bobs["receipt"].as_str(), Some(receipt.as_str()));

    intake.stop().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_vote_before_the_first_is_counted_is_a_recorded_duplicate() {
    let engine = Engine::start("intake_race").await;
    let intake = Intake::start(intake_args(&engine, &testing::amqp_url(), &engine.url, &[])).await;
    let carol = Http::as_caller("carol", &[]);
    // Both in flight at once: neither can see the other counted.
    let (url, oui, non) = (intake.url("/votes"), ballot("law-r", "oui"), ballot("law-r", "non"));
    let (first, second) = tokio::join!(carol.post(&url, &oui), carol.post(&url, &non));
    let (first, second) = (first.0, second.0);
    let rows = engine.wait_counted(1).await;
    assert_eq!(rows.len(), 1);
    if first == 202 && second == 202 {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(20);
        while engine.duplicates().await.is_empty() {
            assert!(tokio::time::Instant::now() < deadline, "the second vote is recorded as a duplicate");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert_eq!(engine.duplicates().await[0].1, "citizen_law");
    } else {
        // The one published second may already see the first counted.
        assert!([first, second].contains(&409) && [first, second].contains(&202), "{first} {second}");
    }
    intake.stop().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_json_errors_and_reach_nobody() {
    let engine = Engine::start("intake_bad").await;
    let intake = Intake::start(intake_args(&engine, &testing::amqp_url(), &engine.url, &[])).await;
    let url = intake.url("/votes");
    let dave = Http::as_caller("dave", &[]);
    let long = "x".repeat(129);
    for body in [
        ballot("law-1", "maybe"),
        ballot("", "oui"),
        ballot(&long, "oui"),
        r#"{"law_id":"law-1"}"#.to_owned(),
        r#"{"law_id":"law-1","choice":"oui","extra":1}"#.to_owned(),
        r#"{"law_id":1,"choice":"oui"}"#.to_owned(),
        "not json".to_owned(),
    ] {
        let (status, answer) = dave.post(&url, &body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().is_some_and(|e| !e.contains(&long)), "{answer}");
    }
    for token in [
        auth::expired_token("dave", &[]),
        auth::forged_token("dave", &[]),
        auth::alg_none_token("dave", &[]),
        auth::other_audience_token("dave", &[]),
    ] {
        let (status, answer) = Http::with_token(&token).post(&url, &ballot("law-1", "oui")).await;
        assert_eq!(status, 401, "{answer}");
    }
    let (status, _) = Http::default().post(&url, &ballot("law-1", "oui")).await;
    assert_eq!(status, 401);
    let (status, answer) = dave.post(&url, &format!(r#"{{"law_id":"{}","choice":"oui"}}"#, "y".repeat(5000))).await;
    assert_eq!(status, 413, "{answer}");
    // A citizen may not use the gateway's door.
    let (status, _) = dave.post(&intake.url("/votes/batch"), r#"{"votes":[]}"#).await;
    assert_eq!(status, 403);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert!(engine.counted().await.is_empty());
    intake.stop().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateways_votes_are_each_accepted_or_refused_on_their_own() {
    let engine = Engine::start("intake_gateway").await;
    let intake = Intake::start(intake_args(&engine, &testing::amqp_url(), &engine.url, &[])).await;
    let station = Http::as_caller("station-7", &["gateway"]);
    let mut votes: Vec<Value> =
        (0..1000).map(|i| json!({"citizen_id": format!("voter-{i}"), "law_id": "law-g", "choice": "oui"})).collect();
    votes[3] = json!({"citizen_id": "voter-3", "law_id": "law-g", "choice": "peut-etre"});
    votes[5] = json!({"citizen_id": "voter-5", "law_id": ""});
    votes[7] = json!("a string");
    let (status, body) = station.post(&intake.url("/votes/batch"), &json!({"votes": votes}).to_string()).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["accepted"], 997);
    let answers = body["votes"].as_array().unwrap();
    assert_eq!(answers.len(), 1000);
    for i in [3, 5, 7] {
        assert_eq!(answers[i]["status"], "refused", "{}", answers[i]);
        assert!(answers[i]["error"].as_str().unwrap().starts_with(&format!("votes[{i}]")), "{}", answers[i]);
    }
    let receipts: BTreeSet<String> = answers.iter().filter_map(|a| a["receipt"].as_str().map(str::to_owned)).collect();
    assert_eq!(receipts.len(), 997);
    let rows = engine.wait_counted(997).await;
    assert_eq!(rows.iter().map(|r| r.0.clone()).collect::<BTreeSet<_>>(), receipts);
    // The receipt is the citizen's own: the same vote through the citizen's door has it too.
    let (_, own) = Http::as_caller("voter-0", &[]).post(&intake.url("/votes"), &ballot("law-g", "oui")).await;
    assert!(receipts.contains(own["receipt"].as_str().unwrap()));

    let too_many: Vec<Value> =
        (0..1001).map(|i| json!({"citizen_id": format!("v{i}"), "law_id": "l", "choice": "oui"})).collect();
    let (status, _) = station.post(&intake.url("/votes/batch"), &json!({"votes": too_many}).to_string()).await;
    assert_eq!(status, 400);
    intake.stop().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_over_the_rate_gets_429_with_retry_after_and_others_do_not() {
    let engine = Engine::start("intake_rate").await;
    let args = intake_args(&engine, &testing::amqp_url(), &engine.url, &["--intake-rate-burst", "3"]);
    let intake = Intake::start(args).await;
    let client = reqwest::Client::new();
    let post = |who: &str, law: String| {
        client
            .post(intake.url("/votes"))
            .bearer_auth(auth::token(who, &[]))
            .header("content-type", "application/json")
            .body(ballot(&law, "oui"))
            .send()
    };
    for i in 0..3 {
        assert_eq!(post("eve", format!("law-{i}")).await.unwrap().status(), 202);
    }
    let refused = post("eve", "law-9".to_owned()).await.unwrap();
    assert_eq!(refused.status(), 429);
    let retry_after: u64 = refused.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry_after), "{retry_after}");
    assert!(refused.json::<Value>().await.unwrap()["error"].as_str().is_some());
    assert_eq!(post("frank", "law-9".to_owned()).await.unwrap().status(), 202);
    intake.stop().await;
    engine.stop().await;
}
