//! ElectionService: `voting.completed` with results finalizes the election with them, once.

use crate::common;

use std::time::Duration;

use common::world;
use serde_json::json;
use uuid::Uuid;
use vote_mq::Envelope;

#[tokio::test]
async fn results_are_stored_once_and_a_redelivery_or_a_later_event_changes_nothing() {
    let w = world().await;
    let e = w.election_service().await;
    let (meeting, item) = (Uuid::new_v4(), Uuid::new_v4());
    let create = json!({"meeting_id": meeting, "agenda_item_id": item, "title": "Board"});
    w.publish(&Envelope::new("agenda.election.create", "meeting-service", create)).await;
    let url = format!("{}/elections/{item}", e.base);
    w.get_until(&url, |b| b["status"] == "nominating").await;
    for nominee in ["A", "B"] {
        w.post(&format!("{url}/nominations"), &json!({"nominee": nominee}).to_string()).await;
    }
    let start = json!({"meeting_id": meeting, "agenda_item_id": item});
    w.publish(&Envelope::new("agenda.election.start", "meeting-service", start)).await;
    let poll = w.get_until(&url, |b| b["status"] == "voting").await["poll_uuid"].as_str().unwrap().to_owned();

    let results = |winner: Option<&str>, a: u64, b: u64| {
        json!({"winner": winner, "tied": if winner.is_none() { json!(["A", "B"]) } else { json!([]) },
               "ballots": a + b, "exhausted": 0, "method": "plurality", "rounds": [],
               "tallies": [{"option": "A", "votes": a}, {"option": "B", "votes": b}]})
    };
    let completed = Envelope::new(
        "voting.completed",
        "voting-service",
        json!({"uuid": poll, "meeting_id": meeting, "pollType": "single", "status": "closed", "options": ["A", "B"], "results": results(Some("B"), 1, 2)}),
    );
    w.publish(&completed).await;
    w.publish(&completed).await;
    let later = Envelope::new(
        "voting.completed",
        "voting-service",
        json!({"uuid": poll, "meeting_id": meeting, "pollType": "single", "status": "closed", "options": ["A", "B"], "results": results(None, 2, 2)}),
    );
    w.publish(&later).await;
    let election = w.get_until(&url, |b| b["status"] == "finalized").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let expected = json!({"winner": "B", "elected": ["B"], "tied": [], "ballots": 3,
                          "tallies": [{"option": "A", "votes": 1}, {"option": "B", "votes": 2}]});
    assert_eq!(election["results"], expected);
    assert_eq!(w.get(&url).await.1["results"], expected, "the later event changed nothing");
    assert!(w.metrics(&e).await.contains("elections_finalized_total 1"));
    assert!(w.dead_letters(&e, 0).await.is_empty());
    e.stop().await;
}
