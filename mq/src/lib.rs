//! `vote-mq`: the only crate in the workspace that speaks AMQP.
//!
//! - [`url`]: AMQP URIs per the RabbitMQ spec, password-safe;
//! - [`connection`]: connect (TLS for `amqps`), and the shared reconnect [`Backoff`];
//! - [`topology`]: durable queues with dead-letter queues, topic bindings;
//! - [`envelope`]: the satellites' event envelope;
//! - [`publisher`]: confirmed, persistent publishing with reconnect;
//! - [`consumer`]: manual-ack subscriptions;
//! - [`bulk`]: the lean high-throughput consumer of one queue (the engine's, the broker ceiling's);
//! - [`service`]: the satellites' consumer loop (ack after handling, bounded retries, dead-letters).

pub mod admin;
pub mod bulk;
pub mod connection;
pub mod consumer;
pub mod envelope;
pub mod publisher;
pub mod service;
pub mod topology;
pub mod url;

pub use bulk::{BulkConsumer, BulkDelivery};
pub use connection::{Backoff, connect};
pub use consumer::{Acker, Delivery, Subscription, SubscriptionConfig};
pub use envelope::Envelope;
pub use publisher::{Confirmation, OutgoingMessage, Publisher};
pub use service::{
    Consumer, ConsumerMetrics, Failure, Incoming, RetryPolicy, declare_topic_exchange, declare_topology, take_messages,
};
pub use topology::{QueueTopology, QueueType, parse_bindings};
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
    /// The broker refused a published message.
    #[error("the broker nacked the message")]
    Nacked,
    /// The connection went away before the operation completed.
    #[error("connection to the broker lost")]
    ConnectionLost,
    /// The broker did not answer in time (a half-open TCP connection, a stalled node).
    #[error("no answer from the broker within {0:?}")]
    Timeout(std::time::Duration),
    /// The work queue exists with other settings (another type) than declared: no retry can help.
    #[error("{0}")]
    TopologyMismatch(String),
    /// A value does not fit the AMQP wire format.
    #[error("protocol error: {0}")]
    Protocol(String),
}

impl Error {
    /// Whether trying again (after reconnecting) can succeed.
    pub fn is_retriable(&self) -> bool {
        matches!(self, Error::Amqp(_) | Error::Nacked | Error::ConnectionLost | Error::Timeout(_))
    }
}
