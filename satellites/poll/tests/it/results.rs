//! Closing counts the poll in the same transaction (plurality or instant runoff), and
//! `GET /polls/{uuid}/results` serves the outcome; the same over events.

use crate::common;

use std::time::Duration;

use common::spawn_app;
use serde_json::{Value, json};
use tokio::task::JoinSet;
use vote_mq::Envelope;
use vote_mq::REJECT_REASON_HEADER;
use vote_satellite_kit::testing::{next_event, no_event};

/// Wikipedia's Tennessee capital example: Memphis leads the first preferences, Knoxville wins.
#[tokio::test]
async fn a_ranked_poll_is_counted_by_instant_runoff_with_every_round() {
    let app = spawn_app().await;
    let poll = app.create_poll("ranked", &["Memphis", "Nashville", "Chattanooga", "Knoxville"]).await;
    let groups: [(usize, [&str; 4]); 4] = [
        (42, ["Memphis", "Nashville", "Chattanooga", "Knoxville"]),
        (26, ["Nashville", "Chattanooga", "Knoxville", "Memphis"]),
        (15, ["Chattanooga", "Knoxville", "Nashville", "Memphis"]),
        (17, ["Knoxville", "Chattanooga", "Nashville", "Memphis"]),
    ];
    let mut requests = JoinSet::new();
    let mut voter = 0;
    for (n, ranking) in groups {
        for _ in 0..n {
            voter += 1;
            let body = json!({"voter_id": format!("v{voter}"), "ranking": ranking});
            let (http, url) = (common::voter_client(&body), app.url(&format!("/polls/{poll}/ballots")));
            requests.spawn(async move { http.post(&url, &body.to_string()).await.0 });
        }
    }
    assert!(requests.join_all().await.iter().all(|s| *s == 201));

    let (status, closed) = app.post(&format!("/polls/{poll}/close"), "").await;
    assert_eq!(status, 200, "{closed}");
    let results = &closed["results"];
    assert_eq!((results["method"].as_str(), results["winner"].as_str()), (Some("instant_runoff"), Some("Knoxville")));
    assert_eq!((results["ballots"].as_u64(), results["exhausted"].as_u64()), (Some(100), Some(0)));
    let votes = |tallies: &Value| -> Vec<(String, u64)> {
        tallies
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["option"].as_str().unwrap().to_owned(), t["votes"].as_u64().unwrap()))
            .collect()
    };
    let rounds: Vec<(Vec<(String, u64)>, Value)> =
        results["rounds"].as_array().unwrap().iter().map(|r| (votes(&r["tallies"]), r["eliminated"].clone())).collect();
    let named = |pairs: &[(&str, u64)]| pairs.iter().map(|(o, v)| ((*o).to_owned(), *v)).collect::<Vec<_>>();
    assert_eq!(
        rounds,
        [
            (
                named(&[("Memphis", 42), ("Nashville", 26), ("Chattanooga", 15), ("Knoxville", 17)]),
                json!(["Chattanooga"])
            ),
            (named(&[("Memphis", 42), ("Nashville", 26), ("Knoxville", 32)]), json!(["Nashville"])),
            (named(&[("Memphis", 42), ("Knoxville", 58)]), json!([])),
        ]
    );
    assert_eq!(
        votes(&results["tallies"]),
        named(&[("Memphis", 42), ("Nashville", 0), ("Chattanooga", 0), ("Knoxville", 58)])
    );
    assert_eq!(app.get(&format!("/polls/{poll}/results")).await, (200, closed));
    app.stop().await;
}

#[tokio::test]
async fn a_plurality_tie_is_stored_as_a_tie_and_results_wait_for_the_close() {
    let app = spawn_app().await;
    let poll = app.create_poll("single", &["A", "B", "C"]).await;
    let (status, answer) = app.get(&format!("/polls/{poll}/results")).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (409, Some(format!("poll {poll} is open: it is counted when it closes").as_str()))
    );
    for (voter, choice) in [("v1", "C"), ("v2", "A"), ("v3", "B"), ("v4", "A"), ("v5", "C")] {
        assert_eq!(app.cast(&poll, &json!({"voter_id": voter, "choice": choice})).await.0, 201);
    }
    let (_, closed) = app.post(&format!("/polls/{poll}/close"), "").await;
    assert_eq!(
        closed["results"],
        json!({"method": "plurality", "seats": 1, "ballots": 5, "winner": null, "elected": [], "tied": ["A", "C"],
               "exhausted": 0, "rounds": [],
               "tallies": [{"option": "A", "votes": 2}, {"option": "B", "votes": 1}, {"option": "C", "votes": 2}]})
    );
    assert_eq!(app.get(&format!("/polls/{poll}/results")).await.1["results"], closed["results"]);
    assert_eq!(app.get(&format!("/polls/{}/results", uuid::Uuid::new_v4())).await.0, 404);
    assert_eq!(app.get("/polls/x/results").await.0, 400);
    let metrics = app.metrics().await;
    assert!(metrics.contains("polls_closed_total 1"), "{metrics}");
    app.stop().await;
}

/// Ballots sent while the poll closes are either counted (201 before the close) or refused
/// (409): the count holds exactly the accepted ones.
#[tokio::test]
async fn ballots_racing_the_close_are_counted_or_refused_never_lost() {
    let app = spawn_app().await;
    let poll = app.create_poll("single", &["A", "B"]).await;
    let mut requests = JoinSet::new();
    for voter in 0..60 {
        let body = json!({"voter_id": format!("v{voter}"), "choice": if voter % 3 == 0 { "A" } else { "B" }});
        let (http, url) = (common::voter_client(&body), app.url(&format!("/polls/{poll}/ballots")));
        requests.spawn(async move { http.post(&url, &body.to_string()).await.0 });
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    let (status, closed) = app.post(&format!("/polls/{poll}/close"), "").await;
    assert_eq!(status, 200);
    let statuses = requests.join_all().await;
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "{statuses:?}");
    let accepted = statuses.iter().filter(|s| **s == 201).count() as u64;
    assert_eq!(closed["results"]["ballots"].as_u64(), Some(accepted));
    assert_eq!(app.ballot_count(&poll).await as u64, accepted);
    app.stop().await;
}

#[tokio::test]
async fn ballots_and_the_close_arrive_as_events_with_the_same_rules() {
    let app = spawn_app().await;
    let mut completed = app.listen("voting.completed").await;
    let poll = app.create_poll("ranked", &["A", "B", "C"]).await;
    // The gateway authenticated the voter each ballot names.
    let cast = |data: Value| {
        let voter = data["voter_id"].as_str().unwrap_or_default().to_owned();
        Envelope::new("poll.ballot.cast", "gateway", data).with_subject(&voter).to_bytes()
    };
    let first = cast(json!({"poll_uuid": poll, "voter_id": "e1", "ranking": ["B", "A"]}));
    app.publish("poll.ballot.cast", first.clone()).await;
    app.publish("poll.ballot.cast", first).await;
    app.publish("poll.ballot.cast", cast(json!({"poll_uuid": poll, "voter_id": "e2", "ranking": ["A"]}))).await;
    app.publish("poll.ballot.cast", cast(json!({"poll_uuid": poll, "voter_id": "e1", "ranking": ["C"]}))).await;
    app.publish("poll.ballot.cast", cast(json!({"poll_uuid": poll, "voter_id": "e3", "ranking": ["A", "A"]}))).await;
    app.publish("poll.ballot.cast", cast(json!({"voter_id": "e4", "choice": "A"}))).await;
    let unknown = uuid::Uuid::new_v4();
    app.publish("poll.ballot.cast", cast(json!({"poll_uuid": unknown, "voter_id": "e5", "ranking": ["A"]}))).await;
    // Nobody authenticated, or someone voting in another's name.
    let anonymous =
        Envelope::new("poll.ballot.cast", "gateway", json!({"poll_uuid": poll, "voter_id": "e7", "ranking": ["A"]}));
    app.publish("poll.ballot.cast", anonymous.to_bytes()).await;
    let impostor =
        Envelope::new("poll.ballot.cast", "gateway", json!({"poll_uuid": poll, "voter_id": "e8", "ranking": ["A"]}));
    app.publish("poll.ballot.cast", impostor.with_subject("mallory").to_bytes()).await;
    let mut reasons: Vec<String> =
        app.dead_letters(6).await.iter().map(|d| d.header(REJECT_REASON_HEADER).unwrap()).collect();
    reasons.sort();
    assert_eq!(
        reasons,
        [
            "rejected: 'A' is ranked twice".to_owned(),
            "rejected: 'voter_id' must be the envelope's authenticated 'subject'".to_owned(),
            "rejected: a ballot event must carry its authenticated voter in the envelope's 'subject'".to_owned(),
            "rejected: missing 'poll_uuid'".to_owned(),
            format!(
                "rejected: voter e1 already cast a different ballot ({}) on poll {poll}",
                ballot_id(&app, &poll, "e1").await
            ),
            format!("retries exhausted after 3 attempts: poll {unknown} not known yet"),
        ]
    );
    assert_eq!(app.ballot_count(&poll).await, 2);

    app.publish("voting.close", Envelope::new("voting.close", "t", json!({"uuid": poll})).to_bytes()).await;
    let event = next_event(&mut completed).await;
    assert_eq!(event.data["uuid"], poll.as_str());
    assert_eq!(event.data["results"]["winner"], json!(null));
    assert_eq!(event.data["results"]["tied"], json!(["A", "B"]));
    // A ballot after the close is refused; a second close changes nothing.
    app.publish("poll.ballot.cast", cast(json!({"poll_uuid": poll, "voter_id": "e6", "ranking": ["C"]}))).await;
    app.publish("voting.close", Envelope::new("voting.close", "t", json!({"uuid": poll})).to_bytes()).await;
    let late = app.dead_letters(1).await;
    assert_eq!(late[0].header(REJECT_REASON_HEADER).unwrap(), format!("rejected: poll {poll} is closed"));
    no_event(&mut completed, Duration::from_millis(500)).await;
    assert!(app.metrics().await.contains(r#"ballots_cast_total{source="event"} 2"#));
    completed.close().await;
    app.stop().await;
}

async fn ballot_id(app: &common::TestApp, poll: &str, voter: &str) -> String {
    let client = app.db.connect().await.unwrap();
    let poll = uuid::Uuid::parse_str(poll).unwrap();
    let sql =
        "SELECT b.ballot_id FROM poll_ballots b JOIN polls p ON p.id = b.poll_id WHERE p.uuid = $1 AND voter_id = $2";
    client.query_one(sql, &[&poll, &voter]).await.unwrap().get::<_, uuid::Uuid>(0).to_string()
}

/// A poll closed before ballots were counted gets its results at the next close, without a
/// second `voting.completed`.
#[tokio::test]
async fn a_poll_closed_without_results_is_counted_by_the_next_close() {
    let app = spawn_app().await;
    let mut completed = app.listen("voting.completed").await;
    let poll = app.create_poll("single", &["A", "B"]).await;
    let client = app.db.connect().await.unwrap();
    let id = uuid::Uuid::parse_str(&poll).unwrap();
    client.execute("UPDATE polls SET status = 'closed' WHERE uuid = $1", &[&id]).await.unwrap();
    assert_eq!(app.get(&format!("/polls/{poll}/results")).await.0, 404);
    let (status, closed) = app.post(&format!("/polls/{poll}/close"), "").await;
    assert_eq!(status, 200);
    assert_eq!(closed["results"]["tied"], json!(["A", "B"]));
    assert_eq!(app.get(&format!("/polls/{poll}/results")).await.0, 200);
    no_event(&mut completed, Duration::from_millis(500)).await;
    completed.close().await;
    app.stop().await;
}

/// Blank ballots (an empty ranking, a null choice) are accepted, counted in `ballots` and
/// exhausted from the first round.
#[tokio::test]
async fn blank_ballots_count_as_ballots_exhausted_from_the_first_round() {
    let app = spawn_app().await;
    let ranked = app.create_poll("ranked", &["A", "B"]).await;
    for (voter, ranking) in [("v1", json!(["A"])), ("v2", json!([])), ("v3", json!(["B", "A"])), ("v4", json!(["A"]))] {
        let (status, receipt) = app.cast(&ranked, &json!({"voter_id": voter, "ranking": ranking})).await;
        assert_eq!(status, 201, "{receipt}");
    }
    let (_, closed) = app.post(&format!("/polls/{ranked}/close"), "").await;
    let results = &closed["results"];
    assert_eq!((results["ballots"].as_u64(), results["winner"].as_str()), (Some(4), Some("A")));
    assert_eq!(results["rounds"][0]["exhausted"], 1);
    let single = app.create_poll("single", &["A", "B"]).await;
    assert_eq!(app.cast(&single, &json!({"voter_id": "v1", "choice": null})).await.0, 201);
    assert_eq!(app.cast(&single, &json!({"voter_id": "v2", "choice": "B"})).await.0, 201);
    let (_, closed) = app.post(&format!("/polls/{single}/close"), "").await;
    assert_eq!((closed["results"]["ballots"].as_u64(), closed["results"]["exhausted"].as_u64()), (Some(2), Some(1)));
    assert_eq!(closed["results"]["winner"], "B");
    app.stop().await;
}

/// The cast-vote record is published once the poll is closed, never before: identical
/// rankings counted once, no voter; a recount of it gives the stored results exactly.
#[tokio::test]
async fn the_ballots_are_published_after_the_close_and_recount_to_the_stored_results() {
    let app = spawn_app().await;
    let body = json!({"vote": {"meeting_id": "m-b", "pollType": "ranked", "title": "Board, 2026",
                               "options": ["Ann", "Bo", "Cy", "Di"], "seats": 2}});
    let (status, poll) = app.post("/polls/", &body.to_string()).await;
    assert_eq!((status, poll["seats"].as_u64(), poll["title"].as_str()), (200, Some(2), Some("Board, 2026")));
    let poll = poll["uuid"].as_str().unwrap().to_owned();
    let ballots = [
        ("secret-voter-1", json!(["Ann", "Bo"])),
        ("secret-voter-2", json!(["Ann", "Bo"])),
        ("secret-voter-3", json!(["Ann", "Cy"])),
        ("secret-voter-4", json!(["Cy"])),
        ("secret-voter-5", json!(["Di", "Cy"])),
        ("secret-voter-6", json!(["Ann", "Bo"])),
        ("secret-voter-7", json!([])),
    ];
    for (voter, ranking) in &ballots {
        assert_eq!(app.cast(&poll, &json!({"voter_id": voter, "ranking": ranking})).await.0, 201);
    }
    let export = |format: &str| {
        let url = app.url(&format!("/polls/{poll}/ballots?format={format}"));
        async move { reqwest::get(url).await.unwrap() }
    };
    let early = export("abif").await;
    assert_eq!(early.status(), 409);
    let error: Value = early.json().await.unwrap();
    assert_eq!(error["error"], format!("poll {poll} is open: its ballots are published once it closes"));
    assert_eq!(app.get(&format!("/polls/{poll}/")).await.1["ballots_cast"], 7);

    let (_, closed) = app.post(&format!("/polls/{poll}/close"), "").await;
    assert_eq!(closed["results"]["method"], "meek_stv");
    assert_eq!(closed["results"]["elected"], json!(["Ann", "Cy"]));

    let abif = export("abif").await;
    assert_eq!(abif.status(), 200);
    assert_eq!(abif.headers()["content-type"], "text/plain; charset=utf-8");
    let abif = abif.text().await.unwrap();
    assert_eq!(
        abif,
        "{version: \"0.1\"}\n{title: \"Board, 2026\"}\n{method: \"ranked\"}\n{seats: 2}\n=Ann:[Ann]\n=Bo:[Bo]\n=Cy:[Cy]\n=Di:[Di]\n\
         3:Ann>Bo\n1:\n1:Ann>Cy\n1:Cy\n1:Di>Cy\n"
    );
    let csv = export("csv").await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    assert_eq!(csv, "count,Ann,Bo,Cy,Di\r\n3,1,2,,\r\n1,,,,\r\n1,1,,2,\r\n1,,,1,\r\n1,,,2,1\r\n");
    assert!(!abif.contains("secret-voter") && !csv.contains("secret-voter"));

    // The independent recount, through the command's own code, of either file.
    let dir = std::env::temp_dir().join(vote_runtime::testing::unique_name("poll_export"));
    std::fs::create_dir_all(&dir).unwrap();
    for (name, text) in [("poll.abif", &abif), ("poll.csv", &csv)] {
        let file = dir.join(name);
        std::fs::write(&file, text).unwrap();
        let mut args = vec!["poll-service".into(), "tabulate".into(), file.into_os_string(), "--json".into()];
        if name.ends_with("csv") {
            args.extend(["--seats".into(), "2".into()]);
        }
        let printed = vote_satellite_poll::tabulate::run(args).unwrap();
        assert_eq!(serde_json::from_str::<Value>(&printed).unwrap(), closed["results"], "{name}");
    }
    std::fs::remove_dir_all(&dir).unwrap();

    for (query, status) in [("format=xml", 400), ("format=csv&format=abif", 400), ("format=", 400)] {
        let response = reqwest::get(app.url(&format!("/polls/{poll}/ballots?{query}"))).await.unwrap();
        assert_eq!(response.status(), status, "{query}");
        assert!(response.json::<Value>().await.unwrap()["error"].is_string());
    }
    let unknown = reqwest::get(app.url(&format!("/polls/{}/ballots", uuid::Uuid::new_v4()))).await.unwrap();
    assert_eq!(unknown.status(), 404);
    assert_eq!(reqwest::get(app.url("/polls/not-a-uuid/ballots")).await.unwrap().status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn a_browser_gets_the_page_and_a_program_gets_json() {
    let app = spawn_app().await;
    let poll = app.create_poll("single", &["A", "B"]).await;
    let client = reqwest::Client::new();
    let page = client
        .get(app.url(&format!("/polls/{poll}")))
        .header("accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
    assert!(page.headers()["content-security-policy"].to_str().unwrap().starts_with("default-src 'self'"));
    assert!(page.text().await.unwrap().contains("/poll-page/poll.js"));
    for accept in ["application/json", "*/*", "application/json, text/html"] {
        let json = client.get(app.url(&format!("/polls/{poll}"))).header("accept", accept).send().await.unwrap();
        let body: Value = json.json().await.unwrap();
        assert_eq!((body["uuid"].as_str(), body["ballots_cast"].as_u64()), (Some(poll.as_str()), Some(0)), "{accept}");
    }
    let missing = client
        .get(app.url(&format!("/polls/{}", uuid::Uuid::new_v4())))
        .header("accept", "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    for asset in ["/poll-page/poll.css", "/poll-page/poll.js"] {
        assert_eq!(client.get(app.url(asset)).send().await.unwrap().status(), 200, "{asset}");
    }
    app.stop().await;
}
