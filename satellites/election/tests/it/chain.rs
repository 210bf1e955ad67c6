//! The whole chain across the three services, over HTTP and the broker only, as
//! `satellites/README.md` walks it with curl: meeting -> election item -> nominations -> start
//! -> poll created from voting.create -> ballots -> poll closed and counted -> election
//! finalized with the winner and the tallies.

use crate::common;

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
    assert_eq!(
        election["results"],
        json!({"winner": "Bob", "elected": ["Bob"], "tied": [], "ballots": 4, "tallies": tallies})
    );
    w.get_until(&format!("{}/meetings/{meeting_id}", m.base), |b| b["managers"] == json!(["alice"])).await;

    m.stop().await;
    e.stop().await;
    p.stop().await;
}

/// An election for 3 seats: the poll is ranked, titled as the election and counted by STV; the
/// election stores those elected and the fractional votes of the last round.
#[tokio::test]
async fn an_election_for_three_seats_is_counted_by_stv() {
    let w = world().await;
    let (m, e, p) = (w.meeting_service().await, w.election_service().await, w.poll_service().await);
    let (_, meeting) = w.post(&format!("{}/meetings", m.base), r#"{"title":"AGM","created_by":"alice"}"#).await;
    let meeting_id = meeting["id"].as_str().unwrap().to_owned();
    let elections = format!("{}/meetings/{meeting_id}/elections", m.base);
    for bad in
        [r#"{"title":"Board","seats":0}"#, r#"{"title":"Board","seats":101}"#, r#"{"title":"Board","seats":"3"}"#]
    {
        let (status, answer) = w.post(&elections, bad).await;
        assert_eq!(
            (status, answer["error"].as_str()),
            (400, Some("'seats' must be a whole number from 1 to 100")),
            "{bad}"
        );
    }
    let (status, item) = w.post(&elections, r#"{"title":"Board","seats":3}"#).await;
    assert_eq!(status, 201, "{item}");
    let item_id = item["id"].as_str().unwrap().to_owned();
    let election_url = format!("{}/elections/{item_id}", e.base);
    let election = w.get_until(&election_url, |b| b["status"] == "nominating").await;
    assert_eq!(election["seats"], 3);
    for nominee in ["Ann", "Bo", "Cy", "Di", "Ed"] {
        let (status, _) =
            w.post(&format!("{election_url}/nominations"), &json!({"nominee": nominee}).to_string()).await;
        assert_eq!(status, 200);
    }
    let (status, _) = w.post(&format!("{}/meetings/{meeting_id}/elections/{item_id}/start", m.base), "").await;
    assert_eq!(status, 200);
    let election = w.get_until(&election_url, |b| b["status"] == "voting").await;
    let poll_url = format!("{}/polls/{}", p.base, election["poll_uuid"].as_str().unwrap());
    let poll = w.get_until(&format!("{poll_url}/"), |_| true).await;
    assert_eq!(
        (poll["pollType"].as_str(), poll["seats"].as_u64(), poll["title"].as_str()),
        (Some("ranked"), Some(3), Some("Board"))
    );
    let ballots = [
        (5, json!(["Ann", "Bo"])),
        (3, json!(["Bo", "Ann"])),
        (4, json!(["Cy", "Di"])),
        (2, json!(["Di", "Cy"])),
        (1, json!(["Ed", "Di"])),
    ];
    let mut voter = 0;
    for (n, ranking) in ballots {
        for _ in 0..n {
            voter += 1;
            let who = format!("v{voter}");
            let body = json!({"voter_id": who, "ranking": ranking}).to_string();
            assert_eq!(Http::as_caller(&who, &[]).post(&format!("{poll_url}/ballots"), &body).await.0, 201);
        }
    }
    let (status, closed) = w.post(&format!("{poll_url}/close"), "").await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["results"]["method"], "meek_stv");
    let elected = closed["results"]["elected"].clone();
    assert_eq!(elected.as_array().map(Vec::len), Some(3));
    let election = w.get_until(&election_url, |b| b["status"] == "finalized").await;
    assert_eq!(election["results"]["elected"], elected);
    assert_eq!(election["results"]["winner"], json!(null));
    assert_eq!(election["results"]["tallies"], closed["results"]["tallies"]);

    // The election's page links nominees -> poll -> result.
    let browser = vote_satellite_kit::browser::Browser::launch().await;
    let tab = browser.open(&election_url).await;
    let mut ready = json!(false);
    for _ in 0..100 {
        ready = tab.eval("document.body.dataset.ready === 'true'").await;
        if ready == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ready, json!(true));
    assert_eq!(tab.eval("document.getElementById('error').hidden").await, json!(true));
    assert_eq!(tab.eval("document.querySelectorAll('#nominees li').length").await, json!(5));
    assert_eq!(
        tab.eval("[...document.querySelectorAll('#nominees li.elected')].map(li => li.textContent)")
            .await
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    let link = tab.eval("document.getElementById('poll-link').href").await;
    assert!(link.as_str().unwrap().ends_with(&format!("/polls/{}", election["poll_uuid"].as_str().unwrap())), "{link}");
    let result = tab.eval("document.getElementById('result').textContent").await;
    assert!(result.as_str().unwrap().starts_with("Elected: "), "{result}");
    browser.close().await;
    m.stop().await;
    e.stop().await;
    p.stop().await;
}
