//! `vote-mq`: the only crate in the workspace that speaks AMQP.
//!
//! Connecting and one-off operations:
//! - [`url`]: AMQP URIs per the RabbitMQ spec, password-safe;
//! - [`connection`]: connect (TLS for `amqps`), and [`with_channel`] for one-off operations;
//! - [`config`]: the broker's settings (AMQP_URL or the RABBITMQ_* parts, MQ_EXCHANGE);
//! - [`topology`]: declaring queues with dead-letter queues, exchanges, topic bindings;
//! - [`shards`]: the sharded vote intake (a consistent-hash exchange over N queues);
//! - [`admin`]: queue depth, delete, taking the messages of a queue.
//!
//! Publishing: [`publisher`] (confirmed, persistent, reconnecting), [`envelope`] (the
//! satellites' event envelope) and [`dead_letter`] (refused messages, their headers).
//!
//! Consuming, from the general to the fast:
//! - [`subscription`]: a manual-ack [`Subscription`] to one queue, on amqprs: every property
//!   and header of a delivery;
//! - [`consumer`]: the satellites' [`Consumer`] loop on a subscription (ack after handling,
//!   bounded retries, dead-letters with a reason);
//! - [`bulk`]: the [`BulkConsumer`], a lean consumer of one queue that speaks the protocol
//!   itself, for the engine's throughput: bodies and tags only.

pub mod admin;
pub mod bulk;
pub mod config;
pub mod connection;
pub mod consumer;
pub mod dead_letter;
pub mod envelope;
pub mod publisher;
pub mod shards;
pub mod subscription;
pub mod topology;
pub mod url;

pub use admin::take_messages;
pub use bulk::{BulkConsumer, BulkDelivery};
pub use connection::{connect, with_channel};
pub use consumer::{Consumer, ConsumerMetrics, Failure, Incoming, RedeliveryPolicy};
pub use dead_letter::{DeadLetterPublisher, REJECT_DETAIL_HEADER, REJECT_REASON_HEADER};
pub use envelope::Envelope;
pub use publisher::{Confirmation, OutgoingMessage, Publisher};
pub use shards::{ShardSet, shard_queue};
pub use subscription::{Acker, Delivery, Subscription, SubscriptionConfig};
pub use topology::{QueueTopology, QueueType, declare_topic_exchange, declare_topology, parse_bindings};
pub use url::AmqpUrl;

/// Everything that can go wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The AMQP URL does not follow the URI spec. Never contains the password.
    #[error("invalid AMQP URL: {0}")]
    InvalidUrl(String),
    /// TLS could not be set up (CA file unreadable, ...).
    #[error("TLS setup failed: {0}")]
    Tls(String),
    /// The client library reported an error (I/O, channel closed by the broker, ...).
    #[error("broker error: {0}")]
    Amqp(#[from] amqprs::error::Error),
    /// Reading from or writing to the broker's socket failed.
    #[error("I/O error talking to the broker: {0}")]
    Io(#[from] std::io::Error),
    /// The broker refused a published message.
    #[error("the broker nacked the message")]
    Nacked,
    /// The connection went away before the operation completed.
    #[error("connection to the broker lost")]
    ConnectionLost,
    /// The broker did not answer in time (a half-open TCP connection, a stalled node).
    #[error("no answer from the broker within {0:?}")]
    Timeout(std::time::Duration),
    /// The broker refused an operation and closed its channel (reply code and text).
    #[error("the broker refused: {0}")]
    Refused(String),
    /// The work queue exists with other settings (another type) than declared: no retry can help.
    #[error("{0}")]
    TopologyMismatch(String),
    /// The broker broke the protocol, or a value does not fit the AMQP wire format.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// Whether trying again (after reconnecting) can succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(
            self,
            Error::Amqp(_)
                | Error::Io(_)
                | Error::Nacked
                | Error::ConnectionLost
                | Error::Timeout(_)
                | Error::Refused(_)
        )
    }
}
