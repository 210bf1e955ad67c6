//! `vote-runtime`: what every service binary shares apart from the AMQP client (which lives in
//! `vote-mq`): the config vocabulary and command-line parsing, logging set-up, the shutdown
//! signal, the ops HTTP endpoints, PostgreSQL access (TLS included) and migrations. With the
//! feature `testing`, helpers for tests against the real servers.

pub mod backoff;
pub mod cli;
pub mod config;
pub mod http;
pub mod logging;
pub mod migrate;
pub mod postgres;
pub mod postgres_tls;
pub mod shutdown;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use tokio_util::sync::CancellationToken;
