//! The whole chain across the three services, over HTTP and the broker only, as
//! `satellites/README.md` walks it with curl: meeting -> election item -> nominations -> start
//! -> poll created from voting.create -> ballots -> poll closed and counted -> election
//! finalized with the winner and the tallies.

mod common;

use common::world;
use serde_json::json;
use vote_satellite_kit::testing::Http;

#[tokio::test]
async fn meeting_to_an_election_with_a_winner() {
    let w = world().await;
    let (m, e, p) = (w.meeting_service().await, w.election_service().await, w.poll_service().await);

    let (status, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM","created_by":"alice"}"#).await;
    assert_eq!(status, 201);
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let (status, item) = w.post(&format!("{}/meetings/{meeting_id}/elections", m.base), r#"{"title":"Chair"}"#).await;
    assert_eq!(status, 201);
    let item_id = item["id"].as_str().unwrap().to_owned();

    let election_url = format!("{}/elections/{item_id}", e.base);
    let election = w.get_until(&election_url, |b| b["status"] == "nominating").await;
    assert_eq!(election["results"], json!(null));
    for nominee in ["Alice", "Bob", "Carol"] {
        let (status, _) =
            w.post(&format!("{election_url}/nominations"), &json!({"nominee": nominee}).to_string()).await;
        assert_eq!(status, 200);
    }
    let (status, _) = w.post(&format!("{}/meetings/{meeting_id}/elections/{item_id}/start", m.base), "").await;
    assert_eq!(status, 200);

    let election = w.get_until(&election_url, |b| b["status"] == "voting").await;
    let poll_uuid = election["poll_uuid"].as_str().unwrap().to_owned();
    let poll_url = format!("{}/polls/{poll_uuid}", p.base);
    let poll = w.get_until(&format!("{poll_url}/"), |_| true).await;
    assert_eq!(poll["meeting_id"], meeting_id.as_str());
    assert_eq!(poll["pollType"], "single");
    assert_eq!(poll["options"], json!(["Alice", "Bob", "Carol"]));

    for (voter, choice) in [("v1", "Bob"), ("v2", "Alice"), ("v3", "Bob"), ("v4", "Carol")] {
        let (status, receipt) = Http::as_caller(voter, &[])
            .post(&format!("{poll_url}/ballots"), &json!({"voter_id": voter, "choice": choice}).to_string())
            .await;
        assert_eq!(status, 201, "{receipt}");
    }
    let (status, _) = w.get(&format!("{poll_url}/results")).await;
    assert_eq!(status, 409, "no results while the poll is open");

    let (status, closed) = w.post(&format!("{poll_url}/close"), "").await;
    assert_eq!(status, 200);
    assert_eq!(closed["status"], "closed");
    let tallies =
        json!([{"option": "Alice", "votes": 1}, {"option": "Bob", "votes": 2}, {"option": "Carol", "votes": 1}]);
    assert_eq!(closed["results"]["winner"], "Bob");
    assert_eq!(closed["results"]["tallies"], tallies);
    assert_eq!(w.get(&format!("{poll_url}/results")).await, (200, closed.clone()));

    let election = w.get_until(&election_url, |b| b["status"] == "finalized").await;
    assert_eq!(election["results"], json!({"winner": "Bob", "tied": [], "ballots": 4, "tallies": tallies}));
    w.get_until(&format!("{}/meetings/{meeting_id}", m.base), |b| b["managers"] == json!(["alice"])).await;

    m.stop().await;
    e.stop().await;
    p.stop().await;
}
