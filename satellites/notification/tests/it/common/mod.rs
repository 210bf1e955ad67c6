//! Spawns the real notification and matchmaking services against the local PostgreSQL and
//! RabbitMQ: one fresh database and one unique exchange per test, unique queue names (the
//! contract's `notifications_queue` is the default, checked in the config tests), HTTP on free
//! ports.

use serde_json::Value;
use vote_mq::Delivery;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing::{fresh_database, unique_name};
use vote_satellite_kit::config::QueueSettings;
use vote_satellite_kit::testing::{self, Http, Running, fast_retries, queue_settings, service_settings};
use vote_satellite_notification::config::{MatchmakingSettings, NotificationSettings, notifications_queue};
use vote_satellite_notification::{matchmaking, service};

/// One test's world: a database, an exchange, the two queues, and the services started in it.
pub struct World {
    pub db: DbTarget,
    pub exchange: String,
    pub notifications: QueueSettings,
    pub events: QueueSettings,
    pub http: Http,
}

pub async fn world() -> World {
    World {
        db: fresh_database("notification").await,
        exchange: unique_name("notification_x"),
        notifications: notifications_queue(&unique_name("notifications_queue"), fast_retries()),
        events: queue_settings("inventory_reserved", &["inventory.reserved"]),
        http: Http::as_caller("user456", &[]),
    }
}

impl World {
    pub fn settings(&self) -> NotificationSettings {
        NotificationSettings {
            service: service_settings(&self.exchange, "notification-service"),
            events: self.events.clone(),
            notifications: self.notifications.clone(),
            database: self.db.clone().into(),
        }
    }

    pub async fn notification_service(&self) -> Running {
        let app = service::build(self.settings()).await.expect("notification-service starts");
        Running::start(app.port(), |stop| app.run_until_stopped(stop)).await
    }

    pub async fn matchmaking_service(&self) -> Running {
        let settings = MatchmakingSettings {
            service: service_settings(&self.exchange, "matchmaking-service"),
            notifications: self.notifications.clone(),
        };
        let app = matchmaking::build(settings).await.expect("matchmaking-service starts");
        Running::start(app.port(), |stop| app.run_until_stopped(stop)).await
    }

    /// Sends a message to the notifications queue through the default exchange.
    pub async fn send(&self, body: &str, message_id: Option<&str>) {
        testing::publish("", &self.notifications.queue, body.as_bytes().to_vec(), message_id.map(str::to_owned)).await;
    }

    /// `GET /notifications?user_id=<user>`.
    pub async fn notifications(&self, service: &Running, user: &str) -> Vec<Value> {
        let http = Http::as_caller(user, &[]);
        let (status, list) = http.get(&service.url(&format!("/notifications?user_id={user}"))).await;
        assert_eq!(status, 200, "{list}");
        list.as_array().expect("a list").clone()
    }

    /// Waits until `user` has `n` notifications, and returns them.
    pub async fn wait_for_notifications(&self, service: &Running, user: &str, n: usize) -> Vec<Value> {
        let url = service.url(&format!("/notifications?user_id={user}"));
        let list = Http::as_caller(user, &[]).get_until(&url, |l| l.as_array().is_some_and(|a| a.len() >= n)).await;
        let list = list.as_array().unwrap().clone();
        assert_eq!(list.len(), n, "{list:?}");
        list
    }

    /// Takes what reached a queue's dead-letter queue, waiting for `n` messages.
    pub async fn dead_letters(&self, queue: &QueueSettings, n: usize) -> Vec<Delivery> {
        testing::take(&queue.dead_letter_queue, n).await
    }

    pub async fn stored(&self) -> i64 {
        let client = self.db.connect().await.unwrap();
        client.query_one("SELECT count(*) FROM notifications", &[]).await.unwrap().get(0)
    }

    pub async fn metrics(&self, service: &Running) -> String {
        self.http.text(&service.url("/metrics")).await
    }
}
