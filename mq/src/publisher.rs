//! A publisher with publisher confirms. `send` pipelines (returns a [`Confirmation`] to await
//! later, so many messages can be in flight); `publish` retries, reconnecting with backoff,
//! until the broker has confirmed the message.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex as SyncMutex};
use std::task::{Context, Poll};

use amqprs::channel::{BasicPublishArguments, Channel, ConfirmSelectArguments};
use amqprs::connection::Connection;
use amqprs::{Ack, BasicProperties, Cancel, CloseChannel, FieldTable, Nack, Return};
use backon::Retryable;
use tokio::sync::{Mutex, oneshot};

use crate::connection::connect;
use crate::topology::{name, text};
use crate::{AmqpUrl, Error};
use vote_runtime::backoff::RECONNECT;

/// One message to publish. Always persistent (delivery mode 2).
#[derive(Debug, Clone, Default)]
pub struct OutgoingMessage {
    /// Exchange; empty for the default exchange (routing key = queue name).
    pub exchange: String,
    /// Routing key.
    pub routing_key: String,
    /// Body bytes.
    pub body: Vec<u8>,
    /// String headers, e.g. `x-reject-reason`.
    pub headers: Vec<(String, String)>,
    /// AMQP `message-id` property (the envelope's event id, for tracing).
    pub message_id: Option<String>,
}

impl OutgoingMessage {
    /// A JSON message for `exchange` / `routing_key`.
    pub fn json(exchange: &str, routing_key: &str, body: Vec<u8>) -> Self {
        Self { exchange: exchange.to_owned(), routing_key: routing_key.to_owned(), body, ..Self::default() }
    }

    fn properties(&self) -> Result<BasicProperties, Error> {
        let mut props = BasicProperties::default();
        props.with_persistence(true).with_content_type("application/json");
        if let Some(id) = &self.message_id {
            props.with_message_id(id);
        }
        if !self.headers.is_empty() {
            let mut table = FieldTable::new();
            for (k, v) in &self.headers {
                table.insert(name(k)?, text(v)?);
            }
            props.with_headers(table);
        }
        Ok(props.finish())
    }
}

/// Resolves when the broker confirms (`Ok`) or nacks the message, or the connection is lost.
pub struct Confirmation(oneshot::Receiver<bool>);

impl Future for Confirmation {
    type Output = Result<(), Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.0).poll(cx).map(|r| match r {
            Ok(true) => Ok(()),
            Ok(false) => Err(Error::Nacked),
            Err(_) => Err(Error::ConnectionLost),
        })
    }
}

/// Publish sequence numbers waiting for their confirm.
#[derive(Default)]
struct Pending {
    state: SyncMutex<PendingState>,
}

#[derive(Default)]
struct PendingState {
    closed: bool,
    waiting: BTreeMap<u64, oneshot::Sender<bool>>,
}

impl Pending {
    fn register(&self, tag: u64) -> Confirmation {
        let (tx, rx) = oneshot::channel();
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if !state.closed {
            state.waiting.insert(tag, tx);
        }
        // When closed, `tx` is dropped here and the confirmation reports ConnectionLost.
        Confirmation(rx)
    }

    fn resolve(&self, tag: u64, multiple: bool, confirmed: bool) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let done = if multiple {
            let rest = state.waiting.split_off(&(tag + 1));
            std::mem::replace(&mut state.waiting, rest)
        } else {
            state.waiting.remove(&tag).map(|tx| BTreeMap::from([(tag, tx)])).unwrap_or_default()
        };
        drop(state);
        for tx in done.into_values() {
            let _ = tx.send(confirmed);
        }
    }

    /// Drops every waiter: their confirmations report ConnectionLost.
    fn fail_all(&self) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.closed = true;
        state.waiting.clear();
    }
}

struct ConfirmCallback(Arc<Pending>);

#[async_trait::async_trait]
impl amqprs::callbacks::ChannelCallback for ConfirmCallback {
    async fn close(&mut self, _: &Channel, close: CloseChannel) -> Result<(), amqprs::error::Error> {
        tracing::warn!(reason = %close, "publisher channel closed by the broker");
        self.0.fail_all();
        Ok(())
    }
    async fn cancel(&mut self, _: &Channel, _: Cancel) -> Result<(), amqprs::error::Error> {
        Ok(())
    }
    async fn flow(&mut self, _: &Channel, active: bool) -> Result<bool, amqprs::error::Error> {
        Ok(active)
    }
    async fn publish_ack(&mut self, _: &Channel, ack: Ack) {
        self.0.resolve(ack.delivery_tag(), ack.mutiple(), true);
    }
    async fn publish_nack(&mut self, _: &Channel, nack: Nack) {
        self.0.resolve(nack.delivery_tag(), nack.multiple(), false);
    }
    async fn publish_return(&mut self, _: &Channel, _: Return, _: BasicProperties, _: Vec<u8>) {}
}

struct Live {
    connection: Connection,
    channel: Channel,
    pending: Arc<Pending>,
    next_tag: u64,
}

impl Live {
    async fn open(url: &AmqpUrl, name: &str) -> Result<Self, Error> {
        let connection = connect(url, name).await?;
        let channel = connection.open_channel(None).await?;
        let pending = Arc::new(Pending::default());
        channel.register_callback(ConfirmCallback(pending.clone())).await?;
        channel.confirm_select(ConfirmSelectArguments::default()).await?;
        let watch = (connection.clone(), pending.clone());
        tokio::spawn(async move {
            watch.0.listen_network_io_failure().await;
            watch.1.fail_all();
        });
        Ok(Self { connection, channel, pending, next_tag: 1 })
    }

    fn is_usable(&self) -> bool {
        self.connection.is_open()
            && self.channel.is_open()
            && !self.pending.state.lock().map(|s| s.closed).unwrap_or(true)
    }
}

/// A confirming publisher over its own connection, reconnecting on demand.
pub struct Publisher {
    url: AmqpUrl,
    name: String,
    live: Mutex<Option<Live>>,
}

impl Publisher {
    /// Connects now, so a wrong URL or credentials surface at start-up.
    pub async fn connect(url: &AmqpUrl, name: &str) -> Result<Self, Error> {
        let live = Live::open(url, name).await?;
        Ok(Self { url: url.clone(), name: name.to_owned(), live: Mutex::new(Some(live)) })
    }

    /// Publishes once (reconnecting first if the connection is gone) and returns the pending
    /// confirmation. A lost connection fails every outstanding confirmation.
    pub async fn send(&self, message: &OutgoingMessage) -> Result<Confirmation, Error> {
        let props = message.properties()?;
        let mut guard = self.live.lock().await;
        if !guard.as_ref().is_some_and(Live::is_usable) {
            if let Some(old) = guard.take() {
                old.pending.fail_all();
            }
            *guard = Some(Live::open(&self.url, &self.name).await?);
        }
        let Some(live) = guard.as_mut() else { return Err(Error::ConnectionLost) };
        let tag = live.next_tag;
        live.next_tag += 1;
        // Register before publishing: the confirm may arrive before basic_publish returns.
        let confirmation = live.pending.register(tag);
        let args = BasicPublishArguments::new(&message.exchange, &message.routing_key);
        if let Err(e) = live.channel.basic_publish(props, message.body.clone(), args).await {
            live.pending.fail_all();
            *guard = None;
            return Err(e.into());
        }
        Ok(confirmation)
    }

    /// Publishes and waits for the confirm, retrying with backoff (reconnecting as needed) until
    /// the broker confirms. Wrap in a timeout to bound the wait.
    pub async fn publish(&self, message: &OutgoingMessage) -> Result<(), Error> {
        (|| async { self.send(message).await?.await })
            .retry(RECONNECT)
            .when(Error::is_retriable)
            .notify(|e, delay| {
                tracing::warn!(error = %e, ?delay, exchange = %message.exchange, routing_key = %message.routing_key, "publish not confirmed, retrying");
            })
            .await
    }

    /// Drops the current connection without waiting for the broker (its outstanding
    /// confirmations report ConnectionLost); the next `send` connects afresh. For a caller
    /// that gave up waiting for a confirm: a link that stopped confirming is not trusted again.
    pub async fn reset(&self) {
        if let Some(old) = self.live.lock().await.take() {
            old.pending.fail_all();
            tokio::spawn(crate::connection::close(old.channel, old.connection));
        }
    }

    /// Closes the connection after outstanding confirms had their chance to arrive (at most
    /// 2 s: the close of a dead connection may never be answered).
    pub async fn close(&self) {
        if let Some(live) = self.live.lock().await.take() {
            crate::connection::close(live.channel, live.connection).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn multiple_ack_resolves_every_tag_up_to_it() {
        let p = Pending::default();
        let (a, b, c) = (p.register(1), p.register(2), p.register(3));
        p.resolve(2, true, true);
        assert!(a.await.is_ok());
        assert!(b.await.is_ok());
        p.resolve(3, false, false);
        assert!(matches!(c.await, Err(Error::Nacked)));
    }

    #[tokio::test]
    async fn fail_all_reports_connection_lost_now_and_later() {
        let p = Pending::default();
        let a = p.register(1);
        p.fail_all();
        assert!(matches!(a.await, Err(Error::ConnectionLost)));
        assert!(matches!(p.register(2).await, Err(Error::ConnectionLost)));
    }
}
