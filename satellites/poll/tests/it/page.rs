//! The poll page in a real browser (headless Chromium): an open poll shows its options and how
//! many ballots were cast, never a tally; a closed one its winners, a chart and the table of
//! rounds, also with 100 options and 30 rounds without breaking the layout.
//!
//! `cargo test -p vote-satellite-poll --test it page::screenshots -- --ignored` also saves the
//! screenshots in `docs/`.

use crate::common;

use std::path::Path;

use common::{TestApp, spawn_app};
use serde_json::{Value, json};
use vote_satellite_kit::browser::{Browser, Tab};
use vote_satellite_poll::cvr;

/// Creates a poll over HTTP.
async fn create(app: &TestApp, title: &str, poll_type: &str, options: &[String], seats: u32) -> String {
    let body = json!({"vote": {"meeting_id": "m-b", "pollType": poll_type, "title": title, "options": options, "seats": seats}});
    let (status, poll) = app.post("/polls/", &body.to_string()).await;
    assert_eq!(status, 200, "{poll}");
    poll["uuid"].as_str().unwrap().to_owned()
}

/// Stores `groups` of ballots (option positions, how many) straight in the database.
async fn stuff(app: &TestApp, poll: &str, groups: &[(Vec<i16>, usize)]) {
    let (mut voters, mut rankings) = (Vec::new(), Vec::new());
    for (ranking, n) in groups {
        for _ in 0..*n {
            voters.push(format!("voter-{}", voters.len()));
            rankings.push(ranking.iter().map(i16::to_string).collect::<Vec<_>>().join(","));
        }
    }
    let client = app.db.connect().await.unwrap();
    client
        .execute(
            "INSERT INTO poll_ballots (ballot_id, poll_id, voter_id, ranking)
             SELECT gen_random_uuid(), p.id, t.voter, coalesce(string_to_array(nullif(t.ranking, ''), ',')::smallint[], '{}')
             FROM polls p, unnest($2::text[], $3::text[]) AS t (voter, ranking)
             WHERE p.uuid = $1",
            &[&uuid::Uuid::parse_str(poll).unwrap(), &voters, &rankings],
        )
        .await
        .unwrap();
}

async fn close(app: &TestApp, poll: &str) -> Value {
    let (status, closed) = app.post(&format!("/polls/{poll}/close"), "").await;
    assert_eq!(status, 200, "{closed}");
    closed
}

/// Opens the poll's page and waits until it has rendered.
async fn page(browser: &Browser, app: &TestApp, poll: &str) -> Tab {
    let tab = browser.open(&app.url(&format!("/polls/{poll}"))).await;
    let mut ready = Value::Null;
    for _ in 0..100 {
        ready = tab.eval("document.body.dataset.ready === 'true'").await;
        if ready == json!(true) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(ready, json!(true), "the page renders");
    assert_eq!(
        tab.eval("document.getElementById('error').hidden").await,
        json!(true),
        "{}",
        tab.eval("document.getElementById('error').textContent").await
    );
    tab
}

/// Whether the page is no wider than the window (wide tables scroll inside their box) and the
/// names in the table's first column have room (at least 150 px, so no word is broken up).
async fn fits(tab: &Tab) -> bool {
    let names =
        "[...document.querySelectorAll('#rounds td:first-child')].every(td => td.getBoundingClientRect().width >= 150)";
    tab.eval("document.documentElement.scrollWidth <= window.innerWidth").await == json!(true)
        && tab.eval(names).await == json!(true)
}

/// The 2009 Burlington mayoral election (`tests/data/elections`), as a ranked poll.
async fn burlington(app: &TestApp) -> String {
    let record = cvr::parse_abif(include_str!("../data/elections/burlington_2009_mayor.abif")).unwrap();
    let poll = create(app, "Mayor of Burlington, 2009", "ranked", &record.options, 1).await;
    let groups: Vec<(Vec<i16>, usize)> =
        record.rankings.iter().map(|(r, n)| (r.iter().map(|&o| o as i16).collect(), *n as usize)).collect();
    stuff(app, &poll, &groups).await;
    poll
}

/// A board of 3 out of 10 candidates, counted by STV.
async fn board(app: &TestApp) -> String {
    let names = [
        "Amara Okafor",
        "Bastien Roux",
        "Chen Wei",
        "Dagny Lind",
        "Emeka Obi",
        "Farah Haddad",
        "Goran Petrov",
        "Hana Sato",
        "Ines Duarte",
        "Jonas Berg",
    ];
    let options: Vec<String> = names.iter().map(|s| (*s).to_owned()).collect();
    let poll = create(app, "Board of trustees, 3 seats", "ranked", &options, 3).await;
    let groups: Vec<(Vec<i16>, usize)> = vec![
        (vec![0, 1, 2], 61),
        (vec![0, 3], 24),
        (vec![1, 0], 18),
        (vec![2, 4, 5], 33),
        (vec![3, 2], 21),
        (vec![4, 2, 3], 17),
        (vec![5, 4], 15),
        (vec![6, 7, 0], 12),
        (vec![7, 6, 3], 11),
        (vec![8, 9, 5], 9),
        (vec![9, 8], 7),
        (vec![], 4),
    ];
    stuff(app, &poll, &groups).await;
    poll
}

/// 100 options, 30 rounds: 70 options nobody ranks go together in round 1, then one of the
/// 30 others per round.
async fn hundred(app: &TestApp) -> String {
    let options: Vec<String> = (1..=100).map(|i| format!("Option number {i} with a longer name")).collect();
    let poll = create(app, "A hundred options", "ranked", &options, 1).await;
    let groups: Vec<(Vec<i16>, usize)> = (0..30i16).map(|i| (vec![i, (i + 1) % 30], 10 + i as usize)).collect();
    stuff(app, &poll, &groups).await;
    poll
}

#[tokio::test]
async fn an_open_poll_shows_its_options_and_ballots_but_no_tally() {
    let app = spawn_app().await;
    let options: Vec<String> = ["Yes", "No", "Later"].iter().map(|s| (*s).to_owned()).collect();
    let poll = create(&app, "Adopt the budget?", "ranked", &options, 1).await;
    stuff(&app, &poll, &[(vec![0, 2], 5), (vec![1], 3)]).await;
    let browser = Browser::launch().await;
    let tab = page(&browser, &app, &poll).await;
    let text = |id: &str| format!("document.getElementById('{id}').textContent");
    assert_eq!(tab.eval(&text("title")).await, "Adopt the budget?");
    assert_eq!(tab.eval(&text("status")).await, "Open");
    assert_eq!(tab.eval(&text("ballots")).await, "8");
    assert_eq!(
        tab.eval("[...document.querySelectorAll('#options li')].map(li => li.textContent)").await,
        json!(options)
    );
    assert_eq!(tab.eval("document.getElementById('closed').hidden").await, json!(true));
    assert_eq!(tab.eval("document.querySelectorAll('#chart *, #rounds *').length").await, json!(0));
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
async fn a_closed_poll_shows_its_winners_chart_and_every_round() {
    let app = spawn_app().await;
    let browser = Browser::launch().await;

    let poll = burlington(&app).await;
    let results = close(&app, &poll).await["results"].clone();
    let tab = page(&browser, &app, &poll).await;
    assert_eq!(tab.eval("document.getElementById('outcome').textContent").await, "Winner: Bob Kiss");
    let rounds = results["rounds"].as_array().unwrap().len();
    assert_eq!(tab.eval("document.querySelectorAll('#rounds thead th').length").await, json!(rounds + 1));
    // Every cell of the table is the stored count: the last round's Kiss and Wright.
    let last = "[...document.querySelectorAll('#rounds tbody tr')].map(tr => tr.lastChild.title)";
    let cells = tab.eval(last).await;
    assert_eq!(cells[0], "4313");
    assert_eq!(cells[4], "4061");
    assert_eq!(tab.eval("document.querySelectorAll('#chart .name').length").await, json!(3));
    assert_eq!(tab.eval("document.querySelector('#chart .name.won').textContent").await, "Bob Kiss");
    assert_eq!(
        tab.eval("document.getElementById('abif').getAttribute('href')").await,
        format!("/polls/{poll}/ballots?format=abif")
    );
    assert!(fits(&tab).await);

    let poll = board(&app).await;
    let results = close(&app, &poll).await["results"].clone();
    let tab = page(&browser, &app, &poll).await;
    let elected: Vec<String> =
        results["elected"].as_array().unwrap().iter().map(|n| n.as_str().unwrap().to_owned()).collect();
    assert_eq!(elected.len(), 3);
    assert_eq!(
        tab.eval("document.getElementById('outcome').textContent").await,
        format!("Elected: {}", elected.join(", "))
    );
    assert_eq!(tab.eval("document.querySelectorAll('#chart .name.won').length").await, json!(3));
    assert_eq!(tab.eval("document.querySelectorAll('#chart .quota').length > 0").await, json!(true));
    assert_eq!(tab.eval("document.querySelector('#rounds tr.quota') !== null").await, json!(true));
    assert!(fits(&tab).await);

    let poll = hundred(&app).await;
    let results = close(&app, &poll).await["results"].clone();
    assert_eq!(results["rounds"].as_array().unwrap().len(), 30);
    let tab = page(&browser, &app, &poll).await;
    assert_eq!(tab.eval("document.querySelectorAll('#rounds thead th').length").await, json!(31));
    assert_eq!(tab.eval("document.querySelectorAll('#rounds tbody tr').length").await, json!(101));
    assert!(fits(&tab).await, "100 options and 30 rounds stay inside the window");
    browser.close().await;
    app.stop().await;
}

#[tokio::test]
#[ignore = "writes docs/poll-page-*.png: run on demand with --ignored"]
async fn screenshots() {
    let app = spawn_app().await;
    let browser = Browser::launch().await;
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let options: Vec<String> = ["Yes", "No", "Later"].iter().map(|s| (*s).to_owned()).collect();
    let open = create(&app, "Adopt the 2026 budget?", "ranked", &options, 1).await;
    stuff(&app, &open, &[(vec![0, 2], 41), (vec![1], 23)]).await;
    let shots = [
        (open, "poll-page-open.png", 1280, 700, false),
        (burlington(&app).await, "poll-page-irv.png", 1280, 1100, false),
        (board(&app).await, "poll-page-stv.png", 1280, 1250, false),
        (hundred(&app).await, "poll-page-100-options.png", 1280, 1000, false),
    ];
    for (poll, file, width, height, mobile) in shots {
        if file != "poll-page-open.png" {
            close(&app, &poll).await;
        }
        let tab = page(&browser, &app, &poll).await;
        tab.screenshot(&docs.join(file), width, height, mobile).await;
        assert!(fits(&tab).await, "{file}");
        if file == "poll-page-stv.png" {
            tab.screenshot(&docs.join("poll-page-stv-phone.png"), 390, 1400, true).await;
            assert!(fits(&tab).await, "phone");
        }
    }
    browser.close().await;
    app.stop().await;
}
