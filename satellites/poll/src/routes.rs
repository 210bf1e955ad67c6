//! The HTTP API and the poll page. Bodies are read as bytes and validated in [`crate::domain`]
//! and [`crate::ballot`]; every failure is a JSON `{"error": ...}` (see the kit's `http`
//! module). `GET /polls/{uuid}` answers a browser (one that asks for HTML first) with the page,
//! which reads the same API.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::{ApiError, asset, wants_html};
use vote_satellite_kit::openapi::{About, ErrorBody};
use vote_satellite_kit::path::{Id, Ids};

use crate::Error;
use crate::ballot::{BallotRequest, Receipt};
use crate::domain::{NewPoll, Poll, PollType};
use crate::managers::require_manager;
use crate::polls::{AppState, Cast, Source};
use crate::results::ClosedPoll;
use crate::store::Creation;

/// What the service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "poll-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "Polls and ballots: a meeting's manager creates a poll (single choice or ranked), \
        signed-in voters cast one ballot each, the manager closes it and it is counted \
        (plurality, instant runoff or STV); its results and anonymous ballots are then public. \
        The same operations arrive as events (see docs/asyncapi.yaml).",
};

/// The API routes (the kit trims a trailing slash before routing), each documented.
pub fn router(state: AppState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(show))
        .routes(routes!(cast, export))
        .routes(routes!(style))
        .routes(routes!(script))
        .routes(routes!(close))
        .routes(routes!(results))
        .with_state(state)
}

/// The body of `POST /polls`, as documented; [`NewPoll::from_request`] reads and checks it.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: the body is read by hand
struct CreatePoll {
    vote: NewPollFields,
}

/// The poll to create. Its id is chosen by the service.
#[derive(ToSchema)]
#[allow(dead_code)]
struct NewPollFields {
    /// The meeting; the caller must manage it.
    #[schema(max_length = 200)]
    meeting_id: String,
    /// The question, shown on the poll's page.
    #[schema(max_length = 200)]
    title: Option<String>,
    #[schema(rename = "pollType")]
    poll_type: PollType,
    /// Distinct names, in the order shown.
    #[schema(min_items = 2, max_items = 100)]
    options: Vec<String>,
    /// Seats to fill (default 1; more only for a ranked poll, at most as many as options).
    #[schema(minimum = 1)]
    seats: Option<u32>,
}

/// The body of `POST /polls/{poll_id}/ballots`, as documented; [`BallotRequest::from_request`]
/// reads and checks it. `choice` on a single-choice poll (`null`: a blank ballot), `ranking`
/// on a ranked one (most preferred first, need not rank every option).
#[derive(ToSchema)]
#[allow(dead_code)]
struct Ballot {
    /// The voter: the caller; naming anyone else is a 403.
    voter_id: Option<String>,
    choice: Option<String>,
    ranking: Option<Vec<String>>,
}

/// Creates a poll of a meeting the caller manages: the token's `manager:<meeting_id>` role,
/// or the meeting's creator as `meeting.created` announced.
#[utoipa::path(post, path = "/polls", tag = "polls", request_body = CreatePoll,
    security(("bearer" = ["manager:{meeting_id}"])),
    responses(
        (status = 200, description = "The poll, open", body = Poll),
        (status = 403, description = "The caller does not manage the meeting", body = ErrorBody),
        (status = 409, description = "The poll exists already", body = ErrorBody),
    ))]
async fn create(State(state): State<AppState>, caller: Caller, body: Bytes) -> Result<Json<Poll>, ApiError> {
    let body: Value =
        serde_json::from_slice(&body).map_err(|e| Error::Invalid(format!("request body is not valid JSON: {e}")))?;
    let poll = NewPoll::from_request(&body)?;
    require_manager(&state, &caller, &poll.meeting_id).await?;
    match state.create_poll(&poll, None, Source::Http).await? {
        Creation::Created(p) => Ok(Json(p)),
        // The uuid is chosen here, so it collides with nothing; only events pass a source event.
        Creation::Exists(p) => Err(Error::Conflict(format!("poll {} already exists", p.uuid)).into()),
        Creation::Collision { uuid, .. } => Err(Error::Conflict(format!("poll {uuid} already exists")).into()),
        Creation::DuplicateEvent => Err(Error::Invalid("duplicate request".to_owned()).into()),
    }
}

const PAGE: &str = include_str!("page/poll.html");
const STYLE: &str = include_str!("page/poll.css");
const SCRIPT: &str = include_str!("page/poll.js");

/// A poll with the number of ballots cast on it so far (never how they voted).
#[derive(Debug, Serialize, ToSchema)]
struct PollView {
    #[serde(flatten)]
    poll: Poll,
    ballots_cast: u64,
}

/// The poll as JSON, or its page for a browser (one that asks for HTML first).
#[utoipa::path(get, path = "/polls/{poll_id}", tag = "polls",
    params(("poll_id" = uuid::Uuid, Path, description = "The poll")),
    responses(
        (status = 200, description = "The poll, or its page", content((PollView = "application/json"), (String = "text/html"))),
        (status = 404, description = "No such poll", body = ErrorBody),
    ))]
async fn show(State(state): State<AppState>, Ids([id]): Id, headers: HeaderMap) -> Result<Response, ApiError> {
    let uuid = id;
    if wants_html(&headers) {
        state.get_poll(uuid).await?;
        return Ok(page());
    }
    let (poll, ballots_cast) = state.poll_with_ballots(uuid).await?;
    Ok(Json(PollView { poll, ballots_cast }).into_response())
}

fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Everything the page uses comes from this service.
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
            (header::VARY, "accept"),
        ],
        PAGE,
    )
        .into_response()
}

/// The poll page's style sheet.
#[utoipa::path(get, path = "/poll-page/poll.css", tag = "page",
    responses((status = 200, description = "CSS", content_type = "text/css", body = String)))]
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The poll page's script.
#[utoipa::path(get, path = "/poll-page/poll.js", tag = "page",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// The closed poll's anonymous cast-vote record, as ABIF (default) or CSV.
#[utoipa::path(get, path = "/polls/{poll_id}/ballots", tag = "polls",
    params(
        ("poll_id" = uuid::Uuid, Path, description = "The poll"),
        ("format" = Option<String>, Query, description = "`abif` (default) or `csv`, at most once"),
    ),
    responses(
        (status = 200, description = "Every ballot, without its voter", content((String = "text/plain"), (String = "text/csv"))),
        (status = 404, description = "No such poll", body = ErrorBody),
        (status = 409, description = "The poll is open: its ballots are published once it closes", body = ErrorBody),
    ))]
async fn export(State(state): State<AppState>, Ids([id]): Id, RawQuery(query): RawQuery) -> Result<Response, ApiError> {
    let uuid = id;
    let formats: Vec<String> = url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned())
        .collect();
    let csv = match formats.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] | ["abif"] => false,
        ["csv"] => true,
        _ => return Err(Error::Invalid("'format' must be given once, 'abif' or 'csv'".to_owned()).into()),
    };
    let record = state.cast_vote_record(uuid).await?;
    let (body, content_type, extension) = if csv {
        (record.to_csv(), "text/csv; charset=utf-8", "csv")
    } else {
        (record.to_abif(), "text/plain; charset=utf-8", "abif")
    };
    let disposition = format!("attachment; filename=\"poll-{uuid}.{extension}\"");
    Ok(([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response())
}

/// Casts the caller's ballot: 201 for a new ballot, 200 for the same ballot again.
#[utoipa::path(post, path = "/polls/{poll_id}/ballots", tag = "polls", request_body = Ballot,
    params(("poll_id" = uuid::Uuid, Path, description = "The poll")),
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The ballot, stored", body = Receipt),
        (status = 200, description = "The same ballot, stored before", body = Receipt),
        (status = 403, description = "The ballot names another voter", body = ErrorBody),
        (status = 404, description = "No such poll", body = ErrorBody),
        (status = 409, description = "The poll is closed, or the caller cast another ballot", body = ErrorBody),
    ))]
async fn cast(
    State(state): State<AppState>,
    caller: Caller,
    Ids([id]): Id,
    body: Bytes,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let poll_uuid = id;
    let ballot = BallotRequest::from_request(&body, &caller)?;
    Ok(match state.cast_ballot(poll_uuid, &ballot, Source::Http).await? {
        Cast::New(receipt) => (StatusCode::CREATED, Json(receipt)),
        Cast::Repeated(receipt) => (StatusCode::OK, Json(receipt)),
    })
}

/// Closes and counts the poll: a manager of its meeting only.
#[utoipa::path(post, path = "/polls/{poll_id}/close", tag = "polls",
    params(("poll_id" = uuid::Uuid, Path, description = "The poll")),
    security(("bearer" = ["manager:{meeting_id}"])),
    responses(
        (status = 200, description = "The poll, closed, with its results", body = ClosedPoll),
        (status = 403, description = "The caller does not manage the poll's meeting", body = ErrorBody),
        (status = 404, description = "No such poll", body = ErrorBody),
    ))]
async fn close(State(state): State<AppState>, caller: Caller, Ids([id]): Id) -> Result<Json<ClosedPoll>, ApiError> {
    let uuid = id;
    require_manager(&state, &caller, &state.get_poll(uuid).await?.meeting_id).await?;
    Ok(Json(state.close_poll(uuid).await?))
}

/// A closed poll's results.
#[utoipa::path(get, path = "/polls/{poll_id}/results", tag = "polls",
    params(("poll_id" = uuid::Uuid, Path, description = "The poll")),
    responses(
        (status = 200, description = "The poll, closed, with its results", body = ClosedPoll),
        (status = 404, description = "No such poll", body = ErrorBody),
        (status = 409, description = "The poll is open: it is counted when it closes", body = ErrorBody),
    ))]
async fn results(State(state): State<AppState>, Ids([id]): Id) -> Result<Json<ClosedPoll>, ApiError> {
    Ok(Json(state.results(id).await?))
}
