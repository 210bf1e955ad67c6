//! Spawns the real ordering services against the local PostgreSQL and RabbitMQ: one fresh
//! database and one unique exchange per test, unique queue names (the contract's
//! `order_placed` / `order_placed_dlq` are the defaults, checked in the config tests), HTTP on
//! free ports.

use serde_json::Value;
use vote_mq::{Delivery, RedeliveryPolicy};
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing::{TcpProxy, fresh_database, unique_name};
use vote_satellite_kit::auth::{self, INVENTORY_MANAGER_ROLE, ORDER_CALLBACK_ROLE};
use vote_satellite_kit::config::QueueSettings;
use vote_satellite_kit::testing::{self, Http, Running, queue_settings, service_settings};
use vote_satellite_ordering::config::{CallbackSettings, OrderSettings, Settings};
use vote_satellite_ordering::{callback, inventory, order};

/// One test's world: a database, an exchange, the queues of the consumers, and the services
/// started in it.
pub struct World {
    pub db: DbTarget,
    pub exchange: String,
    pub inventory_queue: QueueSettings,
    pub callback_queue: QueueSettings,
    pub http: Http,
}

/// A file holding a token with the `order-callback` role, as ORDER_SERVICE_TOKEN_FILE.
pub fn callback_token_file() -> std::path::PathBuf {
    let path = std::env::temp_dir().join(unique_name("callback_token"));
    std::fs::write(&path, auth::testing::token("order-callback", &[ORDER_CALLBACK_ROLE]))
        .expect("write the token file");
    path
}

pub async fn world() -> World {
    let mut inventory_queue = queue_settings("order_placed", &["order.placed"]);
    inventory_queue.dead_letter_queue = format!("{}_dlq", inventory_queue.queue);
    World {
        db: fresh_database("ordering").await,
        exchange: unique_name("ordering_x"),
        inventory_queue,
        callback_queue: queue_settings("order_callback", &["inventory.reserved", "inventory.failed"]),
        http: Http::as_caller("S1", &[ORDER_CALLBACK_ROLE, INVENTORY_MANAGER_ROLE]),
    }
}

impl World {
    pub async fn order_service(&self) -> Running {
        self.order_service_via(None).await
    }

    /// The OrderService, reaching the broker through `proxy` when given.
    pub async fn order_service_via(&self, proxy: Option<&TcpProxy>) -> Running {
        let mut service = service_settings(&self.exchange, "order-service");
        if let Some(proxy) = proxy {
            (service.amqp_url.host, service.amqp_url.port) = ("127.0.0.1".to_owned(), proxy.port());
        }
        let settings = OrderSettings { service, database: self.db.clone().into() };
        let app = order::build(settings).await.expect("order-service starts");
        Running::start(app.port(), |stop| app.run_until_stopped(stop)).await
    }

    pub async fn inventory_service(&self) -> Running {
        let settings = Settings {
            service: service_settings(&self.exchange, "inventory-service"),
            queue: self.inventory_queue.clone(),
            database: self.db.clone().into(),
        };
        let app = inventory::build(settings).await.expect("inventory-service starts");
        Running::start(app.port(), |stop| app.run_until_stopped(stop)).await
    }

    /// The callback, calling the OrderService at `order_service_url`, retrying with `retry`.
    pub async fn callback(&self, order_service_url: &str, retry: RedeliveryPolicy) -> Running {
        let mut queue = self.callback_queue.clone();
        queue.retry = retry;
        let settings = CallbackSettings {
            service: service_settings(&self.exchange, "order-callback"),
            queue,
            order_service_url: order_service_url.to_owned(),
            order_service_token_file: Some(callback_token_file()),
        };
        let app = callback::build(settings).await.expect("order-callback starts");
        Running::start(app.port(), |stop| app.run_until_stopped(stop)).await
    }

    /// Places an order and returns its id.
    pub async fn place(&self, orders: &Running, item: &str, qty: i32, student: &str) -> String {
        let body = serde_json::json!({"item": item, "qty": qty, "student_id": student}).to_string();
        let (status, order) = Http::as_caller(student, &[]).post(&orders.url("/order"), &body).await;
        assert_eq!(status, 201, "{order}");
        assert_eq!(order["status"], "PLACED");
        order["order_id"].as_str().expect("an order id").to_owned()
    }

    /// Waits until the order has `status`.
    pub async fn wait_for_status(&self, orders: &Running, id: &str, status: &str) -> Value {
        self.http.get_until(&orders.url(&format!("/orders/{id}")), |o| o["status"] == status).await
    }

    pub async fn stock(&self, inventory: &Running, item: &str) -> i64 {
        let (status, level) = self.http.get(&inventory.url(&format!("/stock/{item}"))).await;
        assert_eq!(status, 200, "{level}");
        level["quantity"].as_i64().unwrap()
    }

    /// Publishes to the world's exchange with routing key `order.placed`.
    pub async fn publish_order(&self, body: Vec<u8>) {
        testing::publish(&self.exchange, "order.placed", body, None).await;
    }

    /// Takes what reached the inventory's dead-letter queue, waiting for `n` messages.
    pub async fn inventory_dead_letters(&self, n: usize) -> Vec<Delivery> {
        testing::take(&self.inventory_queue.dead_letter_queue, n).await
    }

    pub async fn processed(&self, order_id: &str) -> i64 {
        let client = self.db.connect().await.unwrap();
        client
            .query_one("SELECT count(*) FROM processed_orders WHERE order_id = $1", &[&order_id])
            .await
            .unwrap()
            .get(0)
    }
}

/// Retries that outlast a short outage of the OrderService: 20 attempts, 100 ms apart.
pub fn patient_retries() -> RedeliveryPolicy {
    RedeliveryPolicy {
        max_attempts: 20,
        initial_delay: std::time::Duration::from_millis(100),
        max_delay: std::time::Duration::from_millis(100),
    }
}
