//! `vote-satellite-kit`: what every satellite service shares, so that a service crate holds
//! only its own domain.
//!
//! - [`auth`]: bearer tokens verified against the identity provider's keys, the caller and
//!   their roles;
//! - [`config`]: the settings every service has (broker, exchange, name, HTTP port, logs), a
//!   consumed queue, a database; clap flags mirroring the environment variables, per-binary
//!   defaults, one-line errors;
//! - [`service`]: the bootstrap: database (created when missing, migrated), confirmed
//!   publisher, consumers, outbox relay and HTTP with the ops endpoints, until SIGTERM;
//! - [`outbox`]: events written in the transaction that causes them, published after commit;
//! - [`schema`]: a service's migrations and queries from `sql/<schema>/` ([`sql_schema!`]);
//! - [`http`]: JSON errors for every failure (axum's own rejections included), request
//!   counting, the JSON 404; [`api_error`]: how a service's [`Error`] is answered;
//! - [`limits`]: header and body timeouts, the bound on connections, the per-caller rate limit
//!   of write requests (HTTP_*); [`serve`]: the accept loop that applies them;
//! - [`input`]: checks of JSON request bodies and event payloads;
//! - [`names`]: the rule for the names voters choose between (options, nominees, ballots) and
//!   a poll's limits;
//! - [`metrics`]: the counters every service has;
//! - [`binary`]: what a binary's `main` does once its settings are parsed;
//! - [`openapi`]: the OpenAPI document each service serves, built from its routes; `contract`
//!   (feature `testing`): answers checked against it;
//! - `testing` (feature `testing`): helpers for tests against the real servers; `hostile`:
//!   property tests throwing spoiled requests at a running service.

pub mod api_error;
pub mod auth;
pub mod binary;
#[cfg(feature = "browser")]
pub mod browser;
pub mod config;
#[cfg(any(test, feature = "testing"))]
pub mod contract;
#[cfg(any(test, feature = "testing"))]
pub mod hostile;
pub mod http;
pub mod input;
pub mod limits;
pub mod metrics;
pub mod names;
pub mod openapi;
pub mod outbox;
pub mod path;
pub mod schema;
pub mod serve;
pub mod service;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use binary::run_binary;
pub use service::{Application, Service};

use tokio_postgres::error::SqlState;

/// Everything that can go wrong in a satellite service. The variant decides the HTTP status
/// and whether a consumed message is retried.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request or message is invalid (the message is shown to the caller): 400, never retried.
    #[error("{0}")]
    Invalid(String),
    /// No valid credentials (the message says why, never quoting them): 401, never retried.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this: 403, never retried (a consumed message is dead-lettered).
    #[error("{0}")]
    Forbidden(String),
    /// The addressed resource does not exist: 404, never retried.
    #[error("{0} not found")]
    NotFound(String),
    /// The resource is not in a state that allows the request: 409, never retried.
    #[error("{0}")]
    Conflict(String),
    /// A message refers to something this service has not seen yet (its own creation event is
    /// still queued or being retried): retried.
    #[error("{0} not known yet")]
    NotYetKnown(String),
    /// A service this one calls failed or did not answer: 503, retried.
    #[error("{0}")]
    Unavailable(String),
    /// The database refused or failed a statement.
    #[error("database error: {}", vote_runtime::postgres::describe(.0))]
    Db(#[from] tokio_postgres::Error),
    /// No database connection could be had.
    #[error("database unavailable: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    /// Setting up the database (creating, migrating, pooling) failed.
    #[error("database setup: {0}")]
    DbSetup(#[from] vote_runtime::postgres::DbError),
    /// The broker failed or refused a publish.
    #[error("broker error: {0}")]
    Mq(#[from] vote_mq::Error),
    /// The broker did not confirm a publish in time.
    #[error("the broker did not confirm {0} in time")]
    PublishTimeout(String),
    /// The HTTP listener could not be bound or served.
    #[error("http server: {0}")]
    Io(#[from] std::io::Error),
    /// Metrics could not be registered.
    #[error("metrics: {0}")]
    Metrics(#[from] prometheus::Error),
    /// A setting read at start (a file it names) is wrong: the binary exits with code 2.
    #[error(transparent)]
    Config(#[from] config::ConfigError),
}

impl Error {
    /// Whether the same request or message may succeed later.
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Invalid(_)
            | Error::Unauthenticated(_)
            | Error::Forbidden(_)
            | Error::NotFound(_)
            | Error::Conflict(_)
            | Error::Metrics(_)
            | Error::Config(_) => false,
            // Bad data (class 22) and constraint violations (class 23) fail the same way again.
            Error::Db(e) => !e.code().is_some_and(is_data_error),
            Error::NotYetKnown(_)
            | Error::Unavailable(_)
            | Error::Pool(_)
            | Error::DbSetup(_)
            | Error::Mq(_)
            | Error::PublishTimeout(_)
            | Error::Io(_) => true,
        }
    }
}

fn is_data_error(code: &SqlState) -> bool {
    let code = code.code();
    code.starts_with("22") || code.starts_with("23")
}

/// Whether the database refused a value itself (class 22: a NUL byte, a number out of range):
/// input that escaped validation, answered as a 400 without the database's text.
pub(crate) fn is_refused_value(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|c| c.code().starts_with("22"))
}

/// Whether a constraint refused the change (class 23): a 409 without the database's text.
pub(crate) fn is_constraint_violation(error: &tokio_postgres::Error) -> bool {
    error.code().is_some_and(|c| c.code().starts_with("23"))
}

impl vote_mq::Failure for Error {
    fn is_retriable(&self) -> bool {
        Error::is_retriable(self)
    }
}
