//! Spawns the real VotingService against the local PostgreSQL and RabbitMQ: a fresh database,
//! unique exchange and queue names, HTTP on a free port.

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
        queue: queue_settings("poll_q", &["voting.create", "voting.close", "poll.ballot.cast"]),
        database: db.clone().into(),
    }
}

pub async fn spawn_app() -> TestApp {
    let db = fresh_database("poll").await;
    let settings = settings(&db);
    let app = build(settings.clone()).await.expect("the service starts (PostgreSQL and RabbitMQ running?)");
    let running = Running::start(app.port(), |stop| app.run_until_stopped(stop)).await;
    TestApp {
        db,
        settings,
        http: Http::as_caller("alice", &["manager:m", "manager:m-1", "manager:m-2", "manager:m-b"]),
        running,
    }
}

/// A client acting for the voter a ballot names (`voter_id`), as that voter's own app would.
pub fn voter_client(ballot: &Value) -> Http {
    Http::as_caller(ballot["voter_id"].as_str().map_or("v", str::trim), &[])
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

    /// Creates a poll over HTTP and returns its uuid.
    pub async fn create_poll(&self, poll_type: &str, options: &[&str]) -> String {
        let body = serde_json::json!({"vote": {"meeting_id": "m-b", "pollType": poll_type, "options": options}});
        let (status, poll) = self.post("/polls/", &body.to_string()).await;
        assert_eq!(status, 200, "{poll}");
        poll["uuid"].as_str().unwrap().to_owned()
    }

    /// `POST /polls/<poll>/ballots` with `body`, by the voter it names.
    pub async fn cast(&self, poll: &str, body: &Value) -> (u16, Value) {
        voter_client(body).post(&self.url(&format!("/polls/{poll}/ballots")), &body.to_string()).await
    }

    /// `POST /polls/<poll>/ballots` with `body` as given, by voter `voter`.
    pub async fn cast_as(&self, voter: &str, poll: &str, body: &str) -> (u16, Value) {
        Http::as_caller(voter, &[]).post(&self.url(&format!("/polls/{poll}/ballots")), body).await
    }

    /// Ballots stored for the poll.
    pub async fn ballot_count(&self, poll: &str) -> i64 {
        let client = self.db.connect().await.unwrap();
        let poll = uuid::Uuid::parse_str(poll).unwrap();
        let sql = "SELECT count(*) FROM poll_ballots b JOIN polls p ON p.id = b.poll_id WHERE p.uuid = $1";
        client.query_one(sql, &[&poll]).await.unwrap().get(0)
    }

    pub async fn stop(self) {
        self.running.stop().await;
    }
}
