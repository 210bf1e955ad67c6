//! The broker out of reach under load, through a TCP proxy the test cuts (the shared broker
//! keeps running for everyone else): 503 with `Retry-After` within a second, `/readyz` 503,
//! no 202 for a vote the broker did not confirm, and 202s again by themselves once it is back.

use std::time::Duration;

use vote_mq::AmqpUrl;
use vote_runtime::testing;

use crate::{Engine, Intake, Load, assert_every_202_counted, intake_args};

/// An AMQP URL for the test broker through `port`.
fn through(port: u16) -> String {
    let url = AmqpUrl::parse(&testing::amqp_url()).unwrap();
    let vhost = if url.vhost == "/" { "%2f".to_owned() } else { url.vhost.clone() };
    format!("amqp://{}:{}@127.0.0.1:{port}/{vhost}", url.username, url.password)
}

async fn broker_out_of_reach_under_load(cut_for: Duration) {
    let engine = Engine::start("intake_cut").await;
    let proxy = testing::broker_proxy().await;
    let intake = Intake::start(intake_args(&engine, &through(proxy.port()), &engine.url, &[])).await;
    let readyz = |intake: &Intake| {
        let url = intake.url("/readyz");
        async move { reqwest::get(url).await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    assert_eq!(readyz(&intake).await, 200);
    let load = Load::start(&intake.base, 8, "law-cut");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.cut();
    let cut_at = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(readyz(&intake).await, 503, "/readyz says the broker is not taking votes");
    tokio::time::sleep(cut_for.saturating_sub(cut_at.elapsed())).await;
    proxy.restore();
    let restored_at = tokio::time::Instant::now();
    let deadline = restored_at + Duration::from_secs(10);
    while readyz(&intake).await != 200 {
        assert!(tokio::time::Instant::now() < deadline, "the intake did not recover by itself within 10 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let recovered_after = restored_at.elapsed();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let answers = load.stop().await;

    let unavailable: Vec<_> = answers.iter().filter(|a| a.status == 503).collect();
    assert!(!unavailable.is_empty(), "the cut was seen");
    assert!(unavailable.iter().all(|a| a.retry_after.as_deref() == Some("1")), "every 503 says Retry-After: 1");
    let slowest = answers.iter().map(|a| a.took).max().unwrap();
    assert!(slowest < Duration::from_secs(1), "an answer took {slowest:?}");
    assert!(answers.iter().all(|a| [202, 503].contains(&a.status)), "only 202 and 503");
    let last = answers.iter().filter(|a| a.status == 202).map(|a| a.sent_at).max().unwrap();
    assert!(last > cut_for, "votes are accepted again after the cut");
    let accepted = assert_every_202_counted(&engine, &answers).await;
    eprintln!(
        "cut {cut_for:?}: {} requests, {accepted} accepted and counted, {} answered 503, slowest answer {slowest:?}, \
         ready again {recovered_after:?} after the link came back",
        answers.len(),
        unavailable.len()
    );
    intake.stop().await;
    engine.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_out_of_reach_answers_503_fast_and_recovers_by_itself() {
    broker_out_of_reach_under_load(Duration::from_secs(4)).await;
}

/// The reliability row: the broker away for 30 s under load. On demand:
/// `cargo test -p vote-intake --test it -- --ignored broker_away_30s`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "30 s; run on demand"]
async fn broker_away_30s_under_load() {
    broker_out_of_reach_under_load(Duration::from_secs(30)).await;
}
