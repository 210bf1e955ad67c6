//! Spawns the real VotingService against the local PostgreSQL and RabbitMQ: a fresh database,
//! unique exchange and queue names, HTTP on a free port.

#![allow(dead_code)]

use serde_json::Value;
use vote_mq::Subscription;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing::{fresh_database, unique_name};
use vote_satellite_kit::testing::{self, Http, Running, queue_settings, service_settings};
use vote_satellite_poll::build;
use vote_satellite_poll::config::Settings;

pub struct TestApp {
    pub db: DbTarget,
    pub settings: Settings,
    pub http: Http,
    running: Running,
}

pub fn settings(db: &DbTarget) -> Settings {
    Settings {
        service: service_settings(&unique_name("poll_x"), "voting-service"),
        queue: queue_settings("poll_q", &["voting.create"]),
        database: db.clone(),
    }
}

pub async fn spawn_app() -> TestApp {
    let db = fresh_database("poll").await;
    let settings = settings(&db);
    let app = build(settings.clone()).await.expect("the service starts (PostgreSQL and RabbitMQ running?)");
    let running = Running::start(app.port(), |stop| app.run_until_stopped(stop)).await;
    TestApp { db, settings, http: Http::default(), running }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        self.running.url(path)
    }

    pub async fn post(&self, path: &str, body: &str) -> (u16, Value) {
        self.http.post(&self.url(path), body).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.http.get(&self.url(path)).await
    }

    pub async fn metrics(&self) -> String {
        self.http.text(&self.url("/metrics")).await
    }

    /// Publishes an event on the service's exchange, confirmed.
    pub async fn publish(&self, routing_key: &str, body: Vec<u8>) {
        testing::publish(&self.settings.service.exchange, routing_key, body, None).await;
    }

    pub async fn poll_count(&self, meeting_id: &str) -> i64 {
        let client = self.db.connect().await.unwrap();
        client.query_one("SELECT count(*) FROM polls WHERE meeting_id = $1", &[&meeting_id]).await.unwrap().get(0)
    }

    /// Waits until `meeting_id` has `n` polls.
    pub async fn wait_for_polls(&self, meeting_id: &str, n: i64) {
        testing::wait_until(&format!("{n} polls for {meeting_id}"), || async {
            self.poll_count(meeting_id).await == n
        })
        .await;
    }

    /// Takes what reached the dead-letter queue, waiting for `n` messages.
    pub async fn dead_letters(&self, n: usize) -> Vec<vote_mq::Delivery> {
        testing::take(&self.settings.queue.dead_letter_queue, n).await
    }

    /// A subscription to `pattern` on the service's exchange, to observe published events.
    pub async fn listen(&self, pattern: &str) -> Subscription {
        testing::listen(&self.settings.service.exchange, pattern).await
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}
