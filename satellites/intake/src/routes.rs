//! The API: `POST /votes` (a citizen's own vote) and `POST /votes/batch` (a gateway's votes for
//! the citizens it authenticated). Every refusal is a JSON error: 400 bad vote, 401 no valid
//! token, 403 someone else's vote or no `gateway` role, 409 a changed vote once the first is
//! counted, 413 too large, 429 too many requests (with `Retry-After`), 503 not confirmed by the
//! broker in time (with `Retry-After`).

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::{ApiError, error_response};

use crate::limit::CallerLimit;
use crate::metrics::Metrics;
use crate::receipt::ReceiptKey;
use crate::send::{Outcome, Sender};
use crate::vote::prepare;

/// Role of a trusted gateway (a polling station that authenticates citizens itself).
pub const GATEWAY_ROLE: &str = "gateway";
/// Most votes in one `POST /votes/batch`.
pub const MAX_GATEWAY_VOTES: usize = 1000;
/// Largest body of `POST /votes`.
const MAX_VOTE_BODY: usize = 4 * 1024;
/// Largest body of `POST /votes/batch`: a thousand votes of the longest identifiers.
pub const MAX_BATCH_BODY: usize = 512 * 1024;
/// What `Retry-After` says when the broker is not confirming.
const RETRY_AFTER_SECONDS: u64 = 1;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The batcher's door.
    pub sender: Sender,
    /// The receipt key.
    pub receipts: Arc<ReceiptKey>,
    /// Per-caller request limits.
    pub limit: Arc<CallerLimit>,
    /// The intake's metrics.
    pub metrics: Metrics,
}

/// The API routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/votes", post(cast).layer(DefaultBodyLimit::max(MAX_VOTE_BODY)))
        .route("/votes/batch", post(cast_many).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)))
        .with_state(state)
}

/// `POST /votes` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ballot {
    law_id: String,
    choice: String,
    /// Optional; when present it must be the caller.
    #[serde(default)]
    citizen_id: Option<String>,
}

/// `POST /votes/batch` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Ballots {
    votes: Vec<Value>,
}

/// One vote of a gateway.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GatewayBallot {
    citizen_id: String,
    law_id: String,
    choice: String,
}

async fn cast(State(state): State<AppState>, caller: Caller, ballot: Json<Ballot>) -> Response {
    let Json(ballot) = ballot;
    if let Err(wait) = state.limit.check(caller.subject()) {
        state.metrics.count("rate_limited", 1);
        return too_many(wait);
    }
    let citizen = match caller.acting_as("citizen_id", ballot.citizen_id) {
        Ok(citizen) => citizen,
        Err(e) => {
            state.metrics.count("forbidden", 1);
            return ApiError(e).into_response();
        }
    };
    let vote = match prepare(&state.receipts, &citizen, &ballot.law_id, &ballot.choice, OffsetDateTime::now_utc()) {
        Ok(vote) => vote,
        Err(message) => {
            state.metrics.count("refused", 1);
            return error_response(StatusCode::BAD_REQUEST, &message);
        }
    };
    let (receipt, law_id) = (vote.receipt.clone(), vote.law_id.clone());
    match state.sender.submit(vote).await {
        Outcome::Accepted => {
            (StatusCode::ACCEPTED, Json(json!({"receipt": receipt, "law_id": law_id}))).into_response()
        }
        Outcome::Conflict => conflict(&law_id),
        Outcome::Unavailable => unavailable(),
    }
}

async fn cast_many(State(state): State<AppState>, caller: Caller, ballots: Json<Ballots>) -> Response {
    let Json(Ballots { votes }) = ballots;
    if let Err(e) = caller.require_role(GATEWAY_ROLE) {
        state.metrics.count("forbidden", votes.len() as u64);
        return ApiError(e).into_response();
    }
    if let Err(wait) = state.limit.check(caller.subject()) {
        state.metrics.count("rate_limited", votes.len() as u64);
        return too_many(wait);
    }
    if votes.is_empty() || votes.len() > MAX_GATEWAY_VOTES {
        return error_response(StatusCode::BAD_REQUEST, &format!("'votes' must hold 1 to {MAX_GATEWAY_VOTES} votes"));
    }
    let now = OffsetDateTime::now_utc();
    let answers = votes.into_iter().enumerate().map(|(i, vote)| {
        let state = state.clone();
        async move {
            let ballot = match serde_json::from_value::<GatewayBallot>(vote) {
                Ok(ballot) => ballot,
                Err(e) => {
                    state.metrics.count("refused", 1);
                    return json!({"status": "refused", "error": format!("votes[{i}]: {}", shape_error(&e))});
                }
            };
            let vote = match prepare(&state.receipts, &ballot.citizen_id, &ballot.law_id, &ballot.choice, now) {
                Ok(vote) => vote,
                Err(message) => {
                    state.metrics.count("refused", 1);
                    return json!({"status": "refused", "error": format!("votes[{i}]: {message}")});
                }
            };
            let (receipt, law_id) = (vote.receipt.clone(), vote.law_id.clone());
            match state.sender.submit(vote).await {
                Outcome::Accepted => json!({"status": "accepted", "receipt": receipt, "law_id": law_id}),
                Outcome::Conflict => json!({"status": "conflict", "law_id": law_id,
                    "error": "another vote of this citizen on this law is already counted"}),
                Outcome::Unavailable => json!({"status": "unavailable", "law_id": law_id,
                    "error": "not recorded: try again"}),
            }
        }
    });
    let answers = futures::future::join_all(answers).await;
    let count = |status: &str| answers.iter().filter(|a| a["status"] == status).count();
    let (accepted, unavailable) = (count("accepted"), count("unavailable"));
    let status = if accepted == 0 && unavailable > 0 { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::ACCEPTED };
    let mut response = (status, Json(json!({"accepted": accepted, "votes": answers}))).into_response();
    if unavailable > 0 {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    }
    response
}

/// A serde error about a vote's shape, without quoting the input.
fn shape_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    // serde's messages name the field ("missing field `law_id`", "unknown field `x`, expected
    // ..."); a type error quotes the value, so only its kind is kept.
    match text.split_once(" at line") {
        Some((head, _)) if head.starts_with("missing field") || head.starts_with("unknown field") => {
            head.split(", expected").next().unwrap_or(head).to_owned()
        }
        _ => "each vote must be {\"citizen_id\", \"law_id\", \"choice\"} with string values".to_owned(),
    }
}

fn conflict(law_id: &str) -> Response {
    (
        StatusCode::CONFLICT,
        Json(json!({"error": "another vote of yours on this law is already counted", "law_id": law_id})),
    )
        .into_response()
}

fn unavailable() -> Response {
    let mut response =
        error_response(StatusCode::SERVICE_UNAVAILABLE, "the vote could not be recorded now; try again shortly");
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(RETRY_AFTER_SECONDS));
    response
}

fn too_many(wait: Duration) -> Response {
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    let mut response = error_response(StatusCode::TOO_MANY_REQUESTS, "too many requests; slow down");
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds.max(1)));
    response
}
