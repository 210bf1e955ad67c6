//! Shared by the tests: a fresh engine database (migrated by the engine's own migrations), the
//! read-only role of `sql/roles/results_role.sql`, and the service running in the test.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio::task::JoinHandle;
use vote_runtime::CancellationToken;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;
use vote_satellite_results::Application;
use vote_satellite_results::config::parse_cli;

/// A fresh database with the engine's schema.
pub struct Database {
    pub db: DbTarget,
    pub url: String,
}

impl Database {
    pub async fn fresh(name: &str) -> Self {
        let db = testing::fresh_database(name).await;
        vote_engine::app::migrate(&db, &CancellationToken::new()).await.expect("engine migrations");
        let url = format!("{}/{}", testing::database_url().rsplit_once('/').unwrap().0, db.dbname());
        Self { db, url }
    }

    pub async fn execute(&self, sql: &str) {
        self.db.connect().await.unwrap().batch_execute(sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    /// Creates (or resets) the results role with the project's script; returns its URL.
    pub fn results_role(&self, role: &str, password: &str) -> String {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sql/roles/results_role.sql");
        let output = Command::new("psql")
            .args(["-X", "-q", "-d", &testing::database_url(), "-f"])
            .arg(&script)
            .args(["-v", &format!("role={role}"), "-v", &format!("password={password}")])
            .args(["-v", &format!("dbname={}", self.db.dbname())])
            .output()
            .unwrap_or_else(|e| panic!("this test needs psql (postgresql-client): {e}"));
        assert!(
            output.status.success(),
            "{}: {}{}",
            script.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let url = self.url.replacen("://postgres@", &format!("://{role}:{password}@"), 1);
        assert_ne!(url, self.url, "TEST_DATABASE_URL must name the postgres user");
        url
    }

    /// Drops a role made by [`Database::results_role`].
    pub async fn drop_role(&self, role: &str) {
        self.execute(&format!(
            "DROP OWNED BY \"{role}\"; REVOKE ALL ON DATABASE \"{}\" FROM \"{role}\"",
            self.db.dbname()
        ))
        .await;
        let admin = self.db.with_dbname("postgres").connect().await.unwrap();
        admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\"")).await.unwrap();
    }
}

/// The service running in the test.
pub struct Service {
    pub base: String,
    stop: CancellationToken,
    task: JoinHandle<Result<(), vote_satellite_kit::Error>>,
}

impl Service {
    /// Starts the service on `database_url` with `extra` flags and waits until it is ready.
    pub async fn start(database_url: &str, extra: &[&str]) -> Self {
        let mut args = vec!["results-service", "--database-url", database_url, "--http-port", "0"];
        args.extend(["--log-format", "text", "--results-poll-interval-ms", "100"]);
        args.extend(extra);
        let settings = parse_cli(args).unwrap_or_else(|e| panic!("{}", e.message));
        let app = Application::build(&settings).await.expect("the service builds");
        let base = format!("http://127.0.0.1:{}", app.port());
        let stop = CancellationToken::new();
        let task = tokio::spawn(app.run_until_stopped(stop.clone()));
        let service = Self { base, stop, task };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if reqwest::get(service.url("/readyz")).await.is_ok_and(|r| r.status() == 200) {
                return service;
            }
            assert!(tokio::time::Instant::now() < deadline, "results-service not ready after 20 s");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn get(&self, path: &str) -> (u16, serde_json::Value) {
        let response = reqwest::get(self.url(path)).await.unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = response.status().as_u16();
        let text = response.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)))
    }

    /// Stops the service, open streams included, and checks it stopped cleanly.
    pub async fn stop(self) {
        self.stop.cancel();
        tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the service stops within 10 s")
            .unwrap()
            .expect("the service stopped cleanly");
    }
}
