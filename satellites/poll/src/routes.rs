//! The HTTP API and the poll page. Bodies are read as bytes and validated in [`crate::domain`]
//! and [`crate::ballot`]; every failure is a JSON `{"error": ...}` (see the kit's `http`
//! module). `GET /polls/{uuid}` answers a browser (one that asks for HTML first) with the page,
//! which reads the same API.

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::Value;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::{ApiError, wants_html};
use vote_satellite_kit::path::{Id, Ids};

use crate::Error;
use crate::ballot::{BallotRequest, Receipt};
use crate::domain::{NewPoll, Poll};
use crate::managers::require_manager;
use crate::polls::{AppState, Cast, Source};
use crate::results::ClosedPoll;
use crate::store::Creation;

/// The API routes (the kit trims a trailing slash before routing).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/polls", post(create))
        .route("/polls/{poll_id}", get(show))
        .route("/polls/{poll_id}/ballots", post(cast).get(export))
        .route("/poll-page/poll.css", get(|| async { asset("text/css; charset=utf-8", STYLE) }))
        .route("/poll-page/poll.js", get(|| async { asset("text/javascript; charset=utf-8", SCRIPT) }))
        .route("/polls/{poll_id}/close", post(close))
        .route("/polls/{poll_id}/results", get(results))
        .with_state(state)
}

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
#[derive(Debug, Serialize)]
struct PollView {
    #[serde(flatten)]
    poll: Poll,
    ballots_cast: u64,
}

/// The poll as JSON, or its page for a browser.
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

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "no-cache")], body).into_response()
}

/// The closed poll's anonymous cast-vote record, as ABIF (default) or CSV.
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

/// 201 for a new ballot, 200 for the same ballot again. The voter is the caller.
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
async fn close(State(state): State<AppState>, caller: Caller, Ids([id]): Id) -> Result<Json<ClosedPoll>, ApiError> {
    let uuid = id;
    require_manager(&state, &caller, &state.get_poll(uuid).await?.meeting_id).await?;
    Ok(Json(state.close_poll(uuid).await?))
}

async fn results(State(state): State<AppState>, Ids([id]): Id) -> Result<Json<ClosedPoll>, ApiError> {
    Ok(Json(state.results(id).await?))
}
