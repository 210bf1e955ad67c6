//! The API: `POST /votes` (a citizen's own vote) and `POST /votes/batch` (a gateway's votes for
//! the citizens it authenticated). Every refusal is a JSON error: 400 bad vote, 401 no valid
//! token, 403 someone else's vote or no `gateway` role, 409 a changed vote once the first is
//! counted, 413 too large, 415 a body not sent as JSON, 429 too many requests (with
//! `Retry-After`), 503 not confirmed by the broker in time (with `Retry-After`). Both routes are
//! documented (`#[utoipa::path]`), and the document is served at `GET /openapi.json`.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, Schema, SchemaType};
use utoipa::openapi::{Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::{OpenApiRouter, UtoipaMethodRouterExt};
use utoipa_axum::routes;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::{ApiError, error_response};
use vote_satellite_kit::openapi::{About, ErrorBody};

use crate::answers::{BatchAnswer, VoteAccepted, VoteConflict};
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

/// What the service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "vote-intake",
    version: env!("CARGO_PKG_VERSION"),
    description: "The citizens' front door: a signed-in citizen casts their own vote on a law, and a \
        trusted gateway (a polling station) casts the votes of citizens it authenticated itself. A \
        vote is answered 202 only once the broker confirmed it, so an accepted vote is never lost. \
        Its receipt lets the citizen check at the results service that it was counted, and nobody \
        without the intake's key can compute it.",
};

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

/// The API routes, each documented.
pub fn router(state: AppState) -> OpenApiRouter {
    api().with_state(state)
}

/// The routes before they get their state (the document does not depend on it).
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(cast).layer(DefaultBodyLimit::max(MAX_VOTE_BODY)))
        .routes(routes!(cast_many).layer(DefaultBodyLimit::max(MAX_BATCH_BODY)))
}

/// A citizen's vote (the body of `POST /votes`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Ballot {
    /// The law, 1 to 128 bytes.
    #[schema(min_length = 1, max_length = 128)]
    law_id: String,
    #[schema(value_type = Choice)]
    choice: String,
    /// The citizen: the caller (the token's subject) when absent; naming anyone else is a 403.
    #[serde(default)]
    citizen_id: Option<String>,
}

/// A gateway's votes (the body of `POST /votes/batch`).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Ballots {
    /// 1 to 1000 votes, each a `GatewayBallot`. A vote of another shape does not refuse the
    /// request: it is refused on its own in the answer, and the others still count.
    #[schema(min_items = 1, max_items = 1000, value_type = Vec<BatchVote>)]
    votes: Vec<Value>,
}

/// One vote of a gateway, for a citizen it authenticated.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct GatewayBallot {
    /// The citizen, 1 to 128 bytes.
    #[schema(min_length = 1, max_length = 128)]
    citizen_id: String,
    /// The law, 1 to 128 bytes.
    #[schema(min_length = 1, max_length = 128)]
    law_id: String,
    #[schema(value_type = Choice)]
    choice: String,
}

/// A vote's choice on a law.
#[derive(ToSchema)]
#[serde(rename_all = "lowercase")]
#[allow(dead_code)] // described, never built: the engine's `Choice` is what is built
enum Choice {
    /// Yes.
    Oui,
    /// No.
    Non,
}

/// One item of `votes` as documented: a [`GatewayBallot`], though any value is taken (and
/// refused on its own in the answer when it is not one).
struct BatchVote;

impl PartialSchema for BatchVote {
    fn schema() -> RefOr<Schema> {
        let anything = ObjectBuilder::new()
            .schema_type(SchemaType::AnyValue)
            .description(Some("Anything else: refused on its own, its answer says why"));
        AnyOfBuilder::new().item(Ref::from_schema_name(GatewayBallot::name())).item(anything).into()
    }
}

impl ToSchema for BatchVote {
    fn schemas(schemas: &mut Vec<(String, RefOr<Schema>)>) {
        schemas.push((GatewayBallot::name().into_owned(), GatewayBallot::schema()));
        <GatewayBallot as ToSchema>::schemas(schemas);
    }
}

/// Casts the caller's vote.
///
/// Answered once the broker confirmed it; the same vote again gets the same receipt and is
/// counted once.
#[utoipa::path(post, path = "/votes", tag = "votes", request_body = Ballot,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "The vote, confirmed by the broker: it will be counted", body = VoteAccepted),
        (status = 400, description = "Not a vote: not JSON, a missing or unknown field, `choice` not `oui` \
            or `non`, `law_id` empty or over 128 bytes", body = ErrorBody),
        (status = 403, description = "`citizen_id` names someone else", body = ErrorBody),
        (status = 409, description = "The citizen's other choice on this law is already counted: a vote \
            cannot be changed", body = VoteConflict),
        (status = 413, description = "The body is over 4 KiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorBody),
        (status = 429, description = "Too many requests from this citizen", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the citizen may send again"))),
        (status = 503, description = "The broker did not confirm the vote in time: it is not recorded; \
            send it again", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before sending it again"))),
    ))]
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

/// Casts a gateway's votes, for citizens it authenticated itself.
///
/// Each vote is accepted or refused on its own; a vote accepted is confirmed by the broker, and
/// its receipt is the one its citizen would have got from `POST /votes`.
#[utoipa::path(post, path = "/votes/batch", tag = "votes", request_body = Ballots,
    security(("bearer" = ["gateway"])),
    responses(
        (status = 202, description = "Each vote's answer: at least one accepted, or none unavailable",
            body = BatchAnswer,
            headers(("Retry-After" = u64,
                description = "When some votes are unavailable: seconds to wait before sending them again"))),
        (status = 400, description = "Not `{\"votes\": [...]}`, or fewer than 1 or more than 1000 votes",
            body = ErrorBody),
        (status = 403, description = "The caller lacks the `gateway` role", body = ErrorBody),
        (status = 413, description = "The body is over 512 KiB", body = ErrorBody),
        (status = 415, description = "The body is not sent as `application/json`", body = ErrorBody),
        (status = 429, description = "Too many requests from this gateway", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the gateway may send again"))),
        (status = 503, description = "No vote accepted, and at least one unavailable (the broker did not \
            confirm it in time): send the unavailable ones again", body = BatchAnswer,
            headers(("Retry-After" = u64, description = "Seconds to wait before sending them again"))),
    ))]
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

#[cfg(test)]
mod tests {
    use serde_json::json;
    use vote_engine::decode::MAX_FIELD_BYTES;

    use super::*;

    #[test]
    fn the_documented_limits_are_the_enforced_ones() {
        let (_, api) = api().split_for_parts();
        let document = serde_json::to_value(vote_satellite_kit::openapi::document(&ABOUT, api)).unwrap();
        let schemas = &document["components"]["schemas"];
        assert_eq!(schemas["Ballots"]["properties"]["votes"]["maxItems"], json!(MAX_GATEWAY_VOTES));
        for (schema, field) in [("Ballot", "law_id"), ("GatewayBallot", "law_id"), ("GatewayBallot", "citizen_id")] {
            assert_eq!(schemas[schema]["properties"][field]["maxLength"], json!(MAX_FIELD_BYTES), "{schema}.{field}");
        }
        let batch = &document["paths"]["/votes/batch"]["post"];
        assert_eq!(batch["security"], json!([{"bearer": [GATEWAY_ROLE]}]));
    }
}
