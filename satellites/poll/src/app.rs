//! Wiring on the satellite kit: database (created when missing, migrated), broker publisher,
//! the `voting.create` consumer and the HTTP API.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::Pool;
use prometheus::IntCounterVec;
use uuid::Uuid;
use vote_mq::{Envelope, OutgoingMessage, Publisher};
use vote_satellite_kit::metrics::{Metrics, counter_vec};
use vote_satellite_kit::{Application, Service};

use crate::config::Settings;
use crate::domain::{NewPoll, Poll};
use crate::store::{self, Creation, SourceEvent};
use crate::{Error, events, routes};

/// Routing key (and event type) published when a poll is closed.
pub const VOTING_COMPLETED: &str = "voting.completed";
/// Metric: polls created, by `source` (`http` or `event`).
pub const POLLS_CREATED_TOTAL: &str = "polls_created_total";
/// Longest wait for the broker to confirm a published event before the request fails.
const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// How a poll creation arrived, for the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `POST /polls/`.
    Http,
    /// A `voting.create` event.
    Event,
}

/// What the HTTP and event handlers share.
#[derive(Clone)]
pub struct AppState {
    /// Database pool.
    pub pool: Pool,
    /// Confirmed publisher.
    pub publisher: Arc<Publisher>,
    /// Topic exchange events are published to.
    pub exchange: String,
    /// `producer` of published envelopes.
    pub service_name: String,
    /// Common counters.
    pub metrics: Metrics,
    /// See [`POLLS_CREATED_TOTAL`].
    pub polls_created: IntCounterVec,
}

impl AppState {
    /// The one poll-creation path, for HTTP (`source` = `None`) and events.
    pub async fn create_poll(
        &self,
        poll: &NewPoll,
        event: Option<SourceEvent<'_>>,
        source: Source,
    ) -> Result<Creation, Error> {
        let mut client = self.pool.get().await?;
        let creation = store::create_poll(&mut client, poll, event).await?;
        if matches!(creation, Creation::Created(_)) {
            let label = if source == Source::Http { "http" } else { "event" };
            self.polls_created.with_label_values(&[label]).inc();
        }
        Ok(creation)
    }

    /// The poll, or [`Error::NotFound`].
    pub async fn get_poll(&self, uuid: Uuid) -> Result<Poll, Error> {
        let client = self.pool.get().await?;
        store::get_poll(&client, uuid).await?.ok_or_else(|| Error::NotFound(format!("poll {uuid}")))
    }

    /// Closes the poll and publishes `voting.completed` with it. Closing again republishes the
    /// same event (same `event_id`), so a request that failed after the commit can be retried.
    pub async fn close_poll(&self, uuid: Uuid) -> Result<Poll, Error> {
        let client = self.pool.get().await?;
        let (poll, event_id) =
            store::close_poll(&client, uuid).await?.ok_or_else(|| Error::NotFound(format!("poll {uuid}")))?;
        drop(client);
        let mut envelope = Envelope::new(VOTING_COMPLETED, &self.service_name, &poll);
        envelope.event_id = event_id;
        let mut message = OutgoingMessage::json(&self.exchange, VOTING_COMPLETED, envelope.to_bytes());
        message.message_id = Some(event_id.to_string());
        match tokio::time::timeout(PUBLISH_TIMEOUT, self.publisher.publish(&message)).await {
            Ok(result) => result?,
            Err(_) => return Err(Error::PublishTimeout(VOTING_COMPLETED.to_owned())),
        }
        self.metrics.events_published.with_label_values(&[VOTING_COMPLETED]).inc();
        tracing::info!(%uuid, %event_id, "poll closed, voting.completed published");
        Ok(poll)
    }
}

/// Builds the VotingService: prepares the database, connects to the broker, subscribes to
/// `voting.create` and binds the HTTP port. Fails when the database or the broker cannot be
/// reached, so that a wrong setting shows at start-up.
pub async fn build(settings: Settings) -> Result<Application, Error> {
    let mut service = Service::build(&settings.service).await?;
    let pool = service.database(&settings.database, store::migrations(), store::MIGRATION_TABLE).await?;
    let polls_created = counter_vec(service.registry(), POLLS_CREATED_TOTAL, "Polls created, by source.", &["source"])?;
    let state = AppState {
        pool,
        publisher: service.publisher(),
        exchange: settings.service.exchange.clone(),
        service_name: settings.service.service_name.clone(),
        metrics: service.metrics(),
        polls_created,
    };
    service.consume(&settings.queue, state.clone(), |state, event| async move { events::handle(&state, event).await });
    Ok(service.with_api(routes::router(state)))
}
