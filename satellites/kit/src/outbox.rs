//! Transactional outbox: a handler writes the events it causes into its schema's outbox table
//! in the transaction that changes the state, so an event exists exactly when its cause
//! committed. A relay task publishes pending events with confirms, oldest first, and marks
//! them. It runs when woken after a commit, every [`RELAY_INTERVAL`] (rows left by a failed
//! publish or by another instance), and once more at shutdown. A crash between the confirm and
//! the mark publishes the event again with the same `event_id`; consumers deduplicate on it.
//!
//! The `outbox` table is owned here, once: its migration (`sql/outbox/`, history table
//! `outbox_schema_history`) runs before a service's own, and services sharing a database share
//! the table, each reading only the rows of its `producer`. Columns: `id` (ordered), `producer`,
//! `event_id` (unique), `routing_key`, `body`, `created_at` and `published_at`.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{GenericClient, Pool};
use serde::Serialize;
use tokio::sync::Notify;
use tokio_postgres::types::Type;
use uuid::Uuid;
use vote_mq::{Envelope, OutgoingMessage, Publisher};
use vote_runtime::CancellationToken;

use crate::Error;
use crate::metrics::Metrics;

/// How often pending events are looked for without a wake-up.
pub const RELAY_INTERVAL: Duration = Duration::from_secs(2);
/// Longest the last flush at shutdown may take.
pub const FINAL_FLUSH_TIMEOUT: Duration = Duration::from_secs(3);
/// Rows read per round.
const BATCH: i64 = 100;
/// Longest wait for one confirm.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

crate::sql_schema!(schema: "outbox", migrations: "../../sql/outbox");

/// `$1` producer, `$2` event id, `$3` routing key, `$4` body; a no-op for a known event id.
const INSERT: &str = query!("insert");
/// `$1` producer, `$2` limit -> `id, event_id, routing_key, body` of unpublished rows, oldest
/// first.
const PENDING: &str = query!("pending");
/// `$1` ids: marks the rows published.
const MARK_PUBLISHED: &str = query!("mark_published");

/// One service's outbox and its relay.
#[derive(Clone)]
pub struct Outbox {
    pool: Pool,
    publisher: Arc<Publisher>,
    exchange: String,
    producer: String,
    wake: Arc<Notify>,
    metrics: Metrics,
}

impl Outbox {
    /// The outbox of `producer` (SERVICE_NAME) in `pool`'s database, publishing to `exchange`
    /// the event types `publishes` (their counters are exported from the start).
    pub fn new(
        pool: Pool,
        publisher: Arc<Publisher>,
        exchange: &str,
        producer: &str,
        publishes: &[&str],
        metrics: Metrics,
    ) -> Self {
        for event_type in publishes {
            metrics.events_published.with_label_values(&[event_type]);
        }
        Self {
            pool,
            publisher,
            exchange: exchange.to_owned(),
            producer: producer.to_owned(),
            wake: Arc::new(Notify::new()),
            metrics,
        }
    }

    /// Writes a new event (routing key = event type) inside the caller's transaction and
    /// returns its id; call [`Outbox::wake`] after the commit.
    pub async fn add(&self, tx: &impl GenericClient, event_type: &str, data: impl Serialize) -> Result<Uuid, Error> {
        let envelope = Envelope::new(event_type, &self.producer, data);
        let body = envelope.to_bytes();
        tx.execute(&tx.prepare_cached(INSERT).await?, &[&self.producer, &envelope.event_id, &event_type, &body])
            .await?;
        Ok(envelope.event_id)
    }

    /// Asks the relay to publish now.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Publishes pending events until `shutdown`, then makes a last attempt (bounded by
    /// [`FINAL_FLUSH_TIMEOUT`]). A publish in progress at shutdown is abandoned: its row stays
    /// pending and is published at the next start, with the same `event_id`.
    pub async fn relay(self, shutdown: CancellationToken) {
        loop {
            tokio::select! {
                published = self.publish_pending() => {
                    if let Err(e) = published {
                        tracing::warn!(error = %e, "outbox relay failed, will retry");
                    }
                }
                () = shutdown.cancelled() => break,
            }
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(RELAY_INTERVAL) => {}
                () = shutdown.cancelled() => break,
            }
        }
        match tokio::time::timeout(FINAL_FLUSH_TIMEOUT, self.publish_pending()).await {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "events left in the outbox at shutdown; published at next start"),
            Err(_) => tracing::warn!("outbox not flushed in time at shutdown; published at next start"),
        }
    }

    /// Publishes every pending event, oldest first. A round sends up to [`BATCH`] events on the
    /// channel, in order, then awaits their confirms and marks the confirmed prefix in one
    /// statement. It stops at the first event not confirmed: that one and those after it stay
    /// pending and go out again (the same `event_id`) next round, so an event is only ever
    /// repeated, never skipped; after a nack, a later event of the round can arrive first.
    pub async fn publish_pending(&self) -> Result<usize, Error> {
        let client = self.pool.get().await?;
        let mut published = 0;
        loop {
            let pending = client.query(&client.prepare_cached(PENDING).await?, &[&self.producer, &BATCH]).await?;
            if pending.is_empty() {
                return Ok(published);
            }
            let mut sent = Vec::with_capacity(pending.len());
            let mut failure = None;
            for row in &pending {
                let (id, event_id, routing_key, body): (i64, Uuid, String, Vec<u8>) =
                    (row.get(0), row.get(1), row.get(2), row.get(3));
                let mut message = OutgoingMessage::json(&self.exchange, &routing_key, body);
                message.message_id = Some(event_id.to_string());
                match self.publisher.send(&message).await {
                    Ok(confirm) => sent.push((id, event_id, routing_key, confirm)),
                    Err(e) => {
                        failure = Some(e.into());
                        break;
                    }
                }
            }
            let mut confirmed: Vec<i64> = Vec::with_capacity(sent.len());
            for (id, event_id, routing_key, confirm) in sent {
                match tokio::time::timeout(PUBLISH_TIMEOUT, confirm).await {
                    Ok(Ok(())) => {
                        self.metrics.events_published.with_label_values(&[&routing_key]).inc();
                        tracing::info!(%event_id, %routing_key, "event published");
                        confirmed.push(id);
                    }
                    Ok(Err(e)) => {
                        failure = Some(e.into());
                        break;
                    }
                    Err(_) => {
                        failure = Some(Error::PublishTimeout(routing_key));
                        break;
                    }
                }
            }
            if !confirmed.is_empty() {
                // Unnamed, so planned for these ids (docs/decisions/031).
                client.query_typed(MARK_PUBLISHED, &[(&confirmed, Type::INT8_ARRAY)]).await?;
                published += confirmed.len();
            }
            if let Some(e) = failure {
                return Err(e);
            }
        }
    }
}
