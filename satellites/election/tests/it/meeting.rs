//! MeetingService against the real servers: HTTP endpoints, the events they publish, and the
//! `meeting.created` consumer that grants the manager role.

use crate::common;

use std::time::Duration;

use common::world;
use serde_json::json;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_mq::REJECT_REASON_HEADER;
use vote_satellite_kit::testing::{metric, next_event};

#[tokio::test]
async fn creating_a_meeting_publishes_meeting_created_and_grants_manager() {
    let w = world().await;
    let mut created = w.listen("meeting.created").await;
    let m = w.meeting_service().await;
    let (status, meeting) =
        w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM 2026","created_by":"alice"}"#).await;
    assert_eq!(status, 201, "{meeting}");
    assert_eq!(meeting["title"], "AGM 2026");
    assert_eq!(meeting["created_by"], "alice");
    let id = meeting["id"].as_str().unwrap().to_owned();

    let event = next_event(&mut created).await;
    assert_eq!(event.event_type, "meeting.created");
    assert_eq!(event.producer, "meeting-service");
    assert_eq!(event.data, json!({"meeting_id": id, "title": "AGM 2026", "created_by": "alice"}));

    let shown = w.get_until(&format!("{}/meetings/{id}", m.base), |b| b["managers"] == json!(["alice"])).await;
    assert_eq!(shown["agenda"], json!([]));
    assert_eq!(metric(&w.metrics(&m).await, "meetings_created_total"), Some(1.0));
    created.close().await;
    m.stop().await;
}

#[tokio::test]
async fn meeting_endpoints_answer_json_400_404() {
    let w = world().await;
    let m = w.meeting_service().await;
    for (body, expected) in [
        ("", "not valid JSON"),
        ("[]", "must be a JSON object"),
        (r#"{"created_by":"alice"}"#, "missing 'title'"),
        (r#"{"title":5,"created_by":"alice"}"#, "'title' must be"),
        (r#"{"title":"t","created_by":""}"#, "'created_by' must be"),
    ] {
        let (status, answer) = w.post(&format!("{}/meetings", m.base), body).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert!(answer["error"].as_str().unwrap().contains(expected), "{body}: {answer}");
    }
    let unknown = Uuid::new_v4();
    let (status, answer) = w.get(&format!("{}/meetings/{unknown}", m.base)).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some(format!("meeting {unknown} not found").as_str())));
    let (status, answer) = w.get(&format!("{}/meetings/nope", m.base)).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("meeting id must be a UUID")));

    let (status, answer) = w.post(&format!("{}/meetings/{unknown}/elections", m.base), r#"{"title":"x"}"#).await;
    assert_eq!((status, answer["error"].as_str()), (404, Some(format!("meeting {unknown} not found").as_str())));
    let (_, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"t","created_by":"alice"}"#).await;
    let id = meeting["id"].as_str().unwrap();
    let (status, answer) = w.post(&format!("{}/meetings/{id}/elections", m.base), r#"{"name":"x"}"#).await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("missing 'title'")));
    let (status, answer) = w.post(&format!("{}/meetings/{id}/elections/{unknown}/start", m.base), "").await;
    let expected = format!("agenda item {unknown} of meeting {id} not found");
    assert_eq!((status, answer["error"].as_str()), (404, Some(expected.as_str())));
    let (status, answer) = w.post(&format!("{}/meetings/{id}/elections/bad/start", m.base), "").await;
    assert_eq!((status, answer["error"].as_str()), (400, Some("agenda item id must be a UUID")));
    m.stop().await;
}

#[tokio::test]
async fn election_items_publish_create_then_start_once() {
    let w = world().await;
    let mut agenda = w.listen("agenda.election.*").await;
    let m = w.meeting_service().await;
    let (_, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"t","created_by":"alice"}"#).await;
    let id = meeting["id"].as_str().unwrap().to_owned();

    let (status, item) = w.post(&format!("{}/meetings/{id}/elections", m.base), r#"{"title":"Board"}"#).await;
    assert_eq!(status, 201, "{item}");
    assert_eq!((item["kind"].as_str(), item["status"].as_str()), (Some("election"), Some("created")));
    let item_id = item["id"].as_str().unwrap().to_owned();
    let event = next_event(&mut agenda).await;
    assert_eq!(event.event_type, "agenda.election.create");
    assert_eq!(event.data, json!({"meeting_id": id, "agenda_item_id": item_id, "title": "Board", "seats": 1}));

    let start = format!("{}/meetings/{id}/elections/{item_id}/start", m.base);
    let (status, started) = w.post(&start, "").await;
    assert_eq!(status, 200);
    assert_eq!(started["status"], "started");
    let event = next_event(&mut agenda).await;
    assert_eq!(event.event_type, "agenda.election.start");
    assert_eq!(event.data, json!({"meeting_id": id, "agenda_item_id": item_id}));

    let (status, answer) = w.post(&start, "").await;
    assert_eq!(status, 409, "{answer}");
    vote_satellite_kit::testing::no_event(&mut agenda, Duration::from_millis(300)).await;

    let (_, shown) = w.get(&format!("{}/meetings/{id}", m.base)).await;
    assert_eq!(shown["agenda"][0]["id"], item_id.as_str());
    assert_eq!(shown["agenda"][0]["status"], "started");
    agenda.close().await;
    m.stop().await;
}

#[tokio::test]
async fn meeting_created_is_applied_once_and_bad_data_is_dead_lettered() {
    let w = world().await;
    let m = w.meeting_service().await;
    let meeting_id = Uuid::new_v4();
    let event =
        Envelope::new("meeting.created", "t", json!({"meeting_id": meeting_id, "title": "x", "created_by": "bob"}));
    w.publish(&event).await;
    w.publish(&event).await;
    let bad = Envelope::new("meeting.created", "t", json!({"meeting_id": "not-a-uuid"}));
    w.publish(&bad).await;
    let dead = w.dead_letters(&m, 1).await;
    assert_eq!(dead.len(), 1);
    let reason = dead[0].header(REJECT_REASON_HEADER).unwrap();
    assert!(reason.starts_with("rejected: bad meeting.created data"), "{reason}");
    // The dead-lettered event came last, so both copies were handled by now.
    assert_eq!(w.count("SELECT count(*) FROM meeting_permissions WHERE meeting_id = $1", meeting_id).await, 1);
    let marks = w.count("SELECT count(*) FROM processed_events WHERE event_id = $1", event.event_id).await;
    assert_eq!(marks, 1);
    let metrics = w.metrics(&m).await;
    assert_eq!(metric(&metrics, "events_handled_total"), Some(2.0), "{metrics}");
    assert_eq!(metric(&metrics, r#"events_dead_lettered_total{reason="rejected"}"#), Some(1.0), "{metrics}");
    m.stop().await;
}

#[tokio::test]
async fn a_manager_cancels_an_election_item_once_and_others_may_not() {
    let w = world().await;
    let mut cancelled = w.listen("agenda.election.cancel").await;
    let m = w.meeting_service().await;
    let (_, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM"}"#).await;
    let id = meeting["id"].as_str().unwrap().to_owned();
    let (_, item) = w.post(&format!("{}/meetings/{id}/elections", m.base), r#"{"title":"Chair"}"#).await;
    let item_id = item["id"].as_str().unwrap().to_owned();
    let start = format!("{}/meetings/{id}/elections/{item_id}/start", m.base);
    let cancel = format!("{}/meetings/{id}/elections/{item_id}/cancel", m.base);
    assert_eq!(w.post(&start, "").await.0, 200);
    let (status, answer) = vote_satellite_kit::testing::Http::as_caller("mallory", &[]).post(&cancel, "").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (403, Some(format!("only a manager of meeting {id} may do this").as_str()))
    );
    let (status, item) = w.post(&cancel, "").await;
    assert_eq!((status, item["status"].as_str()), (200, Some("cancelled")), "{item}");
    let event = next_event(&mut cancelled).await;
    assert_eq!(event.data, json!({"meeting_id": id, "agenda_item_id": item_id}));
    let (status, answer) = w.post(&cancel, "").await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some(format!("agenda item {item_id} was cancelled already").as_str()))
    );
    let (status, _) = w.post(&format!("{}/meetings/{id}/elections/{}/cancel", m.base, Uuid::new_v4()), "").await;
    assert_eq!(status, 404);
    cancelled.close().await;
    m.stop().await;
}

#[tokio::test]
async fn concurrent_agenda_edits_on_a_one_connection_pool_all_answer_at_once() {
    // With one pooled connection, adding an item held it for its transaction while the manager
    // check asked for a second one: the request waited for the pool's timeout, then a 503.
    let w = world().await;
    let m = w.meeting_service_with_pool(1).await;
    let (_, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM"}"#).await;
    let id = meeting["id"].as_str().unwrap().to_owned();
    let url = format!("{}/meetings/{id}/elections", m.base);
    let started = std::time::Instant::now();
    let answers = futures::future::join_all((0..8).map(|_| w.post(&url, r#"{"title":"Seat"}"#))).await;
    let took = started.elapsed();
    for (status, body) in &answers {
        assert_eq!(*status, 201, "{body}");
    }
    assert!(took < Duration::from_secs(5), "8 agenda items took {took:?}");
    let shown = w.get(&format!("{}/meetings/{id}", m.base)).await.1;
    assert_eq!(shown["agenda"].as_array().unwrap().len(), 8);
    let item_id = shown["agenda"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = w.post(&format!("{url}/{item_id}/start"), "").await;
    assert_eq!(status, 200, "starting holds one connection too");
    m.stop().await;
}
