//! `vote-runtime`: what every service binary shares apart from the AMQP client (which lives in
//! `vote-mq`): the config vocabulary and command-line parsing, logging set-up, the shutdown
//! signal, the ops HTTP endpoints and PostgreSQL access (TLS included).

pub mod cli;
pub mod config;
pub mod http;
pub mod logging;
pub mod migrate;
pub mod postgres;
pub mod postgres_tls;
pub mod shutdown;
pub mod testing;

pub use tokio_util::sync::CancellationToken;
