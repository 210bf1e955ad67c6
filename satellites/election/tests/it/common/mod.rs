//! Spawns the real services against the local PostgreSQL and RabbitMQ: one fresh database and
//! one unique exchange per test, unique queues, HTTP on free ports.

use serde_json::Value;
use uuid::Uuid;
use vote_mq::{Delivery, Envelope, Subscription};
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing::{fresh_database, unique_name};
use vote_satellite_election::config::Settings;
use vote_satellite_election::{election, meeting};
use vote_satellite_kit::config::QueueSettings;
use vote_satellite_kit::testing::{self, Http, Running, queue_settings, service_settings};

/// A running service and the queue it consumes.
pub struct Service {
    pub running: Running,
    pub base: String,
    pub dead_letter_queue: String,
}

impl Service {
    pub async fn stop(self) {
        self.running.stop().await;
    }
}

/// The subject of the world's HTTP client: creates the meetings, so manages them.
pub const CALLER: &str = "alice";

/// One test's world: a database, an exchange, and the services started in it.
pub struct World {
    pub db: DbTarget,
    pub exchange: String,
    pub http: Http,
}

pub async fn world() -> World {
    World { db: fresh_database("election").await, exchange: unique_name("elec_x"), http: Http::as_caller(CALLER, &[]) }
}

impl World {
    fn settings(&self, service_name: &str, bindings: &[&str]) -> Settings {
        Settings {
            service: service_settings(&self.exchange, service_name),
            queue: queue_settings(service_name, bindings),
            database: self.db.clone().into(),
        }
    }

    /// The poll-service's settings, consuming `queue`.
    pub fn poll_settings(&self, queue: QueueSettings) -> Settings {
        Settings { queue, ..self.settings("voting-service", &[]) }
    }

    /// The poll-service's usual queue: a unique name with the poll-service's bindings.
    pub fn poll_queue(&self) -> QueueSettings {
        queue_settings("voting-service", &["voting.create", "voting.close", "poll.ballot.cast", "meeting.created"])
    }

    fn service(running: Running, settings: &Settings) -> Service {
        Service { base: running.base.clone(), running, dead_letter_queue: settings.queue.dead_letter_queue.clone() }
    }

    pub async fn meeting_service(&self) -> Service {
        let settings = self.settings("meeting-service", &["meeting.created"]);
        let app = meeting::build(settings.clone()).await.expect("meeting-service starts");
        Self::service(Running::start(app.port(), |stop| app.run_until_stopped(stop)).await, &settings)
    }

    pub async fn election_service(&self) -> Service {
        self.election_service_with_pool(8).await
    }

    /// The election-service with a pool of `connections` database connections.
    pub async fn election_service_with_pool(&self, connections: usize) -> Service {
        let mut settings =
            self.settings("election-service", &["agenda.election.*", "voting.completed", "voting.refused"]);
        settings.database.max_connections = connections;
        let app = election::build(settings.clone()).await.expect("election-service starts");
        Self::service(Running::start(app.port(), |stop| app.run_until_stopped(stop)).await, &settings)
    }

    /// The meeting-service with a pool of `connections` database connections.
    pub async fn meeting_service_with_pool(&self, connections: usize) -> Service {
        let mut settings = self.settings("meeting-service", &["meeting.created"]);
        settings.database.max_connections = connections;
        let app = meeting::build(settings.clone()).await.expect("meeting-service starts");
        Self::service(Running::start(app.port(), |stop| app.run_until_stopped(stop)).await, &settings)
    }

    pub async fn poll_service(&self) -> Service {
        self.poll_service_on(self.poll_queue()).await
    }

    /// A poll-service consuming `queue`.
    pub async fn poll_service_on(&self, queue: QueueSettings) -> Service {
        let settings = self.poll_settings(queue);
        let app = vote_satellite_poll::build(settings.clone()).await.expect("poll-service starts");
        Self::service(Running::start(app.port(), |stop| app.run_until_stopped(stop)).await, &settings)
    }

    pub async fn post(&self, url: &str, body: &str) -> (u16, Value) {
        self.http.post(url, body).await
    }

    pub async fn get(&self, url: &str) -> (u16, Value) {
        self.http.get(url).await
    }

    /// Polls `GET url` until `check` accepts the 200 body.
    pub async fn get_until(&self, url: &str, check: impl Fn(&Value) -> bool) -> Value {
        self.http.get_until(url, check).await
    }

    pub async fn metrics(&self, service: &Service) -> String {
        self.http.text(&format!("{}/metrics", service.base)).await
    }

    /// Publishes an envelope on the world's exchange (routing key = event type), confirmed.
    pub async fn publish(&self, event: &Envelope) {
        testing::publish_event(&self.exchange, event).await;
    }

    pub async fn publish_raw(&self, routing_key: &str, body: Vec<u8>) {
        testing::publish(&self.exchange, routing_key, body, None).await;
    }

    /// A subscription to `pattern` on the world's exchange, to observe published events.
    pub async fn listen(&self, pattern: &str) -> Subscription {
        testing::listen(&self.exchange, pattern).await
    }

    /// Takes what reached a service's dead-letter queue, waiting for `n` messages.
    pub async fn dead_letters(&self, service: &Service, n: usize) -> Vec<Delivery> {
        testing::take(&service.dead_letter_queue, n).await
    }

    /// Messages waiting in a service's dead-letter queue (left there).
    pub async fn dead_letters_waiting(&self, service: &Service) -> u32 {
        testing::ready_messages(&service.dead_letter_queue).await
    }

    pub async fn count(&self, sql: &str, id: Uuid) -> i64 {
        let client = self.db.connect().await.unwrap();
        client.query_one(sql, &[&id]).await.unwrap().get(0)
    }
}
