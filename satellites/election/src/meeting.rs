//! MeetingService: meetings and their election agenda items over HTTP. Every change and the
//! event announcing it commit together (outbox): `meeting.created`, `agenda.election.create`,
//! `agenda.election.start`. It also consumes `meeting.created` to grant the creator the
//! manager role in `meeting_permissions`, the way a separate permission service would.
//!
//! - `POST /meetings` `{"title", "created_by"?}` -> 201 meeting; any authenticated caller, who
//!   becomes its creator (`created_by`, when given, must be the caller)
//! - `GET /meetings/{id}` -> meeting with agenda and managers (public)
//! - `POST /meetings/{id}/elections` `{"title", "seats"?}` -> 201 agenda item (a manager of the meeting)
//! - `POST /meetings/{id}/elections/{item_id}/start` -> 200 agenda item (409 when started; a
//!   manager of the meeting)
//! - `POST /meetings/{id}/elections/{item_id}/cancel` -> 200 agenda item (`cancelled`; 409 when
//!   cancelled already; a manager of the meeting); publishes `agenda.election.cancel`
//!
//! Every request holds one pooled connection at a time: the manager check runs on the
//! connection of the transaction it guards. `GET /openapi.json` documents the routes ([`ABOUT`]).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use deadpool_postgres::{Pool, Transaction};
use prometheus::IntCounter;
use utoipa::ToSchema;
use uuid::Uuid;
use vote_mq::Envelope;
use vote_satellite_kit::Application;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::{MAX_TEXT_CHARS, event_data, int_field, json_object, optional_text_field, text_field};
use vote_satellite_kit::metrics::counter;
use vote_satellite_kit::openapi::{About, ErrorBody, OpenApiRouter, routes};
use vote_satellite_kit::outbox::Outbox;
use vote_satellite_kit::path::{Id, Ids};

use crate::config::Settings;
use crate::domain::{
    AgendaItem, ELECTION_CANCEL, ELECTION_CREATE, ELECTION_START, ElectionCreate, ElectionStart, MEETING_CREATED,
    Meeting, MeetingCreated,
};
use crate::{Error, service, store};

/// Role the creator of a meeting is granted.
pub const MANAGER: &str = "manager";

/// Most seats an election may fill (a poll has at most 100 options).
pub const MAX_SEATS: i32 = 100;

/// Metric: meetings created.
pub const MEETINGS_CREATED_TOTAL: &str = "meetings_created_total";

/// What the HTTP and event handlers share.
#[derive(Clone)]
pub struct MeetingState {
    pool: Pool,
    outbox: Outbox,
    consumer: String,
    meetings_created: IntCounter,
}

impl MeetingState {
    /// Creates a meeting by `caller` and queues `meeting.created`.
    pub async fn create_meeting(&self, caller: &Caller, body: &[u8]) -> Result<Meeting, Error> {
        let body = json_object(body)?;
        let title = text_field(&body, "title")?;
        let created_by = match optional_text_field(&body, "created_by", MAX_TEXT_CHARS)? {
            Some(created_by) => {
                caller.require_subject("created_by", &created_by)?;
                created_by
            }
            None => caller.subject().to_owned(),
        };
        let id = Uuid::new_v4();
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        store::insert_meeting(&tx, id, &title, &created_by).await?;
        let event = MeetingCreated { meeting_id: id, title: title.clone(), created_by: created_by.clone() };
        self.outbox.add(&tx, MEETING_CREATED, event).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.meetings_created.inc();
        tracing::info!(meeting_id = %id, "meeting created");
        Ok(Meeting { id, title, created_by, agenda: Vec::new(), managers: Vec::new() })
    }

    /// The meeting, or [`Error::NotFound`].
    pub async fn get_meeting(&self, id: Uuid) -> Result<Meeting, Error> {
        let client = self.pool.get().await?;
        store::get_meeting(&client, id).await?.ok_or_else(|| Error::NotFound(format!("meeting {id}")))
    }

    /// Appends an election item to the meeting's agenda and queues `agenda.election.create`.
    pub async fn add_election(&self, caller: &Caller, meeting_id: Uuid, body: &[u8]) -> Result<AgendaItem, Error> {
        let body = json_object(body)?;
        let title = text_field(&body, "title")?;
        let seats = match body.get("seats") {
            None | Some(serde_json::Value::Null) => 1,
            Some(_) => u32::try_from(int_field(&body, "seats", 1, MAX_SEATS)?).unwrap_or(1),
        };
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !store::lock_meeting(&tx, meeting_id).await? {
            return Err(Error::NotFound(format!("meeting {meeting_id}")));
        }
        require_manager(&tx, caller, meeting_id).await?;
        let item = store::insert_agenda_item(&tx, Uuid::new_v4(), meeting_id, &title).await?;
        let event = ElectionCreate { meeting_id, agenda_item_id: item.id, title, seats };
        self.outbox.add(&tx, ELECTION_CREATE, event).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(%meeting_id, agenda_item_id = %item.id, "election agenda item added");
        Ok(item)
    }

    /// Starts an election item (once) and queues `agenda.election.start`.
    pub async fn start_election(&self, caller: &Caller, meeting_id: Uuid, item_id: Uuid) -> Result<AgendaItem, Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        known_item(&tx, caller, meeting_id, item_id).await?;
        let Some(item) = store::start_agenda_item(&tx, item_id, meeting_id).await? else {
            return Err(Error::Conflict(format!("agenda item {item_id} was started or cancelled already")));
        };
        self.outbox.add(&tx, ELECTION_START, ElectionStart { meeting_id, agenda_item_id: item_id }).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(%meeting_id, agenda_item_id = %item_id, "election started");
        Ok(item)
    }

    /// Cancels an election item (once, started or not) and queues `agenda.election.cancel`: the
    /// way out of an election that failed or will not finish.
    pub async fn cancel_election(&self, caller: &Caller, meeting_id: Uuid, item_id: Uuid) -> Result<AgendaItem, Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        known_item(&tx, caller, meeting_id, item_id).await?;
        let Some(item) = store::cancel_agenda_item(&tx, item_id, meeting_id).await? else {
            return Err(Error::Conflict(format!("agenda item {item_id} was cancelled already")));
        };
        self.outbox.add(&tx, ELECTION_CANCEL, ElectionStart { meeting_id, agenda_item_id: item_id }).await?;
        tx.commit().await?;
        self.outbox.wake();
        tracing::info!(%meeting_id, agenda_item_id = %item_id, "election cancelled");
        Ok(item)
    }

    /// Handles one event: `meeting.created` grants the creator the manager role (once per
    /// event, and the grant itself is idempotent). Other events are acknowledged and ignored.
    pub async fn handle_event(&self, event: Envelope) -> Result<(), Error> {
        if event.event_type != MEETING_CREATED {
            tracing::debug!(event_type = %event.event_type, "ignoring event");
            return Ok(());
        }
        let data: MeetingCreated = event_data(&event.event_type, event.data)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !store::mark_event(&tx, &self.consumer, event.event_id, &event.event_type).await? {
            tracing::info!(event_id = %event.event_id, "event already applied");
            return Ok(());
        }
        store::grant_role(&tx, data.meeting_id, &data.created_by, MANAGER).await?;
        tx.commit().await?;
        tracing::info!(meeting_id = %data.meeting_id, user_id = %data.created_by, "manager role granted");
        Ok(())
    }
}

/// [`Error::Forbidden`] unless `caller` manages the meeting (see [`Caller::require_manager`]),
/// asking the platform's record on `db`, the request's one connection.
async fn require_manager(db: &Transaction<'_>, caller: &Caller, meeting_id: Uuid) -> Result<(), Error> {
    caller
        .require_manager(
            &meeting_id.to_string(),
            |subject| async move { store::is_manager(db, meeting_id, &subject).await },
        )
        .await
}

/// [`Error::NotFound`] unless the meeting has the item (the item row locked), then
/// [`Error::Forbidden`] unless `caller` manages the meeting.
async fn known_item(db: &Transaction<'_>, caller: &Caller, meeting_id: Uuid, item_id: Uuid) -> Result<(), Error> {
    if store::lock_agenda_item(db, item_id, meeting_id).await?.is_none() {
        return Err(Error::NotFound(format!("agenda item {item_id} of meeting {meeting_id}")));
    }
    require_manager(db, caller, meeting_id).await
}

/// What the meeting-service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "meeting-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "Meetings and their election agenda items: any signed-in caller creates a meeting and \
        manages it; its managers add elections to its agenda, start them (nominations close and \
        voting opens) or cancel them. Every change is announced by an event (`meeting.created`, \
        `agenda.election.create`, `.start`, `.cancel`; see docs/asyncapi.yaml).",
};

/// Builds the MeetingService: connects to the database and the broker, binds the HTTP port and
/// subscribes.
pub async fn build(settings: Settings) -> Result<Application, Error> {
    let (mut service, pool, outbox) =
        service::open(&settings, &[MEETING_CREATED, ELECTION_CREATE, ELECTION_START, ELECTION_CANCEL]).await?;
    let meetings_created = counter(service.registry(), MEETINGS_CREATED_TOTAL, "Meetings created.")?;
    let state = MeetingState { pool, outbox, consumer: settings.service.service_name.clone(), meetings_created };
    service.consume(&settings.queue, state.clone(), |state, event| async move { state.handle_event(event).await });
    Ok(service.with_api(&ABOUT, router(state)))
}

/// The API routes, each documented.
fn router(state: MeetingState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create_meeting))
        .routes(routes!(show_meeting))
        .routes(routes!(add_election))
        .routes(routes!(start_election))
        .routes(routes!(cancel_election))
        .with_state(state)
}

/// The body of `POST /meetings`, as documented; [`MeetingState::create_meeting`] reads and
/// checks it.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: the body is read by hand
struct NewMeeting {
    /// The meeting's title (trimmed, not blank).
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// The creator: the caller (the default); naming anyone else is a 403.
    #[schema(min_length = 1, max_length = 200)]
    created_by: Option<String>,
}

/// The body of `POST /meetings/{meeting_id}/elections`, as documented;
/// [`MeetingState::add_election`] reads and checks it.
#[derive(ToSchema)]
#[allow(dead_code)]
struct NewElection {
    /// The election's title (trimmed, not blank).
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// Seats to fill (absent or `null`: 1); more than one makes the poll ranked (STV).
    #[schema(minimum = 1, maximum = 100)]
    seats: Option<u32>,
}

/// Creates a meeting; the caller is its creator, and becomes its manager once
/// `meeting.created` is handled.
#[utoipa::path(post, path = "/meetings", tag = "meetings", request_body = NewMeeting,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The meeting, with an empty agenda", body = Meeting),
        (status = 400, description = "The body is not a JSON object with a valid `title` (and `created_by`)", body = ErrorBody),
        (status = 403, description = "`created_by` names someone other than the caller", body = ErrorBody),
    ))]
async fn create_meeting(
    State(s): State<MeetingState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Meeting>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.create_meeting(&caller, &body).await?)))
}

/// The meeting with its agenda and managers; public.
#[utoipa::path(get, path = "/meetings/{meeting_id}", tag = "meetings",
    params(("meeting_id" = uuid::Uuid, Path, description = "The meeting")),
    responses(
        (status = 200, description = "The meeting", body = Meeting),
        (status = 400, description = "The meeting id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
    ))]
async fn show_meeting(State(s): State<MeetingState>, Ids([meeting]): Id) -> Result<Json<Meeting>, ApiError> {
    Ok(Json(s.get_meeting(meeting).await?))
}

/// Adds an election to the meeting's agenda (nominations open once the election-service
/// handles `agenda.election.create`): a manager of the meeting only.
#[utoipa::path(post, path = "/meetings/{meeting_id}/elections", tag = "meetings", request_body = NewElection,
    params(("meeting_id" = uuid::Uuid, Path, description = "The meeting")),
    security(("bearer" = ["manager:{meeting_id}"])),
    responses(
        (status = 201, description = "The agenda item, `created`; its id is the election's", body = AgendaItem),
        (status = 400, description = "The meeting id is not a UUID, or the body is not a JSON object with a valid `title` (and `seats`)", body = ErrorBody),
        (status = 403, description = "The caller does not manage the meeting", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
    ))]
async fn add_election(
    State(s): State<MeetingState>,
    caller: Caller,
    Ids([meeting]): Id,
    body: Bytes,
) -> Result<(StatusCode, Json<AgendaItem>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.add_election(&caller, meeting, &body).await?)))
}

/// Starts the election: nominations close and, with enough nominees, voting opens. Once
/// only; a manager of the meeting only.
#[utoipa::path(post, path = "/meetings/{meeting_id}/elections/{agenda_item_id}/start", tag = "meetings",
    params(
        ("meeting_id" = uuid::Uuid, Path, description = "The meeting"),
        ("agenda_item_id" = uuid::Uuid, Path, description = "The election's agenda item"),
    ),
    security(("bearer" = ["manager:{meeting_id}"])),
    responses(
        (status = 200, description = "The agenda item, `started`", body = AgendaItem),
        (status = 400, description = "An id is not a UUID", body = ErrorBody),
        (status = 403, description = "The caller does not manage the meeting", body = ErrorBody),
        (status = 404, description = "The meeting has no such agenda item", body = ErrorBody),
        (status = 409, description = "The item was started or cancelled already", body = ErrorBody),
    ))]
async fn start_election(
    State(s): State<MeetingState>,
    caller: Caller,
    Ids([meeting, item]): Ids<2>,
) -> Result<Json<AgendaItem>, ApiError> {
    Ok(Json(s.start_election(&caller, meeting, item).await?))
}

/// Cancels the election, started or not: the way out of an election that failed or will not
/// finish (the election-service leaves a finalized one as it is). Once only; a manager of the
/// meeting only.
#[utoipa::path(post, path = "/meetings/{meeting_id}/elections/{agenda_item_id}/cancel", tag = "meetings",
    params(
        ("meeting_id" = uuid::Uuid, Path, description = "The meeting"),
        ("agenda_item_id" = uuid::Uuid, Path, description = "The election's agenda item"),
    ),
    security(("bearer" = ["manager:{meeting_id}"])),
    responses(
        (status = 200, description = "The agenda item, `cancelled`", body = AgendaItem),
        (status = 400, description = "An id is not a UUID", body = ErrorBody),
        (status = 403, description = "The caller does not manage the meeting", body = ErrorBody),
        (status = 404, description = "The meeting has no such agenda item", body = ErrorBody),
        (status = 409, description = "The item was cancelled already", body = ErrorBody),
    ))]
async fn cancel_election(
    State(s): State<MeetingState>,
    caller: Caller,
    Ids([meeting, item]): Ids<2>,
) -> Result<Json<AgendaItem>, ApiError> {
    Ok(Json(s.cancel_election(&caller, meeting, item).await?))
}
