//! Test harness: a real engine against the local RabbitMQ and PostgreSQL, with a fresh database
//! and unique queue names per test.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::task::JoinHandle;
use vote_engine::config::parse_cli;
use vote_engine::{Application, Command};
use vote_mq::{AmqpUrl, OutgoingMessage, Publisher, Subscription};
use vote_runtime::CancellationToken;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;

/// Where a test's engine reads and writes.
#[derive(Clone)]
pub struct Target {
    pub db: DbTarget,
    pub db_url: String,
    pub amqp_url: String,
    pub queue: String,
}

impl Target {
    pub async fn fresh(name: &str) -> Self {
        let db = testing::fresh_database(name).await;
        let db_url = format!("{}/{}", testing::database_url().rsplit_once('/').unwrap().0, db.dbname());
        Self { db, db_url, amqp_url: testing::amqp_url(), queue: testing::unique_name(&format!("votes_{name}")) }
    }

    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.queue)
    }

    pub fn amqp(&self) -> AmqpUrl {
        AmqpUrl::parse(&self.amqp_url).unwrap()
    }

    /// The engine's command line for this target plus `extra` flags.
    pub fn args(&self, extra: &[&str]) -> Vec<String> {
        let mut args: Vec<String> = [
            "vote-engine",
            "--amqp-url",
            &self.amqp_url,
            "--database-url",
            &self.db_url,
            "--rabbitmq-queue",
            &self.queue,
            "--prometheus-port",
            "0",
            "--log-format",
            "text",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    }
}

/// An engine running in this process.
pub struct Engine {
    pub ops_port: u16,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Engine {
    pub async fn start(target: &Target, extra: &[&str]) -> Self {
        let (command, settings) = parse_cli(target.args(extra)).unwrap_or_else(|e| panic!("{}", e.message));
        assert_eq!(command, Command::Run);
        let stop = CancellationToken::new();
        let app = Application::build(settings, &stop).await.expect("engine builds");
        let ops_port = app.ops_port();
        let task = tokio::spawn(app.run_until_stopped(stop.clone()));
        let engine = Self { ops_port, stop, task };
        engine.wait_ready().await;
        engine
    }

    pub async fn wait_ready(&self) {
        let url = format!("http://127.0.0.1:{}/readyz", self.ops_port);
        for _ in 0..200 {
            if reqwest::get(&url).await.map(|r| r.status().is_success()).unwrap_or(false) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("engine not ready after 10 s");
    }

    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://127.0.0.1:{}/metrics", self.ops_port)).await.unwrap().text().await.unwrap()
    }

    /// Graceful stop; returns once the engine has flushed, committed and acked.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(15), self.task)
            .await
            .expect("engine stops within 15 s")
            .unwrap()
            .expect("engine exits cleanly");
    }
}

/// A vote in the seed format.
pub fn vote(hash: &str, citizen: &str, law: &str, choice: &str) -> Vec<u8> {
    format!(
        r#"{{"vote_hash":"{hash}","citizen_id":"{citizen}","law_id":"{law}","choice":"{choice}","timestamp":"2025-11-14T12:00:00.123456Z"}}"#
    )
    .into_bytes()
}

/// The same vote as a `vote.cast` event envelope.
pub fn envelope(hash: &str, citizen: &str, law: &str, choice: &str) -> Vec<u8> {
    let data = String::from_utf8(vote(hash, citizen, law, choice)).unwrap();
    format!(
        r#"{{"event_type":"vote.cast","event_version":1,"event_id":"{hash}","timestamp":"2025-11-14T12:00:00Z","producer":"test","data":{data}}}"#
    )
    .into_bytes()
}

/// Publishes bodies to the queue through the default exchange, all confirmed.
pub async fn publish(target: &Target, bodies: &[Vec<u8>]) {
    let publisher =
        Publisher::connect(&target.amqp(), "engine-test-publisher").await.expect("RabbitMQ must be running");
    let mut confirms = Vec::with_capacity(bodies.len());
    for body in bodies {
        confirms.push(publisher.send(&OutgoingMessage::json("", &target.queue, body.clone())).await.unwrap());
    }
    for c in confirms {
        c.await.expect("publish confirmed");
    }
    publisher.close().await;
}

/// Totals per law from vote_results.
pub async fn totals(db: &DbTarget) -> BTreeMap<String, (i64, i64)> {
    let client = db.connect().await.unwrap();
    let rows = client.query("SELECT law_id, oui_count, non_count FROM vote_results", &[]).await.unwrap();
    rows.iter().map(|r| (r.get(0), (r.get(1), r.get(2)))).collect()
}

pub async fn scalar(db: &DbTarget, sql: &str) -> i64 {
    let client = db.connect().await.unwrap();
    client.query_one(sql, &[]).await.unwrap().get(0)
}

/// Waits until vote_results sums to `expected` votes (and stays there), or panics.
pub async fn wait_for_total(db: &DbTarget, expected: i64, within: Duration) {
    let sql = "SELECT coalesce(sum(oui_count + non_count), 0)::bigint FROM vote_results";
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let n = scalar(db, sql).await;
        if n == expected {
            return;
        }
        assert!(n < expected, "counted {n} votes, more than the {expected} published");
        if tokio::time::Instant::now() > deadline {
            panic!("only {n} of {expected} votes counted after {within:?}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Reads `count` messages from a queue (acking them), returning (x-reject-reason, body).
pub async fn read_queue(target: &Target, queue: &str, count: usize) -> Vec<(Option<String>, Vec<u8>)> {
    let mut sub = Subscription::open_queue(&target.amqp(), queue, 500, "engine-test-reader").await.unwrap();
    let mut out = Vec::new();
    while out.len() < count {
        let d = tokio::time::timeout(Duration::from_secs(20), sub.recv())
            .await
            .unwrap_or_else(|_| panic!("only {} of {count} messages in {queue}", out.len()))
            .expect("reader connection open");
        sub.acker().ack(d.tag, false).await.unwrap();
        out.push((d.header(vote_mq::REJECT_REASON_HEADER), d.body));
    }
    // Nothing more than expected.
    let extra = tokio::time::timeout(Duration::from_millis(300), sub.recv()).await;
    assert!(extra.is_err(), "{queue} holds more than {count} messages");
    sub.close().await;
    out
}

/// The value of one series in Prometheus text, e.g. `current_vote_totals{law_id="a",choice="oui"}`.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series).and_then(|v| v.trim().parse().ok()))
}
