//! The HTTP API. Bodies are read as bytes and validated in [`crate::domain`] and
//! [`crate::ballot`]; every failure is a JSON `{"error": ...}` (see the kit's `http` module).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde_json::Value;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::parse_id;

use crate::Error;
use crate::app::{AppState, Cast, Source};
use crate::ballot::{BallotRequest, Receipt};
use crate::domain::{NewPoll, Poll};
use crate::managers::require_manager;
use crate::results::ClosedPoll;
use crate::store::Creation;

/// The API routes (each also with a trailing slash).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/polls", post(create))
        .route("/polls/", post(create))
        .route("/polls/{id}", get(show))
        .route("/polls/{id}/", get(show))
        .route("/polls/{id}/ballots", post(cast))
        .route("/polls/{id}/ballots/", post(cast))
        .route("/polls/{id}/close", post(close))
        .route("/polls/{id}/close/", post(close))
        .route("/polls/{id}/results", get(results))
        .route("/polls/{id}/results/", get(results))
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

async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Poll>, ApiError> {
    Ok(Json(state.get_poll(parse_id(&id, "poll")?).await?))
}

/// 201 for a new ballot, 200 for the same ballot again. The voter is the caller.
async fn cast(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Receipt>), ApiError> {
    let poll_uuid = parse_id(&id, "poll")?;
    let ballot = BallotRequest::from_request(&body, &caller)?;
    Ok(match state.cast_ballot(poll_uuid, &ballot, Source::Http).await? {
        Cast::New(receipt) => (StatusCode::CREATED, Json(receipt)),
        Cast::Repeated(receipt) => (StatusCode::OK, Json(receipt)),
    })
}

/// Closes and counts the poll: a manager of its meeting only.
async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<ClosedPoll>, ApiError> {
    let uuid = parse_id(&id, "poll")?;
    require_manager(&state, &caller, &state.get_poll(uuid).await?.meeting_id).await?;
    Ok(Json(state.close_poll(uuid).await?))
}

async fn results(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<ClosedPoll>, ApiError> {
    Ok(Json(state.results(parse_id(&id, "poll")?).await?))
}
