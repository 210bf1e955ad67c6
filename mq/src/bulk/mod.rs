//! A lean, high-throughput consumer of one queue: one connection, one channel, frames parsed
//! in place from one read buffer, in the caller's task.
//!
//! [`crate::Subscription`] (amqprs) hands every delivery through three tasks; a
//! [`BulkConsumer`] reads the socket itself: a delivery is three frames parsed out of the read
//! buffer and one copy of the body (docs/decisions/005-bulk-consumer.md). Only what a bulk
//! consumer needs is implemented: the handshake, one channel, `basic.qos`, `basic.consume`,
//! deliveries (properties skipped), `basic.ack`, `basic.reject`, flow control, heartbeats and
//! closing. Declaring the queue is left to the general client
//! ([`BulkConsumer::declare_and_open`] runs [`crate::declare_topology`] first, once per
//! (re)connect).
//!
//! - [`codec`]: frames in and out, no I/O;
//! - [`handshake`]: opening the connection up to `basic.consume-ok`;
//! - [`connection`]: the socket, its reader and the writer task.

mod codec;
mod connection;
mod handshake;

use std::time::Duration;

use tokio::io::WriteHalf;
use tokio::sync::mpsc;

use self::codec::{
    BASIC_ACK, BASIC_REJECT, CHANNEL, CHANNEL_CLOSE_OK, CHANNEL_FLOW_OK, CONNECTION_CLOSE, CONNECTION_CLOSE_OK,
    Control, Event, method, short_str,
};
use self::connection::{Command, Inbound, Wire, open_stream, spawn_writer};
use self::handshake::{Consume, handshake};
use crate::connection::{CLOSE_TIMEOUT, CONNECT_TIMEOUT};
use crate::{AmqpUrl, Error, QueueTopology, SubscriptionConfig};

/// One message as delivered: what a bulk consumer needs, nothing more.
#[derive(Debug, PartialEq, Eq)]
pub struct BulkDelivery {
    /// Delivery tag, valid on the channel that delivered it.
    pub tag: u64,
    /// The body.
    pub body: Vec<u8>,
    /// Set by the broker when this message was delivered before and not acked.
    pub redelivered: bool,
}

/// A consuming connection: see the module documentation.
pub struct BulkConsumer {
    inbound: Inbound,
    writer: mpsc::UnboundedSender<Command>,
    open: bool,
    /// Between the broker's `connection.blocked` and `connection.unblocked`.
    blocked: bool,
}

impl BulkConsumer {
    /// Declares `topology` through the general client (idempotent: a broker restarted empty is
    /// rebuilt), then consumes its queue: what every (re)connect of a bulk consumer does.
    pub async fn declare_and_open(
        url: &AmqpUrl,
        topology: &QueueTopology,
        prefetch: u16,
        name: &str,
    ) -> Result<Self, Error> {
        let declare =
            SubscriptionConfig { topology: topology.clone(), bindings: None, prefetch, name: name.to_owned() };
        crate::declare_topology(url, &declare).await?;
        Self::open(url, &topology.queue, prefetch, name).await
    }

    /// Connects (TLS for `amqps`), opens a channel, sets the prefetch and starts consuming
    /// `queue` with manual acks. The queue must exist.
    pub async fn open(url: &AmqpUrl, queue: &str, prefetch: u16, name: &str) -> Result<Self, Error> {
        let consume = Consume { queue, prefetch, name };
        tokio::time::timeout(CONNECT_TIMEOUT, Self::connect(url, &consume))
            .await
            .map_err(|_| Error::Timeout(CONNECT_TIMEOUT))?
    }

    async fn connect(url: &AmqpUrl, consume: &Consume<'_>) -> Result<Self, Error> {
        let (stream, node) = open_stream(url).await?;
        let (reader, mut out) = tokio::io::split(stream);
        let mut inbound = Inbound::new(reader);
        let heartbeat = handshake(&mut inbound, &mut out, node, consume).await?;
        Ok(Self::consuming(inbound, out, heartbeat))
    }

    /// The consumer of a connection whose handshake is done, with heartbeats every `heartbeat`
    /// seconds (0: none).
    fn consuming(mut inbound: Inbound, out: WriteHalf<Box<dyn Wire>>, heartbeat: u16) -> Self {
        let interval = (heartbeat > 0).then(|| Duration::from_secs(u64::from(heartbeat)));
        inbound.idle_limit = interval.map(|i| i * 2);
        let writer = spawn_writer(out, interval.map(|i| i / 2));
        Self { inbound, writer, open: true, blocked: false }
    }

    /// The next delivery; `None` once the connection or channel is gone (closed by the broker,
    /// broken, or silent for two heartbeat intervals). Cancel-safe.
    pub async fn recv(&mut self) -> Option<BulkDelivery> {
        loop {
            if let Some(delivery) = self.try_recv() {
                return Some(delivery);
            }
            if !self.open {
                return None;
            }
            if let Err(e) = self.inbound.fill().await {
                tracing::warn!(error = %e, "consumer connection lost");
                self.open = false;
                return None;
            }
        }
    }

    /// A delivery already read from the socket, without waiting.
    pub fn try_recv(&mut self) -> Option<BulkDelivery> {
        while self.open {
            match self.inbound.decoder.next_event() {
                Ok(Some(Event::Delivery(delivery))) => return Some(delivery),
                Ok(Some(Event::Control(control))) => self.on_control(control),
                Ok(None) => return None,
                Err(e) => {
                    // A broker breaking the protocol: nothing after this can be trusted.
                    tracing::warn!(error = %e, "consumer connection unusable");
                    self.open = false;
                }
            }
        }
        None
    }

    /// Acks `tag`, and with `multiple` every earlier unacked tag too.
    pub fn ack(&self, tag: u64, multiple: bool) -> Result<(), Error> {
        self.send(BASIC_ACK, tag, multiple)
    }

    /// Rejects one delivery; without requeue it goes to the queue's dead-letter exchange.
    pub fn reject(&self, tag: u64, requeue: bool) -> Result<(), Error> {
        self.send(BASIC_REJECT, tag, requeue)
    }

    /// `true` until the connection is known to be gone.
    pub fn is_open(&self) -> bool {
        self.open && !self.writer.is_closed()
    }

    /// `true` while the broker has this connection blocked by a resource alarm (memory, disk).
    /// Deliveries and acks go on; publishers on the broker are held, so the queue stops growing.
    pub fn is_blocked(&self) -> bool {
        self.blocked
    }

    /// Closes the connection, waiting at most 2 s for the broker's answer; unacked deliveries
    /// go back to the queue.
    pub async fn close(mut self) {
        if !self.is_open() {
            return;
        }
        let mut out = Vec::new();
        method(&mut out, 0, CONNECTION_CLOSE, |p| {
            p.extend_from_slice(&200u16.to_be_bytes());
            short_str(p, "closing");
            p.extend_from_slice(&[0, 0, 0, 0]);
        });
        if self.writer.send(Command::Last(out)).is_err() {
            return;
        }
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, self.inbound.expect_method(0, CONNECTION_CLOSE_OK)).await;
    }

    fn send(&self, id: (u16, u16), tag: u64, flag: bool) -> Result<(), Error> {
        let mut out = Vec::with_capacity(24);
        method(&mut out, CHANNEL, id, |p| {
            p.extend_from_slice(&tag.to_be_bytes());
            p.push(u8::from(flag));
        });
        self.writer.send(Command::Frames(out)).map_err(|_| Error::ConnectionLost)
    }

    /// Acts on what the broker said besides deliveries.
    fn on_control(&mut self, control: Control) {
        let reply = |channel, id, args: &[u8]| {
            let mut out = Vec::new();
            method(&mut out, channel, id, |p| p.extend_from_slice(args));
            out
        };
        match control {
            Control::ConnectionClose { code, text } => {
                tracing::warn!(code, reason = %text, "the broker closed the consumer's connection");
                let _ = self.writer.send(Command::Last(reply(0, CONNECTION_CLOSE_OK, &[])));
                self.open = false;
            }
            Control::ChannelClose { code, text } => {
                tracing::warn!(code, reason = %text, "the broker closed the consumer's channel");
                let _ = self.writer.send(Command::Last(reply(CHANNEL, CHANNEL_CLOSE_OK, &[])));
                self.open = false;
            }
            Control::ConnectionCloseOk => self.open = false,
            Control::Cancel => {
                tracing::warn!("the broker cancelled the consumer (queue deleted?)");
                self.open = false;
            }
            Control::Flow { active } => {
                let _ = self.writer.send(Command::Frames(reply(CHANNEL, CHANNEL_FLOW_OK, &[u8::from(active)])));
            }
            Control::Blocked { reason } => {
                tracing::warn!(%reason, "the broker blocked the connection: publishers are held, consuming goes on");
                self.blocked = true;
            }
            Control::Unblocked => {
                tracing::info!("the broker unblocked the connection");
                self.blocked = false;
            }
            Control::Ignored => {}
        }
    }
}

#[cfg(test)]
mod tests;
