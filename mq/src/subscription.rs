//! A manual-ack subscription to one queue. Each `Subscription` is one connection + channel:
//! its delivery tags are only meaningful on that channel, so callers that reconnect open a new
//! `Subscription` and forget every tag of the old one.

use amqprs::channel::{BasicAckArguments, BasicConsumeArguments, BasicQosArguments, BasicRejectArguments, Channel};
use amqprs::connection::Connection;
use amqprs::{BasicProperties, FieldValue};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::connection::connect;
use crate::topology::QueueTopology;
use crate::{AmqpUrl, Error};

/// One message as delivered.
#[derive(Debug)]
pub struct Delivery {
    /// Delivery tag, valid on the channel that delivered it.
    pub tag: u64,
    /// The body.
    pub body: Vec<u8>,
    /// Routing key it was published with.
    pub routing_key: String,
    /// Set by the broker when this message was delivered before and not acked.
    pub redelivered: bool,
    /// AMQP properties (headers, message id, ...).
    pub properties: BasicProperties,
}

impl Delivery {
    /// A string header, if present.
    pub fn header(&self, key: &str) -> Option<String> {
        let key = key.try_into().ok()?;
        match self.properties.headers()?.get(&key)? {
            FieldValue::S(s) => Some(s.to_string()),
            _ => None,
        }
    }

    /// Every string-valued header, sorted by name for stable output.
    pub fn string_headers(&self) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = self
            .properties
            .headers()
            .map(|table| {
                table
                    .as_ref()
                    .iter()
                    .filter_map(|(k, v)| match v {
                        FieldValue::S(s) => Some((k.to_string(), s.to_string())),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        headers.sort();
        headers
    }
}

/// What a subscription needs to know to (re)declare and consume.
#[derive(Debug, Clone)]
pub struct SubscriptionConfig {
    /// The queue and its dead-letter queue.
    pub topology: QueueTopology,
    /// Optional topic exchange and routing-key patterns to bind the queue to.
    pub bindings: Option<(String, Vec<String>)>,
    /// Unacked deliveries the broker may have in flight on this channel.
    pub prefetch: u16,
    /// Connection and consumer name shown in the management UI.
    pub name: String,
}

/// A live subscription.
pub struct Subscription {
    connection: Connection,
    channel: Channel,
    deliveries: UnboundedReceiver<amqprs::channel::ConsumerMessage>,
}

impl Subscription {
    /// Connects, declares the topology, sets the prefetch and starts consuming with manual acks.
    pub async fn open(url: &AmqpUrl, config: &SubscriptionConfig) -> Result<Self, Error> {
        let connection = connect(url, &config.name).await?;
        let channel = connection.open_channel(None).await?;
        config.topology.declare(&connection, &channel).await?;
        if let Some((exchange, patterns)) = &config.bindings {
            config.topology.bind_topics(&channel, exchange, patterns).await?;
        }
        channel.basic_qos(BasicQosArguments::new(0, config.prefetch, false)).await?;
        let mut args = BasicConsumeArguments::new(&config.topology.queue, &config.name);
        args.manual_ack(true);
        let (_tag, deliveries) = channel.basic_consume_rx(args.finish()).await?;
        Ok(Self { connection, channel, deliveries })
    }

    /// Consumes an existing queue without declaring anything (to read a dead-letter queue).
    pub async fn open_queue(url: &AmqpUrl, queue: &str, prefetch: u16, name: &str) -> Result<Self, Error> {
        let connection = connect(url, name).await?;
        let channel = connection.open_channel(None).await?;
        channel.basic_qos(BasicQosArguments::new(0, prefetch, false)).await?;
        let mut args = BasicConsumeArguments::new(queue, name);
        args.manual_ack(true);
        let (_tag, deliveries) = channel.basic_consume_rx(args.finish()).await?;
        Ok(Self { connection, channel, deliveries })
    }

    /// The next delivery, or `None` once the channel or connection has closed.
    pub async fn recv(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = into_delivery(self.deliveries.recv().await?) {
                return Some(delivery);
            }
        }
    }

    /// A delivery that is already buffered, without waiting.
    pub fn try_recv(&mut self) -> Option<Delivery> {
        loop {
            if let Some(delivery) = into_delivery(self.deliveries.try_recv().ok()?) {
                return Some(delivery);
            }
        }
    }

    /// A handle that acks or rejects on this subscription's channel.
    pub fn acker(&self) -> Acker {
        Acker { channel: self.channel.clone() }
    }

    /// `true` while the connection and channel are open.
    pub fn is_open(&self) -> bool {
        self.connection.is_open() && self.channel.is_open()
    }

    /// Closes channel and connection, waiting at most 2 s (the close of a dead connection may
    /// never be answered); unacked deliveries go back to the queue.
    pub async fn close(self) {
        crate::connection::close(self.channel, self.connection).await;
    }
}

/// A message missing one of its frame parts is a protocol oddity: it is skipped (and, never
/// acked, redelivered by the broker).
fn into_delivery(message: amqprs::channel::ConsumerMessage) -> Option<Delivery> {
    let (deliver, properties, body) = (message.deliver?, message.basic_properties?, message.content?);
    Some(Delivery {
        tag: deliver.delivery_tag(),
        redelivered: deliver.redelivered(),
        routing_key: deliver.routing_key().clone(),
        body,
        properties,
    })
}

/// Acks and rejects on the channel of one subscription.
#[derive(Clone)]
pub struct Acker {
    channel: Channel,
}

impl Acker {
    /// Acks `tag`, and with `multiple` every earlier unacked tag too.
    pub async fn ack(&self, tag: u64, multiple: bool) -> Result<(), Error> {
        self.channel.basic_ack(BasicAckArguments::new(tag, multiple)).await?;
        Ok(())
    }

    /// Rejects one delivery; without requeue it goes to the queue's dead-letter exchange.
    pub async fn reject(&self, tag: u64, requeue: bool) -> Result<(), Error> {
        self.channel.basic_reject(BasicRejectArguments::new(tag, requeue)).await?;
        Ok(())
    }
}
