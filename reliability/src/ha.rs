//! A PostgreSQL set that fails over by itself (`scripts/postgres-ha.sh`: a pg_auto_failover
//! monitor and two nodes) and the probes the failover tests read it with: a writer that times
//! every commit, and a write sent straight to one node, bypassing the multi-host URL.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::task::JoinHandle;
use tokio::time::Instant;
use vote_runtime::postgres::DbTarget;

use crate::replicas::{run_script, scripts_dir};

/// Longest a probe commit is waited for; one still waiting then counts as waiting this long.
const PROBE_COMMIT_LIMIT: Duration = Duration::from_secs(30);

/// A pg_auto_failover set of the test's own on loopback ports (the monitor on `port`, the nodes
/// on the next two), erased when this value is dropped.
pub struct PostgresHa {
    port: u16,
    dir: String,
}

impl PostgresHa {
    /// Creates the set afresh (erasing one a previous run left) and waits for a primary with a
    /// synchronous secondary. Installs pg_auto_failover first when it is absent.
    pub fn start(port: u16) -> Self {
        let set = Self { port, dir: format!("/var/tmp/vote-postgres-ha-{port}") };
        set.script(&["down"]);
        set.script(&["up"]);
        set
    }

    /// `scripts/postgres-ha.sh` with `args`, for this set: its standard output.
    pub fn script(&self, args: &[&str]) -> String {
        run_script("postgres-ha.sh", args, &self.env())
    }

    fn env(&self) -> [(&'static str, String); 2] {
        [("POSTGRES_HA_PORT", self.port.to_string()), ("POSTGRES_HA_DIR", self.dir.clone())]
    }

    /// The set's multi-host URL for database `dbname`, as the script prints it.
    pub fn url(&self, dbname: &str) -> String {
        self.script(&["url", dbname]).trim().to_owned()
    }

    /// The port of node `n` (1 or 2).
    pub fn port(&self, n: u8) -> u16 {
        self.port + u16::from(n)
    }

    /// The node the monitor holds primary now.
    pub fn primary(&self) -> u8 {
        self.script(&["primary"]).trim().parse().expect("postgres-ha.sh primary prints a node number")
    }

    /// The node the monitor holds primary now, or `None` while there is none (mid-failover).
    pub fn try_primary(&self) -> Option<u8> {
        let output =
            Command::new(scripts_dir().join("postgres-ha.sh")).arg("primary").envs(self.env()).output().ok()?;
        String::from_utf8_lossy(&output.stdout).trim().parse().ok()
    }

    /// The node that is not [`PostgresHa::primary`].
    pub fn secondary(&self) -> u8 {
        3 - self.primary()
    }

    /// The states the monitor reports, one line per node.
    pub fn status(&self) -> String {
        self.script(&["status"])
    }

    /// Whether the monitor sees a primary and a secondary, each in its assigned state and
    /// passing the monitor's health checks (a node it cannot reach is marked `!`, and its state
    /// is only the last one it reported).
    pub fn is_settled(&self) -> bool {
        let status = self.status();
        let settled = |state: &str, connection: &str| {
            status.lines().any(|line| {
                let columns: Vec<&str> = line.split('|').map(str::trim).collect();
                columns.len() == 7 && columns[4] == connection && columns[5] == state && columns[6] == state
            })
        };
        settled("primary", "read-write") && settled("secondary", "read-only")
    }

    /// Node `n`'s machine lost: its keeper and its PostgreSQL killed at once.
    pub fn kill(&self, n: u8) {
        self.script(&["kill", &n.to_string()]);
    }

    /// kill -9 of node `n`'s postmaster alone (its keeper lives on).
    pub fn kill_postgres(&self, n: u8) {
        self.script(&["kill-postgres", &n.to_string()]);
    }

    /// Starts node `n`'s keeper again.
    pub fn restart(&self, n: u8) {
        self.script(&["start", &n.to_string()]);
    }

    /// Drops every packet to the monitor.
    pub fn cut_monitor(&self) {
        self.script(&["cut-monitor"]);
    }

    /// Lets packets reach the monitor again.
    pub fn heal(&self) {
        self.script(&["heal"]);
    }

    /// The database `dbname` on node `n` alone: no other host, no `target_session_attrs`.
    pub fn node(&self, n: u8, dbname: &str) -> DbTarget {
        DbTarget::parse(&format!("postgres://postgres@127.0.0.1:{}/{dbname}?connect_timeout=2", self.port(n)))
            .expect("a one-host URL parses")
    }
}

impl Drop for PostgresHa {
    /// Stops and erases the set; never panics, since it also runs while a failed test unwinds.
    fn drop(&mut self) {
        let _ = Command::new(scripts_dir().join("postgres-ha.sh")).arg("down").envs(self.env()).output();
    }
}

/// What a write sent straight to one node met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DirectWrite {
    /// Committed: the node took a write.
    Accepted,
    /// Refused because the node is read-only (SQLSTATE 25006).
    ReadOnly,
    /// Not connected, or another error.
    Failed(String),
}

/// Sends one write (a row into `fence_probe`, created when missing) straight to `node`.
pub async fn direct_write(node: &DbTarget) -> DirectWrite {
    let client = match tokio::time::timeout(Duration::from_secs(3), node.connect()).await {
        Ok(Ok(client)) => client,
        Ok(Err(e)) => return DirectWrite::Failed(e.to_string()),
        Err(_) => return DirectWrite::Failed("connect timed out".to_owned()),
    };
    let sql = "CREATE TABLE IF NOT EXISTS fence_probe (at timestamptz NOT NULL); \
               INSERT INTO fence_probe VALUES (now())";
    match tokio::time::timeout(Duration::from_secs(3), client.batch_execute(sql)).await {
        Ok(Ok(())) => DirectWrite::Accepted,
        Ok(Err(e)) if e.code() == Some(&tokio_postgres::error::SqlState::READ_ONLY_SQL_TRANSACTION) => {
            DirectWrite::ReadOnly
        }
        Ok(Err(e)) => DirectWrite::Failed(e.to_string()),
        Err(_) => DirectWrite::Failed("write timed out".to_owned()),
    }
}

/// What a [`CommitProbe`] saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct ProbeReport {
    /// Commits that succeeded.
    pub commits: u64,
    /// Attempts that failed (no writable server, connection lost).
    pub failures: u64,
    /// The longest any one commit waited for its answer, committed or failed.
    pub longest_wait: Duration,
}

/// A writer committing one row every 50 ms through a (multi-host) URL, timing each commit: a
/// commit that waits for a lost secondary shows here.
pub struct CommitProbe {
    stop: Arc<AtomicBool>,
    task: JoinHandle<ProbeReport>,
}

impl CommitProbe {
    /// Creates table `commit_probe` and starts committing into it through `target`.
    pub async fn start(target: DbTarget) -> Self {
        let client = target.connect().await.unwrap_or_else(|e| panic!("cannot connect to {target}: {e}"));
        client
            .batch_execute("CREATE TABLE IF NOT EXISTS commit_probe (at timestamptz NOT NULL)")
            .await
            .expect("create commit_probe");
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(probe(target, Some(client), stop.clone()));
        Self { stop, task }
    }

    /// Stops the writer: what it saw.
    pub async fn finish(self) -> ProbeReport {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.expect("the commit probe task")
    }
}

async fn probe(target: DbTarget, mut client: Option<tokio_postgres::Client>, stop: Arc<AtomicBool>) -> ProbeReport {
    let mut report = ProbeReport::default();
    while !stop.load(Ordering::Relaxed) {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let c = match client.take() {
            Some(c) => c,
            None => match tokio::time::timeout(Duration::from_secs(3), target.connect()).await {
                Ok(Ok(c)) => c,
                _ => {
                    report.failures += 1;
                    continue;
                }
            },
        };
        // Only the commit is timed: connecting while no server is writable is not waiting.
        let started = Instant::now();
        let outcome =
            tokio::time::timeout(PROBE_COMMIT_LIMIT, c.execute("INSERT INTO commit_probe VALUES (now())", &[])).await;
        report.longest_wait = report.longest_wait.max(started.elapsed());
        match outcome {
            Ok(Ok(_)) => {
                report.commits += 1;
                client = Some(c);
            }
            _ => report.failures += 1,
        }
    }
    report
}
