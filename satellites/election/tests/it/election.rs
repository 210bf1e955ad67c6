//! ElectionService against the real servers: its consumer (idempotency, ordering, dead-letters)
//! and its HTTP endpoints.

use crate::common;

use std::time::Duration;

use common::{World, world};
use serde_json::{Value, json};
use uuid::Uuid;
use vote_mq::Envelope;
use vote_mq::REJECT_REASON_HEADER;
use vote_satellite_kit::testing::{metric, next_event, no_event};

fn create(meeting: Uuid, item: Uuid) -> Envelope {
    Envelope::new(
        "agenda.election.create",
        "meeting-service",
        json!({"meeting_id": meeting, "agenda_item_id": item, "title": "Board"}),
    )
}

fn start(meeting: Uuid, item: Uuid) -> Envelope {
    Envelope::new("agenda.election.start", "meeting-service", json!({"meeting_id": meeting, "agenda_item_id": item}))
}

async fn nominate(w: &World, base: &str, item: Uuid, nominee: &str) -> (u16, Value) {
    w.post(&format!("{base}/elections/{item}/nominations"), &json!({"nominee": nominee}).to_string()).await
}

#[tokio::test]
async fn create_opens_nominations_once_and_start_publishes_voting_create_once() {
    let w = world().await;
    let mut voting = w.listen("voting.create").await;
    let e = w.election_service().await;
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    let created = create(meeting, item);
    w.publish(&created).await;
    w.publish(&created).await;
    w.publish(&create(meeting, item)).await; // another event id, same election
    let url = format!("{}/elections/{item}", e.base);
    let election = w.get_until(&url, |b| b["status"] == "nominating").await;
    assert_eq!(election["meeting_id"], meeting.to_string());
    assert_eq!(election["title"], "Board");

    for nominee in ["Alice", "Bob", "Alice", "Carol"] {
        let (status, body) = nominate(&w, &e.base, item, nominee).await;
        assert_eq!(status, 200, "{body}");
    }
    let started = start(meeting, item);
    w.publish(&started).await;
    w.publish(&started).await;
    let election = w.get_until(&url, |b| b["status"] == "voting").await;
    assert_eq!(election["nominees"], json!(["Alice", "Bob", "Carol"]));
    let poll_uuid = election["poll_uuid"].as_str().unwrap().to_owned();

    let event = next_event(&mut voting).await;
    assert_eq!(event.producer, "election-service");
    assert_eq!(
        event.data,
        json!({"vote": {"uuid": poll_uuid, "meeting_id": meeting.to_string(), "title": "Board", "pollType": "single",
                        "options": ["Alice", "Bob", "Carol"]}})
    );
    // A second start event (new id) changes nothing either.
    w.publish(&start(meeting, item)).await;
    no_event(&mut voting, Duration::from_millis(500)).await;
    assert_eq!(w.count("SELECT count(*) FROM elections WHERE agenda_item_id = $1", item).await, 1);

    let (status, answer) = nominate(&w, &e.base, item, "Dave").await;
    assert_eq!(status, 409, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("closed"));
    voting.close().await;
    e.stop().await;
}

#[tokio::test]
async fn a_start_before_its_create_is_retried_until_the_create_is_in() {
    let w = world().await;
    let e = w.election_service().await;
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    w.publish(&start(meeting, item)).await;
    w.publish(&create(meeting, item)).await;
    let election = w.get_until(&format!("{}/elections/{item}", e.base), |b| b["status"] == "cancelled").await;
    assert!(election["reason"].as_str().unwrap().contains("fewer than 2 nominees"));
    let metrics = w.metrics(&e).await;
    let retried = metric(&metrics, "events_retried_total").expect("events_retried_total exported");
    assert!(retried >= 1.0, "the start was retried at least once: {metrics}");
    e.stop().await;
}

#[tokio::test]
async fn a_start_for_an_unknown_election_is_dead_lettered_after_the_retries() {
    let w = world().await;
    let e = w.election_service().await;
    w.publish(&start(Uuid::new_v4(), Uuid::new_v4())).await;
    w.publish_raw("agenda.election.create", br#"{"event_type":"agenda.election.create"}"#.to_vec()).await;
    w.publish(&Envelope::new("agenda.election.create", "t", json!({"title": "no ids"}))).await;
    let dead = w.dead_letters(&e, 3).await;
    let mut reasons: Vec<String> = dead.iter().map(|d| d.header(REJECT_REASON_HEADER).unwrap()).collect();
    reasons.sort();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert!(reasons[0].starts_with("malformed: not an event envelope"), "{reasons:?}");
    assert!(reasons[1].starts_with("rejected: bad agenda.election.create data"), "{reasons:?}");
    assert!(reasons[2].starts_with("retries exhausted after 3 attempts: election"), "{reasons:?}");
    assert!(reasons[2].ends_with("not known yet"), "{reasons:?}");
    e.stop().await;
}

#[tokio::test]
async fn voting_completed_finalizes_once_and_ignores_other_polls() {
    let w = world().await;
    let e = w.election_service().await;
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    w.publish(&create(meeting, item)).await;
    let url = format!("{}/elections/{item}", e.base);
    w.get_until(&url, |b| b["status"] == "nominating").await;
    nominate(&w, &e.base, item, "A").await;
    nominate(&w, &e.base, item, "B").await;
    w.publish(&start(meeting, item)).await;
    let election = w.get_until(&url, |b| b["status"] == "voting").await;
    let poll = election["poll_uuid"].as_str().unwrap().to_owned();

    let other = json!({"uuid": Uuid::new_v4(), "meeting_id": meeting, "pollType": "single", "options": ["A", "B"]});
    w.publish(&Envelope::new("voting.completed", "voting-service", other)).await;
    let completed = Envelope::new(
        "voting.completed",
        "voting-service",
        json!({"uuid": poll, "meeting_id": meeting, "pollType": "single", "options": ["A", "B"]}),
    );
    w.publish(&completed).await;
    w.publish(&completed).await;
    w.get_until(&url, |b| b["status"] == "finalized").await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let metrics = w.metrics(&e).await;
    assert_eq!(metric(&metrics, "elections_finalized_total"), Some(1.0), "{metrics}");
    assert_eq!(w.dead_letters_waiting(&e).await, 0, "neither the other poll's event nor the copy is dead-lettered");
    e.stop().await;
}

#[tokio::test]
async fn election_endpoints_answer_json_400_404() {
    let w = world().await;
    let e = w.election_service().await;
    let unknown = Uuid::new_v4();
    let (status, answer) = w.get(&format!("{}/elections/{unknown}", e.base)).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some(format!("election {unknown} not found").as_str())));
    let (status, answer) = w.get(&format!("{}/elections/x", e.base)).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("election id must be a UUID")));
    let (status, answer) = nominate(&w, &e.base, unknown, "A").await;
    assert_eq!((status, answer["error"].as_str()), (404, Some(format!("election {unknown} not found").as_str())));
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    w.publish(&create(meeting, item)).await;
    w.get_until(&format!("{}/elections/{item}", e.base), |b| b["status"] == "nominating").await;
    for (body, expected) in [
        ("{", "not valid JSON"),
        ("{}", "missing 'nominee'"),
        (r#"{"nominee":["A"]}"#, "'nominee' must be"),
        (r#"{"nominee":"  "}"#, "'nominee' must be"),
    ] {
        let (status, answer) = w.post(&format!("{}/elections/{item}/nominations", e.base), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(expected), "{body}: {answer}");
    }
    e.stop().await;
}

/// An election in `voting` with nominees `A` and `B`: its meeting, id, URL and poll.
async fn voting_election(w: &World, base: &str) -> (Uuid, Uuid, String, String) {
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    w.publish(&create(meeting, item)).await;
    let url = format!("{base}/elections/{item}");
    w.get_until(&url, |b| b["status"] == "nominating").await;
    for nominee in ["A", "B"] {
        assert_eq!(nominate(w, base, item, nominee).await.0, 200);
    }
    w.publish(&start(meeting, item)).await;
    let poll = w.get_until(&url, |b| b["status"] == "voting").await["poll_uuid"].as_str().unwrap().to_owned();
    (meeting, item, url, poll)
}

#[tokio::test]
async fn a_completed_poll_that_is_not_the_elections_fails_it_and_is_dead_lettered() {
    let w = world().await;
    let e = w.election_service().await;
    for (field, value, says) in [
        ("options", json!(["X", "Y"]), "has the options [\"X\", \"Y\"], not the nominees [\"A\", \"B\"]"),
        ("meeting_id", json!(Uuid::new_v4()), "belongs to meeting"),
        ("pollType", json!("ranked"), "is of type 'ranked', not 'single'"),
    ] {
        let (meeting, _, url, poll) = voting_election(&w, &e.base).await;
        let mut data = json!({"uuid": poll, "meeting_id": meeting, "pollType": "single", "options": ["A", "B"],
            "results": {"winner": "X", "tied": [], "ballots": 1, "tallies": [{"option": "X", "votes": 1}, {"option": "Y", "votes": 0}]}});
        data[field] = value;
        w.publish(&Envelope::new("voting.completed", "voting-service", data)).await;
        let election = w.get_until(&url, |b| b["status"] == "failed").await;
        let reason = election["reason"].as_str().unwrap();
        assert!(reason.starts_with("the completed poll is not the poll this election asked for"), "{reason}");
        assert!(reason.contains(says), "{field}: {reason}");
        assert_eq!(election["results"], json!(null), "{field}: no winner recorded");
        let dead = w.dead_letters(&e, 1).await;
        assert_eq!(dead.len(), 1, "{field}");
        assert_eq!(dead[0].header(REJECT_REASON_HEADER).unwrap(), format!("rejected: {reason}"));
    }
    assert!(w.metrics(&e).await.contains("elections_failed_total 3"));
    e.stop().await;
}

#[tokio::test]
async fn a_refused_poll_fails_the_election_and_a_cancel_ends_it() {
    let w = world().await;
    let e = w.election_service().await;
    let (meeting, item, url, poll) = voting_election(&w, &e.base).await;
    let refused = json!({"uuid": poll, "reason": "at most 100 options are allowed"});
    w.publish(&Envelope::new("voting.refused", "voting-service", refused)).await;
    let election = w.get_until(&url, |b| b["status"] == "failed").await;
    assert_eq!(election["reason"], "the VotingService refused its poll: at most 100 options are allowed");
    w.publish(&Envelope::new(
        "agenda.election.cancel",
        "meeting-service",
        json!({"meeting_id": meeting, "agenda_item_id": item}),
    ))
    .await;
    let election = w.get_until(&url, |b| b["status"] == "cancelled").await;
    assert_eq!(election["reason"], "cancelled by a manager of the meeting");
    // A poll completing afterwards changes nothing.
    let late = json!({"uuid": poll, "meeting_id": meeting, "pollType": "single", "options": ["A", "B"]});
    w.publish(&Envelope::new("voting.completed", "voting-service", late)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(w.get(&url).await.1["status"], "cancelled");
    e.stop().await;
}

#[tokio::test]
async fn nominations_stop_at_what_a_poll_takes_and_refuse_look_alikes() {
    let w = world().await;
    let e = w.election_service().await;
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    w.publish(&create(meeting, item)).await;
    let url = format!("{}/elections/{item}", e.base);
    w.get_until(&url, |b| b["status"] == "nominating").await;
    assert_eq!(nominate(&w, &e.base, item, "Ann").await.0, 200);
    for (nominee, expected) in [
        ("Ann\u{200b}", "'nominee' must not contain invisible or formatting characters (it holds U+200B)"),
        ("\u{200b}", "'nominee' must not contain invisible or formatting characters (it holds U+200B)"),
        ("Ａnn", "nominees must be distinguishable: 'Ａnn' is confusable with 'Ann'"),
        ("\u{410}nn", "nominees must be distinguishable: '\u{410}nn' is confusable with 'Ann'"),
    ] {
        let (status, answer) = nominate(&w, &e.base, item, nominee).await;
        assert_eq!((status, answer["error"].as_str()), (400, Some(expected)), "{nominee:?}");
    }
    let (status, election) = nominate(&w, &e.base, item, " Ann ").await;
    assert_eq!((status, &election["nominees"]), (200, &json!(["Ann"])), "the same name again is a no-op");
    let (status, election) = nominate(&w, &e.base, item, "Jose\u{301}").await;
    assert_eq!((status, &election["nominees"]), (200, &json!(["Ann", "Jos\u{e9}"])), "stored composed");
    for i in 2..vote_satellite_kit::names::MAX_OPTIONS {
        assert_eq!(nominate(&w, &e.base, item, &format!("N{i}")).await.0, 200);
    }
    let (status, answer) = nominate(&w, &e.base, item, "One too many").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some(format!("election {item} has 100 nominees, the most a poll can take").as_str()))
    );
    let (_, election) = w.get(&url).await;
    assert_eq!(election["nominees"].as_array().unwrap().len(), 100);
    e.stop().await;
}

#[tokio::test]
async fn concurrent_nominations_on_a_one_connection_pool_all_answer_at_once() {
    // With one pooled connection, a request that held it while asking for a second waited for
    // the pool's timeout and answered 503 although its row was stored.
    let w = world().await;
    let e = w.election_service_with_pool(1).await;
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    w.publish(&create(meeting, item)).await;
    w.get_until(&format!("{}/elections/{item}", e.base), |b| b["status"] == "nominating").await;
    let started = std::time::Instant::now();
    let nominees: Vec<String> = (0..8).map(|i| format!("N{i}")).collect();
    let answers = futures::future::join_all(nominees.iter().map(|n| nominate(&w, &e.base, item, n))).await;
    let took = started.elapsed();
    for (status, body) in &answers {
        assert_eq!(*status, 200, "{body}");
    }
    assert!(took < Duration::from_secs(5), "8 nominations took {took:?}");
    assert_eq!(w.count("SELECT count(*) FROM nominations WHERE agenda_item_id = $1", item).await, 8);
    e.stop().await;
}

#[tokio::test]
async fn a_start_or_cancel_naming_another_meeting_is_dead_lettered() {
    let w = world().await;
    let e = w.election_service().await;
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    w.publish(&create(meeting, item)).await;
    let url = format!("{}/elections/{item}", e.base);
    w.get_until(&url, |b| b["status"] == "nominating").await;
    let other = Uuid::new_v4();
    w.publish(&start(other, item)).await;
    let cancel = json!({"meeting_id": other, "agenda_item_id": item});
    w.publish(&Envelope::new("agenda.election.cancel", "meeting-service", cancel)).await;
    let dead = w.dead_letters(&e, 2).await;
    assert_eq!(dead.len(), 2);
    for letter in &dead {
        assert_eq!(
            letter.header(REJECT_REASON_HEADER).unwrap(),
            format!("rejected: election {item} belongs to meeting {meeting}, not {other}")
        );
    }
    assert_eq!(w.get(&url).await.1["status"], "nominating");
    e.stop().await;
}
