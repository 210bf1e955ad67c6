//! `vote-loadgen`: drives the vote engine from the outside and checks what it counted.
//!
//! The pieces follow a run:
//! - [`generate`]: a seeded stream of vote messages (originals, duplicates of both kinds,
//!   garbage, envelopes) whose exact expected totals are known by construction;
//! - [`publish`]: sends that stream over several confirming connections, republishing anything
//!   the broker did not confirm, and tallies what was confirmed;
//! - [`expected`]: the expected totals of a run, as written to and read from a JSON file;
//! - [`verify`]: waits for PostgreSQL to reach the expected totals and compares law by law;
//! - [`latency`]: confirm and end-to-end latency summaries;
//! - [`drain`]: the broker ceiling, consuming and acking as fast as possible;
//! - [`contract`]: the engine's input rules as loadgen relies on them, stated independently;
//! - [`model`]: the engine's validation and counting rule applied in-process, the reference the
//!   generator is tested against;
//! - [`http`]: citizens voting through `vote-intake` over HTTP, with the expected totals of
//!   what it accepted;
//! - [`token`]: bearer tokens for the satellite services, signed with the development key;
//! - [`cli`]: the `loadgen` command line.

pub mod cli;
pub mod contract;
pub mod drain;
pub mod duration;
pub mod expected;
pub mod generate;
pub mod http;
pub mod latency;
pub mod model;
pub mod publish;
pub mod token;
pub mod verify;

pub use expected::{Expected, LawTotals};
pub use generate::{Generator, GeneratorConfig, Message, MessageKind};
pub use publish::{PublishConfig, PublishReport};
pub use verify::{Actual, Report};

/// Queue the engine consumes by default.
pub const DEFAULT_QUEUE: &str = "votes.aggregation";
/// Type the engine declares its queue with by default (RABBITMQ_QUEUE_TYPE).
pub const DEFAULT_QUEUE_TYPE: vote_mq::QueueType = vote_mq::QueueType::Quorum;
/// Dead-letter exchange the engine declares its queue with.
pub const DEAD_LETTER_EXCHANGE: &str = "votes.dlx";

/// The topology the engine declares for `queue`: same dead-letter exchange and queue names, so
/// that whichever side declares first, the other's declaration matches its arguments.
pub fn queue_topology(queue: &str, queue_type: vote_mq::QueueType) -> vote_mq::QueueTopology {
    vote_mq::QueueTopology::new(queue, DEAD_LETTER_EXCHANGE, &format!("{queue}.dlq")).with_queue_type(queue_type)
}

/// Declares `queue` (and its dead-letter queue) on a short-lived connection, when it is missing.
pub async fn declare_queue(url: &vote_mq::AmqpUrl, queue: &str, queue_type: vote_mq::QueueType) -> Result<(), Error> {
    // An existing queue is the engine's, as it declared it: leaving it be lets a producer's
    // broker user publish without the right to configure (or read) the vote queue.
    if vote_mq::admin::message_count(url, queue).await.is_ok() {
        return Ok(());
    }
    let declare = vote_mq::SubscriptionConfig {
        topology: queue_topology(queue, queue_type),
        bindings: None,
        prefetch: 1,
        name: "loadgen-declare".to_owned(),
    };
    Ok(vote_mq::declare_topology(url, &declare).await?)
}

/// Everything that can stop a load-generator command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is out of range or inconsistent.
    #[error("invalid setting: {0}")]
    Config(String),
    /// The broker failed.
    #[error(transparent)]
    Mq(#[from] vote_mq::Error),
    /// PostgreSQL could not be reached or configured.
    #[error(transparent)]
    Db(#[from] vote_runtime::postgres::DbError),
    /// A query failed.
    #[error("database error: {}", vote_runtime::postgres::describe(.0))]
    Query(#[from] tokio_postgres::Error),
    /// The expected-totals file could not be read or written.
    #[error("expected-totals file {path}: {reason}")]
    ExpectedFile {
        /// The file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// Publishing could not get messages confirmed for too long.
    #[error("publishing stalled: {0}")]
    Stalled(String),
    /// A worker task panicked.
    #[error("worker task failed: {0}")]
    Task(String),
}

impl Error {
    /// Whether trying again later can succeed (a server was briefly away).
    pub fn is_retriable(&self) -> bool {
        match self {
            Error::Mq(e) => e.is_retriable(),
            Error::Db(_) | Error::Query(_) | Error::Stalled(_) => true,
            Error::Config(_) | Error::ExpectedFile { .. } | Error::Task(_) => false,
        }
    }
}
