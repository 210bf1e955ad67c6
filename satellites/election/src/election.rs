//! ElectionService. Consumes:
//! - `agenda.election.create`: creates the election with nominations open;
//! - `agenda.election.start`: closes nominations; with two nominees or more, moves to voting
//!   and queues `voting.create` (nominees as options, a poll id chosen here so that
//!   `voting.completed` finds the election); with fewer, cancels the election;
//! - `agenda.election.cancel`: a manager cancelled the election (unless it is finalized);
//! - `voting.completed`: finalizes the election voting on that poll and stores its results
//!   (winner or tie, ballots, each nominee's votes), once the poll is checked to be the one the
//!   election asked for (meeting, type, options); another poll under its id fails the election
//!   and the event is dead-lettered with the reason;
//! - `voting.refused`: the VotingService refused the election's poll: the election fails.
//!
//! A start or cancel that arrives before its create (the create is being retried) fails
//! retriably and is tried again. Nominees are added over HTTP while nominations are open, by
//! the same name rule as poll options and at most as many as a poll takes
//! (`vote_satellite_kit::names`), so that a started election's poll is never refused for them:
//! - `POST /elections/{id}/nominations` `{"nominee"}` -> 200 election (409 once closed or
//!   full, 400 for a name equal or confusable with a nominee); any authenticated caller
//! - `GET /elections/{id}` -> election (`id` is the agenda item id; public)
//!
//! Every request holds one pooled connection at a time, and answers from what its own
//! transaction read, so a committed write never waits for a second connection.
//! `GET /openapi.json` documents the routes and the page's script ([`ABOUT`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use deadpool_postgres::{Pool, Transaction};
use prometheus::IntCounter;
use utoipa::ToSchema;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_satellite_kit::Application;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::{event_data, json_object, text_field};
use vote_satellite_kit::metrics::counter;
use vote_satellite_kit::names::{self, MAX_OPTIONS, MIN_OPTIONS};
use vote_satellite_kit::openapi::{About, ErrorBody, OpenApiRouter, routes};
use vote_satellite_kit::outbox::Outbox;
use vote_satellite_kit::path::{Id, Ids};

use crate::config::{DEFAULT_POLL_PAGE_URL, ElectionSettings, Settings};
use crate::domain::{
    ELECTION_CANCEL, ELECTION_CREATE, ELECTION_START, Election, ElectionCreate, ElectionStart, ElectionStatus,
    VOTING_COMPLETED, VOTING_CREATE, VOTING_REFUSED, VotingCompleted, VotingRefused, voting_create,
};
use crate::{Error, page, service, store};

/// Fewest nominees a poll can have.
pub const MIN_NOMINEES: usize = MIN_OPTIONS;
/// Most nominees an election may have: the most options a poll takes.
pub const MAX_NOMINEES: usize = MAX_OPTIONS;

/// Metric: elections finalized.
pub const ELECTIONS_FINALIZED_TOTAL: &str = "elections_finalized_total";
/// Metric: elections failed (their poll refused, or another poll completed under its id).
pub const ELECTIONS_FAILED_TOTAL: &str = "elections_failed_total";

/// What the HTTP and event handlers share.
#[derive(Clone)]
pub struct ElectionState {
    pool: Pool,
    outbox: Outbox,
    consumer: String,
    finalized: IntCounter,
    failed: IntCounter,
    page: page::Page,
}

impl ElectionState {
    /// The election, or [`Error::NotFound`].
    pub async fn get_election(&self, id: Uuid) -> Result<Election, Error> {
        let client = self.pool.get().await?;
        store::get_election(&client, id).await?.ok_or_else(|| Error::NotFound(format!("election {id}")))
    }

    /// Adds a nominee while nominations are open (nominating someone twice is a no-op), under
    /// the election's lock: at most [`MAX_NOMINEES`], none confusable with another.
    pub async fn nominate(&self, id: Uuid, body: &[u8]) -> Result<Election, Error> {
        let body = json_object(body)?;
        let nominee = names::name("nominee", &text_field(&body, "nominee")?)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let Some(mut election) = store::lock_election(&tx, id).await? else {
            return Err(Error::NotFound(format!("election {id}")));
        };
        if election.status != ElectionStatus::Nominating {
            return Err(Error::Conflict(format!("nominations for election {id} are closed")));
        }
        match names::clash(&nominee, &election.nominees) {
            Some(same) if same == nominee => return Ok(election),
            Some(other) => return Err(names::refusal("nominees", &nominee, other)),
            None => {}
        }
        if election.nominees.len() >= MAX_NOMINEES {
            return Err(Error::Conflict(format!(
                "election {id} has {MAX_NOMINEES} nominees, the most a poll can take"
            )));
        }
        store::insert_nomination(&tx, id, &nominee).await?;
        tx.commit().await?;
        election.nominees.push(nominee);
        Ok(election)
    }

    /// Handles one event, once per `event_id` (the mark commits with the change).
    pub async fn handle_event(&self, event: Envelope) -> Result<(), Error> {
        let (event_id, event_type) = (event.event_id, event.event_type.clone());
        let handled = [ELECTION_CREATE, ELECTION_START, ELECTION_CANCEL, VOTING_COMPLETED, VOTING_REFUSED];
        if !handled.contains(&event_type.as_str()) {
            tracing::debug!(%event_type, "ignoring event");
            return Ok(());
        }
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !store::mark_event(&tx, &self.consumer, event_id, &event_type).await? {
            tracing::info!(%event_id, "event already applied");
            return Ok(());
        }
        // A refusal commits (the election failed, the event marked) and is then dead-lettered.
        let mut refusal = None;
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
            ELECTION_CANCEL => {
                let data: ElectionStart = event_data(&event_type, event.data)?;
                cancel(&tx, &data).await?;
            }
            VOTING_REFUSED => {
                let data: VotingRefused = event_data(&event_type, event.data)?;
                let reason = format!("the VotingService refused its poll: {}", data.reason);
                self.fail(&tx, data.uuid, &reason).await?;
            }
            _ => {
                let data: VotingCompleted = event_data(&event_type, event.data)?;
                refusal = self.finalize(&tx, &data).await?;
            }
        }
        tx.commit().await?;
        self.outbox.wake();
        match refusal {
            Some(reason) => Err(Error::Conflict(reason)),
            None => Ok(()),
        }
    }

    async fn start(&self, tx: &Transaction<'_>, data: &ElectionStart) -> Result<(), Error> {
        let id = data.agenda_item_id;
        let Some(election) = store::lock_election(tx, id).await? else {
            // Its create event is still queued or being retried: try again later (bounded).
            return Err(Error::NotYetKnown(format!("election {id}")));
        };
        same_meeting(&election, data)?;
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

    /// Finalizes the election voting on the completed poll when the poll is the one it asked
    /// for; otherwise fails it and returns the reason, for the event to be dead-lettered.
    async fn finalize(&self, tx: &Transaction<'_>, data: &VotingCompleted) -> Result<Option<String>, Error> {
        let poll_uuid = data.uuid;
        let election = match store::lock_election_by_poll(tx, poll_uuid).await? {
            Some(election) if election.status == ElectionStatus::Voting => election,
            Some(election) => {
                tracing::info!(%poll_uuid, status = ?election.status, "the election on this poll is not voting");
                return Ok(None);
            }
            None => {
                tracing::info!(%poll_uuid, "no election voting on this poll");
                return Ok(None);
            }
        };
        if let Some(mismatch) = data.mismatch(&election) {
            let reason = format!("the completed poll is not the poll this election asked for: {mismatch}");
            self.fail(tx, poll_uuid, &reason).await?;
            return Ok(Some(reason));
        }
        let finalized = match &data.results {
            Some(results) => store::results::finalize_with_results(tx, poll_uuid, results).await?,
            None => store::finalize_election(tx, poll_uuid).await?,
        };
        if let Some(id) = finalized {
            self.finalized.inc();
            tracing::info!(agenda_item_id = %id, %poll_uuid, "election finalized");
        }
        Ok(None)
    }

    /// Fails the election voting on `poll_uuid` with `reason` (an election not voting is left
    /// as it is).
    async fn fail(&self, tx: &Transaction<'_>, poll_uuid: Uuid, reason: &str) -> Result<(), Error> {
        match store::lock_election_by_poll(tx, poll_uuid).await? {
            Some(election) if election.status == ElectionStatus::Voting => {
                store::fail_election(tx, election.agenda_item_id, reason).await?;
                self.failed.inc();
                tracing::warn!(agenda_item_id = %election.agenda_item_id, %poll_uuid, %reason, "election failed");
            }
            other => {
                let status = other.map(|e| e.status);
                tracing::info!(%poll_uuid, ?status, %reason, "no election voting on this poll to fail");
            }
        }
        Ok(())
    }
}

/// [`Error::Invalid`] unless the event names the election's own meeting.
fn same_meeting(election: &Election, data: &ElectionStart) -> Result<(), Error> {
    if election.meeting_id == data.meeting_id {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "election {} belongs to meeting {}, not {}",
            election.agenda_item_id, election.meeting_id, data.meeting_id
        )))
    }
}

/// Cancels the election at a manager's request, unless it is finalized (or cancelled already).
async fn cancel(tx: &Transaction<'_>, data: &ElectionStart) -> Result<(), Error> {
    let id = data.agenda_item_id;
    let Some(election) = store::lock_election(tx, id).await? else {
        return Err(Error::NotYetKnown(format!("election {id}")));
    };
    same_meeting(&election, data)?;
    match election.status {
        ElectionStatus::Nominating | ElectionStatus::Voting | ElectionStatus::Failed => {
            store::cancel_election(tx, id, "cancelled by a manager of the meeting").await?;
            tracing::info!(agenda_item_id = %id, from = ?election.status, "election cancelled by a manager");
        }
        ElectionStatus::Finalized | ElectionStatus::Cancelled => {
            tracing::info!(agenda_item_id = %id, status = ?election.status, "election not cancelled: it is over");
        }
    }
    Ok(())
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
    let failed = counter(service.registry(), ELECTIONS_FAILED_TOTAL, "Elections failed: poll refused or not theirs.")?;
    let state =
        ElectionState { pool, outbox, consumer: settings.service.service_name.clone(), finalized, failed, page };
    service.consume(&settings.queue, state.clone(), |state, event| async move { state.handle_event(event).await });
    Ok(service.with_api(&ABOUT, router(state)))
}

/// What the election-service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "election-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "Elections of a meeting's agenda: signed-in callers nominate while nominations are \
        open; when a manager starts the election the service asks the poll-service for a poll of \
        the nominees, and finalizes the election with that poll's results. Its state follows \
        events (`agenda.election.*`, `voting.completed`, `voting.refused`; see docs/asyncapi.yaml); \
        each election also has a page for browsers.",
};

/// The API routes and the page's script, each documented.
fn router(state: ElectionState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(show_election))
        .routes(routes!(nominate))
        .routes(routes!(page::script))
        .with_state(state)
}

/// The body of `POST /elections/{election_id}/nominations`, as documented;
/// [`ElectionState::nominate`] reads and checks it.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: the body is read by hand
struct Nomination {
    /// The nominee: a name (trimmed, NFC-normalized, no invisible characters) neither equal
    /// nor confusable with another nominee's.
    #[schema(min_length = 1, max_length = 200)]
    nominee: String,
}

/// The election as JSON, or its page for a browser (one that asks for HTML first); public.
#[utoipa::path(get, path = "/elections/{election_id}", tag = "elections",
    params(("election_id" = uuid::Uuid, Path, description = "The election: its agenda item's id")),
    responses(
        (status = 200, description = "The election, or its page", content((Election = "application/json"), (String = "text/html"))),
        (status = 400, description = "The election id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such election (yet: it appears once the agenda item's event is handled)", body = ErrorBody),
    ))]
async fn show_election(
    State(s): State<ElectionState>,
    Ids([election]): Id,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let election = s.get_election(election).await?;
    if page::wants_html(&headers) {
        return Ok(s.page.response());
    }
    Ok(Json(election).into_response())
}

/// Nominates someone while nominations are open; nominating a nominee again changes nothing.
/// Any signed-in caller.
#[utoipa::path(post, path = "/elections/{election_id}/nominations", tag = "elections", request_body = Nomination,
    params(("election_id" = uuid::Uuid, Path, description = "The election: its agenda item's id")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The election with its nominees", body = Election),
        (status = 400, description = "The election id is not a UUID, the body has no valid `nominee`, or the nominee is confusable with another", body = ErrorBody),
        (status = 404, description = "No such election", body = ErrorBody),
        (status = 409, description = "Nominations are closed, or the election has as many nominees as a poll takes (100)", body = ErrorBody),
    ))]
async fn nominate(
    State(s): State<ElectionState>,
    _caller: Caller,
    Ids([election]): Id,
    body: Bytes,
) -> Result<Json<Election>, ApiError> {
    Ok(Json(s.nominate(election, &body).await?))
}
