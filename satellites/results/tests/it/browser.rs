//! The results page in a real browser (headless Chromium): votes published to the engine's
//! queue and counted by the engine show up on the open page, with the database's numbers,
//! without a reload.
//!
//! `cargo test -p vote-satellite-results --test it browser::screenshot -- --ignored` also saves
//! `docs/results-page.png` (and the phone view) with a few dozen laws.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{Database, Service};
use serde_json::Value;
use tokio::task::JoinHandle;
use vote_mq::{AmqpUrl, OutgoingMessage, Publisher};
use vote_runtime::CancellationToken;
use vote_runtime::testing;
use vote_satellite_kit::browser::{Browser, Tab};

/// The engine counting into `database` from a queue of its own.
struct Engine {
    queue: String,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Engine {
    async fn start(database: &Database) -> Self {
        let queue = testing::unique_name("votes_results_page");
        let amqp = testing::amqp_url();
        let args = [
            "vote-engine",
            "--amqp-url",
            &amqp,
            "--database-url",
            &database.url,
            "--rabbitmq-queue",
            &queue,
            "--prometheus-port",
            "0",
            "--log-format",
            "text",
        ];
        let (_, settings) = vote_engine::config::parse_cli(args).unwrap_or_else(|e| panic!("{}", e.message));
        let stop = CancellationToken::new();
        let app = vote_engine::Application::build(settings, &stop).await.expect("the engine builds");
        let ready = format!("http://127.0.0.1:{}/readyz", app.ops_port());
        let task = tokio::spawn(app.run_until_stopped(stop.clone()));
        // Ready once it consumes: its queue exists, so nothing published from now on is lost.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !reqwest::get(&ready).await.is_ok_and(|r| r.status() == 200) {
            assert!(tokio::time::Instant::now() < deadline, "the engine is not ready after 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { queue, stop, task }
    }

    async fn publish(&self, votes: &[(String, String, &str, &str)]) {
        let broker = AmqpUrl::parse(&testing::amqp_url()).unwrap();
        let publisher = Publisher::connect(&broker, "results-page-test").await.expect("RabbitMQ must be running");
        let mut confirms = Vec::new();
        for (hash, citizen, law, choice) in votes {
            let body = format!(
                r#"{{"vote_hash":"{hash}","citizen_id":"{citizen}","law_id":"{law}","choice":"{choice}","timestamp":"2026-03-01T09:00:00Z"}}"#
            );
            confirms.push(publisher.send(&OutgoingMessage::json("", &self.queue, body.into_bytes())).await.unwrap());
        }
        for confirm in confirms {
            confirm.await.expect("the broker confirms");
        }
        publisher.close().await;
    }

    async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task).await.unwrap().unwrap().unwrap();
        let broker = AmqpUrl::parse(&testing::amqp_url()).unwrap();
        for queue in [self.queue.clone(), format!("{}.dlq", self.queue)] {
            vote_mq::admin::delete_queue(&broker, &queue).await.unwrap();
        }
    }
}

/// `n` votes on `law`, `oui_share` of them oui, from citizens `from..from + n`.
fn votes(
    law: &'static str,
    from: usize,
    n: usize,
    oui_share: f64,
) -> Vec<(String, String, &'static str, &'static str)> {
    (from..from + n)
        .map(|i| {
            let choice = if ((i - from) as f64) < oui_share * n as f64 { "oui" } else { "non" };
            (format!("{law}-{i}"), format!("citizen-{i}"), law, choice)
        })
        .collect()
}

/// Totals per law in the database.
async fn database_totals(database: &Database) -> BTreeMap<String, (i64, i64)> {
    let client = database.db.connect().await.unwrap();
    let rows = client.query("SELECT law_id, oui_count, non_count FROM vote_results", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect()
}

async fn wait_for_votes(database: &Database, expected: i64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let counted: i64 = database_totals(database).await.values().map(|(o, n)| o + n).sum();
        if counted == expected {
            return;
        }
        assert!(tokio::time::Instant::now() < deadline, "the engine counted {counted} of {expected} votes");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// What the page shows: its laws' numbers, the total, and the marker set before the votes
/// (`null` while the page is still loading).
const READ_PAGE: &str = r##"document.getElementById("total-votes") && JSON.stringify({
    marker: window.__marker || null,
    total: document.getElementById("total-votes").textContent,
    live: document.getElementById("live-text").textContent,
    rows: [...document.querySelectorAll("#laws [data-law]")].map(li => [li.dataset.law, Number(li.dataset.oui), Number(li.dataset.non)])
})"##;

struct Shown {
    marker: Value,
    total: i64,
    live: String,
    rows: BTreeMap<String, (i64, i64)>,
}

async fn shown(page: &Tab) -> Shown {
    let text = page.eval(READ_PAGE).await;
    let Some(text) = text.as_str() else {
        return Shown { marker: Value::Null, total: -1, live: String::new(), rows: BTreeMap::new() };
    };
    let value: Value = serde_json::from_str(text).unwrap();
    let digits: String = value["total"].as_str().unwrap().chars().filter(char::is_ascii_digit).collect();
    let rows = value["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r[0].as_str().unwrap().to_owned(), (r[1].as_i64().unwrap(), r[2].as_i64().unwrap())))
        .collect();
    Shown {
        marker: value["marker"].clone(),
        total: digits.parse().unwrap_or(-1),
        live: value["live"].as_str().unwrap().to_owned(),
        rows,
    }
}

/// Waits until the page shows exactly `expected` (and its sum as the total).
async fn wait_for_page(page: &Tab, expected: &BTreeMap<String, (i64, i64)>) -> Shown {
    let total: i64 = expected.values().map(|(o, n)| o + n).sum();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let now = shown(page).await;
        if &now.rows == expected && now.total == total {
            return now;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the page shows {:?} (total {}), the database {expected:?} (total {total})",
            now.rows,
            now.total
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn votes_counted_by_the_engine_appear_on_the_open_page_without_a_reload() {
    let database = Database::fresh("results_browser").await;
    let engine = Engine::start(&database).await;
    let mut first = votes("law-budget", 0, 12, 0.75);
    first.extend(votes("law-rail", 100, 7, 0.3));
    engine.publish(&first).await;
    wait_for_votes(&database, 19).await;
    let service = Service::start(&database.url, &[]).await;

    let browser = Browser::launch().await;
    let page = browser.open(&service.url("/")).await;
    let before = database_totals(&database).await;
    let on_load = wait_for_page(&page, &before).await;
    assert_eq!(on_load.rows[&"law-budget".to_owned()], (9, 3));
    page.eval("window.__marker = 'same page'").await;

    // More votes: existing laws change, a new law appears, a duplicate does not count.
    let mut more = votes("law-budget", 12, 5, 0.0);
    more.extend(votes("law-housing", 200, 4, 1.0));
    more.push(("law-rail-100".to_owned(), "citizen-100".to_owned(), "law-rail", "oui"));
    engine.publish(&more).await;
    wait_for_votes(&database, 28).await;
    let after = database_totals(&database).await;
    assert_ne!(before, after);
    let updated = wait_for_page(&page, &after).await;
    assert_eq!(updated.marker, "same page", "the page was not reloaded");
    assert_eq!(updated.live, "live");
    assert_eq!(updated.rows[&"law-budget".to_owned()], (9, 8));
    assert_eq!(updated.rows[&"law-housing".to_owned()], (4, 0));
    let more = page.eval(r#"getComputedStyle(document.getElementById("more")).display"#).await;
    assert_eq!(more.as_str(), Some("none"), "every law is shown: no 'Show more' button");

    // The search box narrows the list to a prefix.
    page.eval(
        r#"(() => { const s = document.getElementById("search"); s.value = "law-h";
              s.dispatchEvent(new Event("input")); })()"#,
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let now = shown(&page).await;
        if now.rows.keys().collect::<Vec<_>>() == ["law-housing"] {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "search shows {:?}", now.rows);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    browser.close().await;
    service.stop().await;
    engine.stop().await;
}

/// The intake of a citizen's votes, publishing to `engine`'s queue, trusting the development
/// key that `scripts/dev-auth-keys.sh` makes in `auth`.
async fn start_intake(engine: &Engine, database: &Database, auth: &Path) -> (String, CancellationToken, IntakeTask) {
    let jwks = auth.join("jwks.json");
    let amqp = testing::amqp_url();
    let args = [
        "vote-intake",
        "--amqp-url",
        &amqp,
        "--rabbitmq-queue",
        &engine.queue,
        "--database-url",
        &database.url,
        "--http-port",
        "0",
        "--intake-receipt-key",
        "citizen-path-test-key-0123456789abcdef01234567",
        "--auth-jwks-file",
        jwks.to_str().unwrap(),
        "--auth-issuer",
        "vote-platform-dev",
        "--auth-audience",
        "vote-platform",
    ];
    let settings = vote_intake::config::parse_cli(args).unwrap_or_else(|e| panic!("{}", e.message));
    let app = vote_intake::Application::build(&settings).await.expect("the intake builds");
    let base = format!("http://127.0.0.1:{}", app.port());
    let stop = CancellationToken::new();
    (base, stop.clone(), tokio::spawn(app.run_until_stopped(stop)))
}

type IntakeTask = JoinHandle<Result<(), vote_satellite_kit::Error>>;

/// A citizen's token signed with the development key, as `loadgen token --sub` makes it.
fn dev_token(auth: &Path, citizen: &str) -> String {
    use vote_satellite_kit::auth::token::{claims, sign};
    let key = std::fs::read(auth.join("signing-key.pem")).expect("the development key");
    sign(&claims(citizen, &[], "vote-platform-dev", "vote-platform", 600), &key, Some("dev-es256")).unwrap()
}

/// The citizen's whole path: a vote through the intake with a token of the development key, the
/// total moving on the open results page, the receipt checked in the page's "check my vote" box.
/// With SAVE_SCREENSHOTS=1 the page is saved as `docs/citizen-check.png`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_citizen_votes_through_the_intake_sees_the_total_move_and_checks_the_receipt() {
    let database = Database::fresh("results_citizen").await;
    let engine = Engine::start(&database).await;
    engine.publish(&votes("law-budget", 0, 9, 0.6)).await;
    wait_for_votes(&database, 9).await;
    let auth = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(testing::unique_name("dev-auth"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/dev-auth-keys.sh");
    let made = std::process::Command::new(&script).arg(&auth).output().expect("run scripts/dev-auth-keys.sh");
    assert!(made.status.success(), "{}", String::from_utf8_lossy(&made.stderr));
    let (intake, intake_stop, intake_task) = start_intake(&engine, &database, &auth).await;
    let service = Service::start(&database.url, &[]).await;
    let browser = Browser::launch().await;
    let page = browser.open(&service.url("/")).await;
    let before = database_totals(&database).await;
    assert_eq!(wait_for_page(&page, &before).await.total, 9);

    let client = reqwest::Client::new();
    let response = client
        .post(format!("{intake}/votes"))
        .bearer_auth(dev_token(&auth, "citizen-ada"))
        .json(&serde_json::json!({"law_id": "law-budget", "choice": "non"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 202);
    let receipt: Value = response.json().await.unwrap();
    let receipt = receipt["receipt"].as_str().unwrap().to_owned();
    wait_for_votes(&database, 10).await;
    let mut after = before.clone();
    after.get_mut("law-budget").unwrap().1 += 1;
    assert_eq!(database_totals(&database).await, after);
    assert_eq!(wait_for_page(&page, &after).await.total, 10, "the total moved on the open page");

    let check = format!(
        r#"(() => {{ document.getElementById("receipt").value = "{receipt}";
              document.getElementById("check").requestSubmit(); }})()"#
    );
    page.eval(&check).await;
    let read = r#"(() => { const r = document.getElementById("check-result");
        return r.hidden ? null : JSON.stringify({status: r.dataset.status, text: r.textContent}); })()"#;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let shown = loop {
        if let Some(text) = page.eval(read).await.as_str() {
            break serde_json::from_str::<Value>(text).unwrap();
        }
        assert!(tokio::time::Instant::now() < deadline, "the check shows nothing");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(shown["status"], "counted", "{shown}");
    let text = shown["text"].as_str().unwrap();
    assert!(text.contains("law-budget") && !text.contains("non") && !text.contains("citizen-ada"), "{text}");
    // An unknown receipt is not counted (yet).
    page.eval(&check.replace(&receipt, &"0".repeat(64))).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while page.eval(read).await.as_str().is_none_or(|t| !t.contains("pending")) {
        assert!(tokio::time::Instant::now() < deadline, "an unknown receipt is shown as not counted");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    if std::env::var_os("SAVE_SCREENSHOTS").is_some() {
        page.eval(&check).await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
        page.screenshot(&docs.join("citizen-check.png"), 1280, 700, false).await;
    }
    browser.close().await;
    service.stop().await;
    intake_stop.cancel();
    intake_task.await.unwrap().expect("the intake stopped cleanly");
    engine.stop().await;
    let _ = std::fs::remove_dir_all(&auth);
}

/// Laws for the screenshot: (id, votes, oui share).
const LAWS: &[(&str, i64, f64)] = &[
    ("budget-2027", 48_213, 0.54),
    ("pension-reform", 45_902, 0.41),
    ("climate-transition-act", 39_877, 0.63),
    ("rail-network-investment", 36_140, 0.71),
    ("housing-affordability", 33_518, 0.66),
    ("minimum-wage-indexation", 31_006, 0.58),
    ("digital-privacy-charter", 28_771, 0.77),
    ("school-meals-programme", 26_450, 0.82),
    ("water-utilities-ownership", 24_319, 0.49),
    ("regional-hospitals-fund", 23_004, 0.74),
    ("public-broadcasting-licence", 21_663, 0.37),
    ("cycling-infrastructure", 19_870, 0.61),
    ("agricultural-subsidies", 18_442, 0.45),
    ("night-train-services", 17_395, 0.69),
    ("border-checks-protocol", 16_210, 0.33),
    ("tax-on-windfall-profits", 15_877, 0.57),
    ("national-parks-extension", 14_906, 0.79),
    ("local-elections-calendar", 13_650, 0.52),
    ("drone-flight-rules", 12_388, 0.48),
    ("libraries-opening-hours", 11_942, 0.85),
    ("fishing-quota-reform", 10_716, 0.39),
    ("sunday-trading", 9_804, 0.44),
    ("organ-donation-opt-out", 9_215, 0.68),
    ("speed-limit-motorways", 8_603, 0.36),
    ("heritage-buildings-grant", 7_990, 0.72),
    ("university-tuition-cap", 7_344, 0.64),
    ("military-service-option", 6_521, 0.29),
    ("plastic-packaging-ban", 5_876, 0.81),
    ("rural-broadband", 5_102, 0.88),
    ("voting-age-sixteen", 4_437, 0.47),
    ("daylight-saving-end", 3_905, 0.59),
    ("public-holiday-may", 3_118, 0.76),
    ("tourist-tax", 2_476, 0.51),
    ("pet-registration", 1_654, 0.62),
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "writes docs/results-page.png; run on demand"]
async fn screenshot() {
    let database = Database::fresh("results_screenshot").await;
    // Audit rows first, then the totals from them, so that the recount agrees.
    let client = database.db.connect().await.unwrap();
    for (law, votes, share) in LAWS {
        let oui = (*votes as f64 * share).round() as i64;
        client
            .execute(
                "INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, \"timestamp\")
                 SELECT $1 || '-' || i, 'citizen-' || i, $1, CASE WHEN i <= $3 THEN 'oui' ELSE 'non' END, now()
                 FROM generate_series(1, $2::bigint) AS i",
                &[law, votes, &oui],
            )
            .await
            .unwrap();
    }
    database
        .execute(
            "INSERT INTO vote_results (law_id, oui_count, non_count)
             SELECT law_id, count(*) FILTER (WHERE choice = 'oui'), count(*) FILTER (WHERE choice = 'non')
             FROM vote_audit GROUP BY law_id",
        )
        .await;
    let verdict = vote_engine::recount::run(&database.db, None, Default::default(), &mut std::io::sink()).await;
    assert_eq!(verdict.unwrap(), vote_engine::recount::Verdict::Agreed);
    let service = Service::start(&database.url, &[]).await;
    let browser = Browser::launch().await;
    let page = browser.open(&service.url("/")).await;
    let expected = database_totals(&database).await;
    wait_for_page(&page, &expected).await;
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    std::fs::create_dir_all(&docs).unwrap();
    page.screenshot(&docs.join("results-page.png"), 1280, 900, false).await;
    page.screenshot(&docs.join("results-page-phone.png"), 390, 844, true).await;
    browser.close().await;
    service.stop().await;
}
