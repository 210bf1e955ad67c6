//! Where one test's engine reads and writes: a fresh database and a unique queue, so tests run
//! in parallel without seeing each other's votes.

use std::time::Duration;

use vote_mq::AmqpUrl;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;

use crate::engine::EngineCommand;

/// Sum of the counted votes in `vote_results`.
const COUNTED_SQL: &str = "SELECT coalesce(sum(oui_count + non_count), 0)::bigint FROM vote_results";

/// A test's database and queue, and the URLs the engine reaches them by.
#[derive(Clone)]
pub struct Target {
    /// The test's own database (created empty).
    pub db: DbTarget,
    /// That database as a URL for the engine's DATABASE_URL.
    pub db_url: String,
    /// The broker as a URL for the engine's AMQP_URL.
    pub amqp_url: String,
    /// The vote queue, unique to the test.
    pub queue: String,
}

impl Target {
    /// Creates an empty database `test_<name>_...` and picks a unique queue name. Panics with a
    /// clear message when PostgreSQL is not running.
    pub async fn fresh(name: &str) -> Self {
        let db = testing::fresh_database(&format!("rel_{name}")).await;
        let server = testing::database_url();
        let (base, _) = server.rsplit_once('/').expect("TEST_DATABASE_URL has a database path");
        let db_url = format!("{base}/{}", db.dbname());
        Self { db, db_url, amqp_url: testing::amqp_url(), queue: testing::unique_name(&format!("rel_{name}")) }
    }

    /// The dead-letter queue the engine declares for [`Target::queue`].
    pub fn dlq(&self) -> String {
        format!("{}.dlq", self.queue)
    }

    /// The broker URL, parsed.
    pub fn amqp(&self) -> AmqpUrl {
        AmqpUrl::parse(&self.amqp_url).expect("TEST_AMQP_URL is a valid AMQP URL")
    }

    /// The engine's command line for this target: its URLs, its queue, an ops port chosen by the
    /// system, JSON logs.
    pub fn engine(&self) -> EngineCommand {
        self.engine_via(&self.amqp_url, &self.db_url)
    }

    /// The engine's command line with other URLs for the same broker and database (through a
    /// proxy, as another user).
    pub fn engine_via(&self, amqp_url: &str, db_url: &str) -> EngineCommand {
        EngineCommand::new().args(["--amqp-url", amqp_url, "--database-url", db_url]).args([
            "--rabbitmq-queue",
            &self.queue,
            "--prometheus-port",
            "0",
        ])
    }

    /// `host:port` of the broker.
    pub fn amqp_address(&self) -> String {
        let url = self.amqp();
        format!("{}:{}", url.host, url.port)
    }

    /// `host:port` of the database server.
    pub fn db_address(&self) -> String {
        let config = self.db.config();
        let host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
            _ => "127.0.0.1".to_owned(),
        };
        format!("{host}:{}", config.get_ports().first().copied().unwrap_or(5432))
    }

    /// Applies the engine's migrations with `vote-engine migrate` (as the database owner).
    pub async fn migrate(&self) {
        let (status, output) = self.engine().args(["migrate"]).run_to_exit(Duration::from_secs(60)).await;
        assert!(status.success(), "vote-engine migrate failed ({status}):\n{output}");
    }

    /// A new connection to the test's database.
    pub async fn client(&self) -> tokio_postgres::Client {
        self.db.connect().await.unwrap_or_else(|e| panic!("cannot connect to {}: {e}", self.db))
    }

    /// One `bigint` from a query.
    pub async fn scalar(&self, sql: &str) -> i64 {
        let client = self.client().await;
        client.query_one(sql, &[]).await.unwrap_or_else(|e| panic!("{sql}: {e}")).get(0)
    }

    /// Terminates every client backend connected to the test's database (the engine's
    /// connections), as an operator or a crashing server would; returns how many.
    pub async fn kill_backends(&self) -> usize {
        let admin = self.db.with_dbname("postgres").connect().await.expect("PostgreSQL must be running");
        admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = $1 AND pid <> pg_backend_pid() AND backend_type = 'client backend'",
                &[&self.db.dbname()],
            )
            .await
            .expect("pg_terminate_backend")
            .len()
    }

    /// Votes counted so far (all laws).
    pub async fn counted(&self) -> u64 {
        self.scalar(COUNTED_SQL).await as u64
    }

    /// Votes counted so far, or `None` while no server of the target answers (mid-failover).
    pub async fn try_counted(&self) -> Option<u64> {
        let client = tokio::time::timeout(Duration::from_secs(3), self.db.connect()).await.ok()?.ok()?;
        let row = client.query_one(COUNTED_SQL, &[]).await.ok()?;
        Some(row.get::<_, i64>(0) as u64)
    }

    /// Messages ready in the vote queue (unacked ones not included).
    pub async fn queue_depth(&self) -> u32 {
        vote_mq::admin::message_count(&self.amqp(), &self.queue).await.expect("RabbitMQ must be running")
    }

    /// Messages ready in the dead-letter queue.
    pub async fn dlq_depth(&self) -> u32 {
        vote_mq::admin::message_count(&self.amqp(), &self.dlq()).await.expect("RabbitMQ must be running")
    }

    /// Deletes the test's queues (the database is dropped by the next `scripts/test.sh`).
    pub async fn delete_queues(&self) {
        for queue in [self.queue.clone(), self.dlq()] {
            vote_mq::admin::delete_queue(&self.amqp(), &queue).await.expect("RabbitMQ must be running");
        }
    }
}

/// `url` with its `host:port` replaced by `address` (credentials, path and query kept): the same
/// server reached through a proxy.
pub fn via(url: &str, address: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL has a scheme");
    let (authority, path) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, _)) => format!("{scheme}://{userinfo}@{address}{path}"),
        None => format!("{scheme}://{address}{path}"),
    }
}

#[cfg(test)]
mod tests {
    use super::via;

    #[test]
    fn via_swaps_only_the_address() {
        assert_eq!(via("amqp://u:p%40@h:5672/%2f?x=1", "127.0.0.1:9"), "amqp://u:p%40@127.0.0.1:9/%2f?x=1");
        assert_eq!(via("postgres://postgres@127.0.0.1:5432/db", "[::1]:7"), "postgres://postgres@[::1]:7/db");
        assert_eq!(via("amqp://h", "a:1"), "amqp://a:1");
    }
}
