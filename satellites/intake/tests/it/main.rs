//! The intake against the real servers: a fresh engine database per test, the engine counting
//! from a queue of its own (in the test process), and the intake in the test process or as its
//! binary.

mod broker;
mod hostile;
mod kill;
mod openapi;
mod votes;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::task::JoinHandle;
use vote_mq::AmqpUrl;
use vote_runtime::CancellationToken;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;
use vote_satellite_kit::auth::testing as auth;

/// The receipt key of the tests.
pub(crate) const RECEIPT_KEY: &str = "test-receipt-key-0123456789abcdef0123456789";

/// A fresh database with the engine's schema, and the engine counting into it from a queue of
/// its own.
pub(crate) struct Engine {
    pub(crate) db: DbTarget,
    pub(crate) url: String,
    pub(crate) queue: String,
    stop: CancellationToken,
    task: JoinHandle<anyhow::Result<()>>,
}

impl Engine {
    pub(crate) async fn start(name: &str) -> Self {
        let db = testing::fresh_database(name).await;
        let url = format!("{}/{}", testing::database_url().rsplit_once('/').unwrap().0, db.dbname());
        let queue = testing::unique_name(&format!("votes_{name}"));
        let amqp = testing::amqp_url();
        let args = ["vote-engine", "--amqp-url", &amqp, "--database-url", &url, "--rabbitmq-queue", &queue];
        let args =
            args.into_iter().chain(["--prometheus-port", "0", "--log-format", "text", "--votes-per-message", "50"]);
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
        Self { db, url, queue, stop, task }
    }

    /// Rows of `vote_audit` (hash, citizen, law, choice), by hash.
    pub(crate) async fn counted(&self) -> Vec<(String, String, String, String)> {
        let client = self.db.connect().await.unwrap();
        let rows = client
            .query("SELECT vote_hash, citizen_id, law_id, choice FROM vote_audit ORDER BY vote_hash", &[])
            .await
            .unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3))).collect()
    }

    /// Waits until `vote_audit` holds `n` rows (at most 30 s) and returns them.
    pub(crate) async fn wait_counted(&self, n: usize) -> Vec<(String, String, String, String)> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        loop {
            let rows = self.counted().await;
            if rows.len() >= n {
                return rows;
            }
            assert!(tokio::time::Instant::now() < deadline, "the engine counted {} of {n} votes", rows.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `(vote_hash, reason)` of `duplicate_attempts`.
    pub(crate) async fn duplicates(&self) -> Vec<(String, String)> {
        let client = self.db.connect().await.unwrap();
        let rows = client.query("SELECT vote_hash, reason FROM duplicate_attempts ORDER BY id", &[]).await.unwrap();
        rows.iter().map(|r| (r.get(0), r.get(1))).collect()
    }

    /// Creates (or resets) the intake's read-only role with `sql/roles/intake_role.sql`;
    /// returns its database URL.
    pub(crate) fn intake_role(&self, role: &str, password: &str) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql/roles/intake_role.sql");
        let output = Command::new("psql")
            .args(["-X", "-q", "-d", &testing::database_url(), "-f"])
            .arg(&script)
            .args(["-v", &format!("role={role}"), "-v", &format!("password={password}")])
            .args(["-v", &format!("dbname={}", self.db.dbname())])
            .output()
            .unwrap_or_else(|e| panic!("this test needs psql (postgresql-client): {e}"));
        assert!(output.status.success(), "{}: {}", script.display(), String::from_utf8_lossy(&output.stderr));
        let url = self.url.replacen("://postgres@", &format!("://{role}:{password}@"), 1);
        assert_ne!(url, self.url, "TEST_DATABASE_URL must name the postgres user");
        url
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(20), self.task).await.unwrap().unwrap().unwrap();
        let broker = AmqpUrl::parse(&testing::amqp_url()).unwrap();
        for queue in [self.queue.clone(), format!("{}.dlq", self.queue)] {
            vote_mq::admin::delete_queue(&broker, &queue).await.unwrap();
        }
    }
}

/// The settings of an intake publishing to `engine`'s queue through `amqp_url`, reading its
/// database at `database_url`, with `extra` flags.
pub(crate) fn intake_args(engine: &Engine, amqp_url: &str, database_url: &str, extra: &[&str]) -> Vec<String> {
    let jwks = auth::jwks_file();
    let mut args: Vec<String> = [
        "vote-intake",
        "--amqp-url",
        amqp_url,
        "--rabbitmq-queue",
        &engine.queue,
        "--database-url",
        database_url,
        "--http-port",
        "0",
        "--intake-receipt-key",
        RECEIPT_KEY,
        "--auth-jwks-file",
        &jwks.to_string_lossy(),
        "--auth-issuer",
        auth::ISSUER,
        "--auth-audience",
        auth::AUDIENCE,
        "--log-format",
        "text",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .collect();
    args.extend(extra.iter().map(|s| (*s).to_owned()));
    args
}

/// The intake running in the test process.
pub(crate) struct Intake {
    pub(crate) base: String,
    stop: CancellationToken,
    task: JoinHandle<Result<(), vote_satellite_kit::Error>>,
}

impl Intake {
    pub(crate) async fn start(args: Vec<String>) -> Self {
        let settings = vote_intake::config::parse_cli(args).unwrap_or_else(|e| panic!("{}", e.message));
        let app = vote_intake::Application::build(&settings).await.expect("the intake builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(stop.clone()));
        Self { base, stop, task }
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the intake stops within 10 s")
            .unwrap()
            .expect("the intake stopped cleanly");
    }
}

/// `{"law_id", "choice"}`.
pub(crate) fn ballot(law: &str, choice: &str) -> String {
    serde_json::json!({"law_id": law, "choice": choice}).to_string()
}

/// One answered request of a [`Load`].
#[derive(Debug, Clone)]
pub(crate) struct Answer {
    /// HTTP status; 0 when no answer came (connection refused or reset).
    pub(crate) status: u16,
    /// The receipt of a 202.
    pub(crate) receipt: Option<String>,
    /// The `Retry-After` header.
    pub(crate) retry_after: Option<String>,
    /// Time from sending to the answer.
    pub(crate) took: Duration,
    /// When it was sent, from the start of the load.
    pub(crate) sent_at: Duration,
}

/// Citizens voting at `base` from `workers` concurrent loops, each vote by a new citizen, until
/// stopped.
pub(crate) struct Load {
    stop: CancellationToken,
    workers: Vec<JoinHandle<Vec<Answer>>>,
}

impl Load {
    pub(crate) fn start(base: &str, workers: usize, law: &str) -> Self {
        let stop = CancellationToken::new();
        let started = tokio::time::Instant::now();
        let workers = (0..workers)
            .map(|w| {
                let (stop, url, law) = (stop.clone(), format!("{base}/votes"), law.to_owned());
                tokio::spawn(async move {
                    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
                    let mut answers = Vec::new();
                    let mut i = 0u64;
                    while !stop.is_cancelled() {
                        let token = auth::token(&format!("load-{w}-{i}"), &[]);
                        i += 1;
                        let sent_at = started.elapsed();
                        let response = client
                            .post(&url)
                            .bearer_auth(token)
                            .header("content-type", "application/json")
                            .body(ballot(&law, "oui"))
                            .send()
                            .await;
                        let took = started.elapsed() - sent_at;
                        let answer = match response {
                            Ok(r) => {
                                let status = r.status().as_u16();
                                let retry_after =
                                    r.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
                                let body: serde_json::Value = r.json().await.unwrap_or_default();
                                let receipt = body["receipt"].as_str().map(str::to_owned);
                                Answer { status, receipt, retry_after, took, sent_at }
                            }
                            Err(_) => {
                                // Nobody answers (the intake was killed): pause instead of spinning.
                                tokio::time::sleep(Duration::from_millis(20)).await;
                                Answer { status: 0, receipt: None, retry_after: None, took, sent_at }
                            }
                        };
                        answers.push(answer);
                    }
                    answers
                })
            })
            .collect();
        Self { stop, workers }
    }

    /// Stops the loops and returns every answer.
    pub(crate) async fn stop(self) -> Vec<Answer> {
        self.stop.cancel();
        let mut all = Vec::new();
        for worker in self.workers {
            all.extend(worker.await.unwrap());
        }
        all
    }
}

/// Asserts that every receipt of a 202 in `answers` is counted by `engine`, exactly once (the
/// audit's vote_hash is unique), and returns how many 202s there were.
pub(crate) async fn assert_every_202_counted(engine: &Engine, answers: &[Answer]) -> usize {
    let accepted: std::collections::BTreeSet<String> = answers.iter().filter_map(|a| a.receipt.clone()).collect();
    assert_eq!(accepted.len(), answers.iter().filter(|a| a.status == 202).count(), "one receipt per 202");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let counted: std::collections::BTreeSet<String> = engine.counted().await.into_iter().map(|r| r.0).collect();
        let missing = accepted.difference(&counted).count();
        if missing == 0 {
            return accepted.len();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} of {} votes answered 202 were never counted",
            accepted.len()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
