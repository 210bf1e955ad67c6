//! `vote-runtime`: what every service binary shares apart from AMQP (which lives in `vote-mq`):
//! command-line parsing, logging set-up, the shutdown signal, the ops HTTP endpoints and
//! PostgreSQL access (TLS included).

pub mod cli;
pub mod http;
pub mod logging;
pub mod postgres;
pub mod postgres_tls;
pub mod shutdown;
pub mod testing;

pub use tokio_util::sync::CancellationToken;
