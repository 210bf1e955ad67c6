//! ElectionService. Consumes:
//! - `agenda.election.create`: creates the election with nominations open;
//! - `agenda.election.start`: closes nominations; with two nominees or more, moves to voting
//!   and queues `voting.create` (nominees as options, a poll id chosen here so that
//!   `voting.completed` finds the election); with fewer, cancels the election;
//! - `voting.completed`: finalizes the election voting on that poll and stores its results
//!   (winner or tie, ballots, each nominee's votes).
//!
//! A start that arrives before its create (the create is being retried) fails retriably and
//! is tried again. Nominees are added over HTTP while nominations are open:
//! - `POST /elections/{id}/nominations` `{"nominee"}` -> 200 election (409 once closed); any
//!   authenticated caller
//! - `GET /elections/{id}` -> election (`id` is the agenda item id; public)

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use deadpool_postgres::Pool;
use prometheus::IntCounter;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_satellite_kit::Application;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::{event_data, json_object, parse_id, text_field};
use vote_satellite_kit::metrics::counter;
use vote_satellite_kit::outbox::Outbox;

use crate::config::{DEFAULT_POLL_PAGE_URL, ElectionSettings, Settings};
use crate::domain::{
    ELECTION_CREATE, ELECTION_START, Election, ElectionCreate, ElectionStart, ElectionStatus, VOTING_COMPLETED,
    VOTING_CREATE, VotingCompleted, voting_create,
};
use crate::{Error, page, service, store};

/// Fewest nominees a poll can have.
pub const MIN_NOMINEES: usize = 2;

/// Metric: elections finalized.
pub const ELECTIONS_FINALIZED_TOTAL: &str = "elections_finalized_total";

/// What the HTTP and event handlers share.
#[derive(Clone)]
pub struct ElectionState {
    pool: Pool,
    outbox: Outbox,
    consumer: String,
    finalized: IntCounter,
    page: page::Page,
}

impl ElectionState {
    /// The election, or [`Error::NotFound`].
    pub async fn get_election(&self, id: Uuid) -> Result<Election, Error> {
        let client = self.pool.get().await?;
        store::get_election(&client, id).await?.ok_or_else(|| Error::NotFound(format!("election {id}")))
    }

    /// Adds a nominee while nominations are open (nominating someone twice is a no-op).
    pub async fn nominate(&self, id: Uuid, body: &[u8]) -> Result<Election, Error> {
        let body = json_object(body)?;
        let nominee = text_field(&body, "nominee")?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(election) = store::lock_election(&tx, id).await? else {
            return Err(Error::NotFound(format!("election {id}")));
        };
        if election.status != ElectionStatus::Nominating {
            return Err(Error::Conflict(format!("nominations for election {id} are closed")));
        }
        store::insert_nomination(&tx, id, &nominee).await?;
        tx.commit().await?;
        self.get_election(id).await
    }

    /// Handles one event, once per `event_id` (the mark commits with the change).
    pub async fn handle_event(&self, event: Envelope) -> Result<(), Error> {
        let (event_id, event_type) = (event.event_id, event.event_type.clone());
        if ![ELECTION_CREATE, ELECTION_START, VOTING_COMPLETED].contains(&event_type.as_str()) {
            tracing::debug!(%event_type, "ignoring event");
            return Ok(());
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !store::mark_event(&tx, &self.consumer, event_id, &event_type).await? {
            tracing::info!(%event_id, "event already applied");
            return Ok(());
        }
        match event_type.as_str() {
            ELECTION_CREATE => {
                let data: ElectionCreate = event_data(&event_type, event.data)?;
                store::insert_election(&tx, &data).await?;
                tracing::info!(agenda_item_id = %data.agenda_item_id, "election created, nominations open");
            }
            ELECTION_START => {
                let data: ElectionStart = event_data(&event_type, event.data)?;
                self.start(&tx, &data).await?;
            }
            _ => {
                let data: VotingCompleted = event_data(&event_type, event.data)?;
                let finalized = match &data.results {
                    Some(results) => store::results::finalize_with_results(&tx, data.uuid, results).await?,
                    None => store::finalize_election(&tx, data.uuid).await?,
                };
                match finalized {
                    Some(id) => {
                        self.finalized.inc();
                        tracing::info!(agenda_item_id = %id, poll_uuid = %data.uuid, "election finalized");
                    }
                    None => tracing::info!(poll_uuid = %data.uuid, "no election voting on this poll"),
                }
            }
        }
        tx.commit().await?;
        self.outbox.wake();
        Ok(())
    }

    async fn start(&self, tx: &deadpool_postgres::Transaction<'_>, data: &ElectionStart) -> Result<(), Error> {
        let id = data.agenda_item_id;
        let Some(election) = store::lock_election(tx, id).await? else {
            // Its create event is still queued or being retried: try again later (bounded).
            return Err(Error::NotYetKnown(format!("election {id}")));
        };
        if election.status != ElectionStatus::Nominating {
            tracing::info!(agenda_item_id = %id, status = ?election.status, "election started already");
            return Ok(());
        }
        if election.nominees.len() < MIN_NOMINEES.max(election.seats as usize) {
            let reason =
                format!("fewer than {} nominees when voting started", MIN_NOMINEES.max(election.seats as usize));
            store::cancel_election(tx, id, &reason).await?;
            tracing::info!(agenda_item_id = %id, %reason, "election cancelled");
            return Ok(());
        }
        let poll_uuid = Uuid::new_v4();
        store::start_voting(tx, id, poll_uuid).await?;
        self.outbox.add(tx, VOTING_CREATE, voting_create(poll_uuid, &election)).await?;
        tracing::info!(agenda_item_id = %id, %poll_uuid, nominees = election.nominees.len(), "voting started");
        Ok(())
    }
}

/// Builds the ElectionService with its page linking polls at `POLL_PAGE_URL`.
pub async fn build_with_page(settings: ElectionSettings) -> Result<Application, Error> {
    let page = page::Page::new(&settings.poll_page_url);
    build_service(settings.base, page).await
}

/// Builds the ElectionService: connects to the database and the broker, binds the HTTP port and
/// subscribes (its page links polls at the poll-service's default address).
pub async fn build(settings: Settings) -> Result<Application, Error> {
    build_service(settings, page::Page::new(DEFAULT_POLL_PAGE_URL)).await
}

async fn build_service(settings: Settings, page: page::Page) -> Result<Application, Error> {
    let (mut service, pool, outbox) = service::open(&settings, &[VOTING_CREATE]).await?;
    let finalized = counter(service.registry(), ELECTIONS_FINALIZED_TOTAL, "Elections finalized.")?;
    let state = ElectionState { pool, outbox, consumer: settings.service.service_name.clone(), finalized, page };
    service.consume(&settings.queue, state.clone(), |state, event| async move { state.handle_event(event).await });
    let api = Router::new()
        .route("/elections/{id}", get(show_election))
        .route("/elections/{id}/nominations", post(nominate))
        .route("/election-page/election.js", get(|| async { page::script() }))
        .with_state(state);
    Ok(service.with_api(api))
}

/// The election as JSON, or its page for a browser (one that asks for HTML first).
async fn show_election(
    State(s): State<ElectionState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let election = s.get_election(parse_id(&id, "election")?).await?;
    if page::wants_html(&headers) {
        return Ok(s.page.response());
    }
    Ok(Json(election).into_response())
}

async fn nominate(
    State(s): State<ElectionState>,
    _caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<Election>, ApiError> {
    Ok(Json(s.nominate(parse_id(&id, "election")?, &body).await?))
}
