//! `vote-reliability`: the suite that proves every promise of the engine contract with exact
//! totals, against the real `vote-engine` binary, RabbitMQ and PostgreSQL.
//!
//! Each test publishes a backlog with loadgen's seeded generator (duplicates of both kinds and
//! garbage mixed in), injects one kind of fault while the engine drains it, and ends with
//! loadgen's exact check: every unique vote counted once, law by law, and every garbage message
//! in the dead-letter queue. The pieces:
//! - [`engine`]: the engine binary, built once per test binary, run as a child process that can
//!   be killed, stopped with SIGTERM and probed over its ops port;
//! - [`target`]: a fresh database and unique queue per test, and what can be read from them;
//! - [`check`]: publishing backlogs, the exact check, dead-letter inspection and polling;
//! - [`broker`]: the local broker driven with `rabbitmqctl`;
//! - [`replicas`]: a PostgreSQL primary with a synchronous standby, a 3-node RabbitMQ cluster;
//! - [`ha`]: a PostgreSQL set that fails over by itself (pg_auto_failover), and commit probes;
//! - [`tls`]: a test CA and server certificates.

pub mod broker;
pub mod check;
pub mod engine;
pub mod ha;
pub mod replicas;
pub mod target;
pub mod tls;

pub use broker::{consumer_channel, on_drop, rabbitmqctl, suspend};
pub use check::{
    DeadLetter, assert_dead_letters_at_least_once, assert_exact, assert_refused_for_its_reason, generator,
    publish_backlog, publish_bodies, read_queue, vote_body, wait_for_dlq, wait_until, with_cleanup,
};
pub use engine::{EngineCommand, EngineProcess, engine_binary};
pub use ha::{CommitProbe, DirectWrite, PostgresHa, ProbeReport, direct_write};
pub use replicas::{PostgresPair, RabbitCluster, ScratchPostgres, rabbitmq_cluster, run_script};
pub use target::{Target, via};
pub use tls::{CaFile, Pki, pki};

/// The suite's tests share the local broker and database, and some stop them (a broker
/// restart) or own the fixed ports of the replicated servers: each holds its turn for its whole
/// run, so they run one at a time whatever the test harness's thread count.
static TURN: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits for this test's turn; it ends when the guard is dropped (also when the test panics).
pub async fn turn() -> tokio::sync::MutexGuard<'static, ()> {
    TURN.lock().await
}
