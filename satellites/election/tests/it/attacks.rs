//! Attacks on the voting chain's HTTP APIs, each with the answer it must get and proof that the
//! database did not change (RELIABILITY.md lists them): forged, unsigned, confused, expired,
//! premature and foreign tokens, a meeting edited and a poll created or closed by someone who
//! does not manage the meeting, a ballot in another's name and a replayed one, NUL characters,
//! oversized bodies and headers.

use crate::common;

use std::time::Duration;

use common::{CALLER, world};
use serde_json::{Value, json};
use vote_satellite_kit::auth::testing::*;
use vote_satellite_kit::testing::Http;

/// Rows of every table the attacks could touch, and the polls' statuses.
const SNAPSHOT: &str = "SELECT (SELECT count(*) FROM meetings) || '/' || (SELECT count(*) FROM agenda_items) || '/' || \
     (SELECT count(*) FROM polls) || '/' || (SELECT count(*) FROM poll_options) || '/' || \
     (SELECT count(*) FROM polls WHERE status = 'closed') || '/' || (SELECT count(*) FROM poll_ballots) || '/' || \
     (SELECT count(*) FROM agenda_items WHERE status <> 'created')";

async fn snapshot(w: &common::World) -> String {
    w.db.connect().await.unwrap().query_one(SNAPSHOT, &[]).await.unwrap().get(0)
}

/// Sends `body` to `url` with `token` (none when empty); the answer must be `status` with a
/// JSON error, and the database unchanged. Prints the table row.
async fn attack(w: &common::World, name: &str, url: &str, token: &str, body: &str, status: u16) -> Value {
    let before = snapshot(w).await;
    let http = if token.is_empty() { Http::default() } else { Http::with_token(token) };
    let (got, answer) = http.post(url, body).await;
    assert_eq!(got, status, "{name}: {answer}");
    let error = answer["error"].as_str().unwrap_or_else(|| panic!("{name}: no JSON error in {answer}"));
    if !token.is_empty() {
        assert!(!error.contains(token), "{name}: the answer quotes the token");
    }
    assert_eq!(snapshot(w).await, before, "{name}: the database changed");
    println!("| {name} | {got} `{error}` | unchanged ({before}) |");
    answer
}

#[tokio::test]
async fn attacks_get_4xx_and_change_nothing() {
    let w = world().await;
    let (m, p) = (w.meeting_service().await, w.poll_service().await);

    // A meeting of alice's with an election item, and a poll of that meeting, made legitimately.
    let (status, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM"}"#).await;
    assert_eq!(status, 201, "{meeting}");
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    assert_eq!(meeting["created_by"], CALLER);
    let (status, item) = w.post(&format!("{}/meetings/{meeting_id}/elections", m.base), r#"{"title":"Chair"}"#).await;
    assert_eq!(status, 201, "{item}");
    let item_id = item["id"].as_str().unwrap().to_owned();
    // The poll-service learns alice manages the meeting from meeting.created.
    let poll_body =
        json!({"vote": {"meeting_id": meeting_id, "pollType": "single", "options": ["A", "B"]}}).to_string();
    let polls = format!("{}/polls/", p.base);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let created = loop {
        let (status, answer) = w.post(&polls, &poll_body).await;
        if status == 200 {
            break answer;
        }
        assert!(tokio::time::Instant::now() < deadline, "the poll-service never learned alice manages it: {answer}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let poll_uuid = created["uuid"].as_str().unwrap().to_owned();
    let close = format!("{}/polls/{poll_uuid}/close", p.base);
    let agenda = format!("{}/meetings/{meeting_id}/elections", m.base);
    let start = format!("{agenda}/{item_id}/start");
    let manager = [format!("manager:{meeting_id}")];
    let manager: Vec<&str> = manager.iter().map(String::as_str).collect();

    println!("| attack | answer | database |\n|---|---|---|");
    attack(&w, "no token: close a poll", &close, "", "", 401).await;
    attack(&w, "forged signature (manager role)", &close, &forged_token("mallory", &manager), "", 401).await;
    attack(&w, "alg none (manager role)", &close, &alg_none_token("mallory", &manager), "", 401).await;
    attack(
        &w,
        "key confusion: HS256 with the RSA public key",
        &close,
        &key_confusion_token("mallory", &manager),
        "",
        401,
    )
    .await;
    attack(&w, "expired token (manager role)", &close, &expired_token("mallory", &manager), "", 401).await;
    attack(&w, "token not valid yet", &close, &not_yet_valid_token("mallory", &manager), "", 401).await;
    attack(&w, "another issuer", &close, &other_issuer_token("mallory", &manager), "", 401).await;
    attack(&w, "another audience", &close, &other_audience_token("mallory", &manager), "", 401).await;
    attack(&w, "close a poll, not a manager", &close, &token("mallory", &[]), "", 403).await;
    attack(&w, "close a poll, manager of another meeting", &close, &token("mallory", &["manager:m1"]), "", 403).await;
    attack(&w, "create a poll, not a manager", &polls, &token("mallory", &[]), &poll_body, 403).await;
    attack(&w, "edit the agenda, not a manager", &agenda, &token("mallory", &[]), r#"{"title":"Coup"}"#, 403).await;
    attack(&w, "start the election, not a manager", &start, &token("mallory", &[]), "", 403).await;
    let impersonation = r#"{"title":"Fake","created_by":"alice"}"#;
    attack(
        &w,
        "create a meeting in another's name",
        &format!("{}/meetings", m.base),
        &token("mallory", &[]),
        impersonation,
        403,
    )
    .await;
    let nul =
        json!({"vote": {"meeting_id": format!("{meeting_id}\u{0}"), "pollType": "single", "options": ["A", "B"]}});
    let answer = attack(&w, "NUL in meeting_id", &polls, &token(CALLER, &manager), &nul.to_string(), 400).await;
    assert_eq!(answer["error"], "'vote.meeting_id' must not contain a NUL character");
    let huge = json!({"title": "x".repeat(100 * 1024)}).to_string();
    attack(&w, "oversized body (100 KiB)", &agenda, &token(CALLER, &manager), &huge, 413).await;
    attack(&w, "oversized token (16 KiB)", &close, &"a".repeat(16 * 1024), "", 401).await;
    let wrong_roles = token_with(CALLER, &[], |c| c["roles"] = json!(format!("manager:{meeting_id}")));
    let answer = attack(&w, "a `roles` claim that is not a list", &close, &wrong_roles, "", 401).await;
    assert_eq!(answer["error"], "the bearer token lacks a valid 'roles' claim");
    let answer =
        attack(&w, "a `sub` with trailing whitespace (`\"v5 \"`)", &close, &token("v5 ", &manager), "", 401).await;
    assert_eq!(answer["error"], "the bearer token lacks a valid 'sub' claim");
    for (options, error) in [
        (
            json!(["Bob", "Bob\u{200b}"]),
            "'options[1]' must not contain invisible or formatting characters (it holds U+200B)",
        ),
        (json!(["Bob", "Ｂob"]), "options must be distinguishable: 'Ｂob' is confusable with 'Bob'"),
        (json!(["Bob", "\u{412}ob"]), "options must be distinguishable: '\u{412}ob' is confusable with 'Bob'"),
        (json!(["Jos\u{e9}", "Jose\u{301}"]), "options must be distinct: 'Jos\u{e9}' is given twice"),
        (
            json!(["\u{200b}", "Bob"]),
            "'options[0]' must not contain invisible or formatting characters (it holds U+200B)",
        ),
    ] {
        let body = json!({"vote": {"meeting_id": meeting_id, "pollType": "single", "options": options}}).to_string();
        let answer =
            attack(&w, &format!("look-alike options {options}"), &polls, &token(CALLER, &manager), &body, 400).await;
        assert_eq!(answer["error"], error);
    }

    // A header far over the server's limit is refused before any handler, with a 4xx.
    let before = snapshot(&w).await;
    let response = reqwest::Client::new()
        .post(&close)
        .header("x-padding", "a".repeat(1024 * 1024))
        .bearer_auth(token(CALLER, &manager))
        .send()
        .await;
    match response {
        Ok(r) => assert!(r.status().is_client_error(), "oversized header: {}", r.status()),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "oversized header: {e}"),
    }
    assert_eq!(snapshot(&w).await, before, "oversized header: the database changed");

    // Ballots: only in one's own name, and a replay changes nothing.
    let ballots = format!("{}/polls/{poll_uuid}/ballots", p.base);
    let (status, receipt) = Http::as_caller("v1", &[]).post(&ballots, r#"{"choice":"A"}"#).await;
    assert_eq!(status, 201, "{receipt}");
    let answer = attack(
        &w,
        "a ballot for another voter",
        &ballots,
        &token("mallory", &[]),
        r#"{"voter_id":"v1","choice":"B"}"#,
        403,
    )
    .await;
    assert_eq!(answer["error"], "'voter_id' must be the authenticated caller");
    let answer = attack(
        &w,
        "a ballot for a look-alike of an option",
        &ballots,
        &token("v2", &[]),
        r#"{"choice":"\u0410"}"#,
        400,
    )
    .await;
    assert_eq!(answer["error"], "'\u{410}' is not an option of this poll: it is confusable with the option 'A'");
    let before = snapshot(&w).await;
    let (status, replayed) = Http::as_caller("v1", &[]).post(&ballots, r#"{"choice":"A"}"#).await;
    assert_eq!((status, &replayed), (200, &receipt), "a replayed ballot answers the first one's receipt");
    assert_eq!(snapshot(&w).await, before, "a replayed ballot: the database changed");
    println!("| a replayed ballot | 200, the first ballot's receipt | unchanged ({before}) |");

    // And the managers themselves still may.
    let (status, closed) = w.post(&close, "").await;
    assert_eq!((status, closed["status"].as_str()), (200, Some("closed")), "{closed}");
    let delegate = Http::as_caller("bob", &manager);
    let (status, _) = delegate.post(&start, "").await;
    assert_eq!(status, 200, "a manager by token role may start the election");
    p.stop().await;
    m.stop().await;
}

/// Finding: a manager of any meeting replaced an election's result by creating, over HTTP, the
/// poll the election had reserved, while the poll-service had not consumed the election's
/// `voting.create` yet. Here the poll consumer is held back deterministically: its queue
/// collects the events while an instance that consumes nothing of the election's serves HTTP.
#[tokio::test]
async fn an_elections_poll_cannot_be_pre_empted_while_the_poll_consumer_lags() {
    let w = world().await;
    let (m, e) = (w.meeting_service().await, w.election_service().await);
    let held = w.poll_queue();
    let settings = w.poll_settings(held.clone());
    vote_mq::declare_topology(&settings.service.amqp_url, &held.subscription(&settings.service, "held"))
        .await
        .expect("declare the held-back queue");
    let front =
        w.poll_service_on(vote_satellite_kit::testing::queue_settings("voting-front", &["meeting.created"])).await;

    let (status, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM"}"#).await;
    assert_eq!(status, 201, "{meeting}");
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let (_, item) = w.post(&format!("{}/meetings/{meeting_id}/elections", m.base), r#"{"title":"Chair"}"#).await;
    let item_id = item["id"].as_str().unwrap().to_owned();
    let election_url = format!("{}/elections/{item_id}", e.base);
    w.get_until(&election_url, |b| b["status"] == "nominating").await;
    for nominee in ["Alice", "Bob"] {
        let (status, _) =
            w.post(&format!("{election_url}/nominations"), &json!({"nominee": nominee}).to_string()).await;
        assert_eq!(status, 200);
    }
    let (status, _) = w.post(&format!("{}/meetings/{meeting_id}/elections/{item_id}/start", m.base), "").await;
    assert_eq!(status, 200);
    let poll_uuid =
        w.get_until(&election_url, |b| b["status"] == "voting").await["poll_uuid"].as_str().unwrap().to_owned();

    // Mallory manages a meeting of her own and asks for the election's poll id.
    let mallory_meeting = uuid::Uuid::new_v4().to_string();
    let mallory = Http::as_caller("mallory", &[&format!("manager:{mallory_meeting}")]);
    let claim = json!({"vote": {"uuid": poll_uuid, "meeting_id": mallory_meeting, "pollType": "single", "options": ["X", "Y"]}});
    let before = snapshot(&w).await;
    let (status, answer) = mallory.post(&format!("{}/polls/", front.base), &claim.to_string()).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (400, Some("'vote.uuid' is chosen by the VotingService: leave it out"))
    );
    assert_eq!(snapshot(&w).await, before, "the claim changed the database");
    println!(
        "| claim an election's reserved poll id over HTTP while the poll consumer lags | {status} `{}` | unchanged ({before}) |",
        answer["error"]
    );

    // The poll consumer catches up: the election's own poll, its ballots, its result.
    let p = w.poll_service_on(held).await;
    let poll_url = format!("{}/polls/{poll_uuid}", p.base);
    let poll = w.get_until(&format!("{poll_url}/"), |_| true).await;
    assert_eq!((poll["meeting_id"].as_str(), &poll["options"]), (Some(meeting_id.as_str()), &json!(["Alice", "Bob"])));
    let (status, _) = Http::as_caller("v1", &[]).post(&format!("{poll_url}/ballots"), r#"{"choice":"Bob"}"#).await;
    assert_eq!(status, 201);
    let (status, _) = w.post(&format!("{poll_url}/close"), "").await;
    assert_eq!(status, 200);
    let election = w.get_until(&election_url, |b| b["status"] == "finalized").await;
    assert_eq!(election["results"]["winner"], "Bob");
    p.stop().await;
    front.stop().await;
    e.stop().await;
    m.stop().await;
}
