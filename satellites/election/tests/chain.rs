//! The whole chain across the three services, over HTTP and the broker only:
//! meeting -> election item -> nominations -> start -> poll created from voting.create ->
//! poll closed -> election finalized.

mod common;

use common::world;
use serde_json::json;

#[tokio::test]
async fn meeting_to_finalized_election() {
    let w = world().await;
    let (m, e, p) = (w.meeting_service().await, w.election_service().await, w.poll_service().await);

    let (status, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM","created_by":"alice"}"#).await;
    assert_eq!(status, 201);
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let (status, item) = w.post(&format!("{}/meetings/{meeting_id}/elections", m.base), r#"{"title":"Chair"}"#).await;
    assert_eq!(status, 201);
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

    let election = w.get_until(&election_url, |b| b["status"] == "voting").await;
    let poll_uuid = election["poll_uuid"].as_str().unwrap().to_owned();
    let poll = w.get_until(&format!("{}/polls/{poll_uuid}/", p.base), |_| true).await;
    assert_eq!(poll["meeting_id"], meeting_id.as_str());
    assert_eq!(poll["pollType"], "single");
    assert_eq!(poll["options"], json!(["Alice", "Bob"]));

    let (status, closed) = w.post(&format!("{}/polls/{poll_uuid}/close", p.base), "").await;
    assert_eq!(status, 200);
    assert_eq!(closed["status"], "closed");
    w.get_until(&election_url, |b| b["status"] == "finalized").await;
    w.get_until(&format!("{}/meetings/{meeting_id}", m.base), |b| b["managers"] == json!(["alice"])).await;

    m.stop().await;
    e.stop().await;
    p.stop().await;
}
