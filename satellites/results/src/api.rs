//! The HTTP API and the page. Results come from the feed's in-memory [`Snapshot`] (no database
//! read per request); receipts are one indexed lookup each. Every bad request is a 400 or 404
//! with a JSON error; a database failure is a 503 that carries no internal text. Every route is
//! documented (`#[utoipa::path]`), and the document is served at `GET /openapi.json`.

use std::sync::Arc;

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use deadpool_postgres::Pool;
use futures::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tokio::sync::broadcast::error::RecvError;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vote_runtime::CancellationToken;
use vote_runtime::postgres::describe;
use vote_satellite_kit::http::{asset, error_response};
use vote_satellite_kit::openapi::{About, ErrorBody};

use crate::answers::{LawNotFound, LawTotals, Receipt, ResultsPage, StreamUpdate, UnknownReceipt};
use crate::feed::{FeedHandle, RESYNC_EVENT};
use crate::metrics::Metrics;
use crate::snapshot::{Snapshot, rfc3339};

const RECEIPT: &str = include_str!("../../../sql/results/queries/receipt.sql");
const PAGE: &str = include_str!("page/index.html");
const STYLE: &str = include_str!("page/results.css");
const SCRIPT: &str = include_str!("page/results.js");

/// Longest identifier (law_id, vote_hash) the engine accepts, in bytes.
pub const MAX_ID_BYTES: usize = 128;
/// Laws per page when `limit` is not given.
pub const DEFAULT_LIMIT: usize = 50;
/// Largest `limit` accepted.
pub const MAX_LIMIT: usize = 1000;
/// Largest `offset` accepted.
pub const MAX_OFFSET: usize = 1_000_000_000;

/// What the service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "results-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "The engine's vote totals for the public, read-only: every law's yes and no votes \
        (most votes first, in pages, with a law id prefix search), one law's totals, and a receipt \
        lookup that tells whether a vote was counted, never how. A live page and its Server-Sent \
        Events stream show each change as the service reads it from the engine's database.",
};

/// What the routes' annotations cannot say: the tags, and the `update` event's data
/// (a stream's events have no schema of their own in OpenAPI 3.1).
#[derive(OpenApi)]
#[openapi(
    components(schemas(StreamUpdate)),
    tags(
        (name = "results", description = "The totals, receipts and the live stream (JSON, public)"),
        (name = "page", description = "The live results page and its assets"),
    )
)]
struct Extra;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The change feed's outputs.
    pub feed: FeedHandle,
    /// The engine's database, for receipts.
    pub pool: Pool,
    /// The service's metrics.
    pub metrics: Metrics,
    /// Cancelled at shutdown: ends the open streams so the server can stop.
    pub stop: CancellationToken,
}

/// The page, the API and the stream, each documented.
pub fn router(state: AppState) -> OpenApiRouter {
    api().with_state(state)
}

/// The routes before they get their state (the document does not depend on it).
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(Extra::openapi())
        .routes(routes!(page))
        .routes(routes!(style))
        .routes(routes!(script))
        .routes(routes!(results))
        .routes(routes!(law))
        .routes(routes!(receipt))
        .routes(routes!(stream))
}

/// A refused request, turned into its JSON error response only when answered (a `Response`
/// is too large to travel in every `Result`).
struct Refusal {
    status: StatusCode,
    message: String,
}

impl Refusal {
    fn bad_request(message: String) -> Self {
        Self { status: StatusCode::BAD_REQUEST, message }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        error_response(self.status, &self.message)
    }
}

/// The live results page.
///
/// Its script reads `/api/results` and follows `/api/stream`.
#[utoipa::path(get, path = "/", tag = "page",
    responses((status = 200, description = "The page", content_type = "text/html", body = String,
        headers(("Content-Security-Policy" = String,
            description = "Everything the page uses comes from this service")))))]
async fn page() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
            // Everything the page uses comes from this service.
            (header::CONTENT_SECURITY_POLICY, "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"),
        ],
        PAGE,
    )
        .into_response()
}

/// The page's style sheet.
#[utoipa::path(get, path = "/results.css", tag = "page",
    responses((status = 200, description = "CSS", content_type = "text/css", body = String)))]
async fn style() -> Response {
    asset("text/css; charset=utf-8", STYLE)
}

/// The page's script.
#[utoipa::path(get, path = "/results.js", tag = "page",
    responses((status = 200, description = "JavaScript", content_type = "text/javascript", body = String)))]
async fn script() -> Response {
    asset("text/javascript; charset=utf-8", SCRIPT)
}

/// An identifier as the engine accepts it: 1 to 128 bytes, no NUL.
fn check_identifier(name: &str, value: &str) -> Result<(), Refusal> {
    if value.is_empty() {
        Err(Refusal::bad_request(format!("{name} must not be empty")))
    } else if value.len() > MAX_ID_BYTES {
        Err(Refusal::bad_request(format!("{name} is longer than {MAX_ID_BYTES} bytes")))
    } else if value.contains('\0') {
        Err(Refusal::bad_request(format!("{name} contains a NUL character")))
    } else {
        Ok(())
    }
}

/// The snapshot, or a 503 before the first read.
fn loaded(state: &AppState) -> Result<Arc<Snapshot>, Refusal> {
    let snapshot = state.feed.snapshot();
    if snapshot.loaded {
        Ok(snapshot)
    } else {
        Err(Refusal { status: StatusCode::SERVICE_UNAVAILABLE, message: "results not loaded yet".to_owned() })
    }
}

/// `?limit=&offset=&q=` as given; checked by [`ResultsQuery::check`].
#[derive(Debug, Deserialize)]
struct ResultsQuery {
    limit: Option<String>,
    offset: Option<String>,
    q: Option<String>,
}

impl ResultsQuery {
    fn check(&self) -> Result<(usize, usize, &str), Refusal> {
        let number = |name: &str, value: &Option<String>, default: usize, range: std::ops::RangeInclusive<usize>| {
            let Some(text) = value else { return Ok(default) };
            match text.trim().parse::<usize>() {
                Ok(n) if range.contains(&n) => Ok(n),
                _ => Err(Refusal::bad_request(format!(
                    "{name} must be a whole number from {} to {}",
                    range.start(),
                    range.end()
                ))),
            }
        };
        let limit = number("limit", &self.limit, DEFAULT_LIMIT, 1..=MAX_LIMIT)?;
        let offset = number("offset", &self.offset, 0, 0..=MAX_OFFSET)?;
        let q = self.q.as_deref().unwrap_or("");
        if !q.is_empty() {
            check_identifier("q", q)?;
        }
        Ok((limit, offset, q))
    }
}

/// The totals of every law, a page at a time.
///
/// Laws with the most votes first, then by law id; `q` keeps the laws whose id starts with it.
#[utoipa::path(get, path = "/api/results", tag = "results",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 1000,
            description = "Laws per page, 1 to 1000 (default 50)"),
        ("offset" = Option<u32>, Query, maximum = 1000000000,
            description = "Laws to skip, 0 to 1000000000 (default 0)"),
        ("q" = Option<String>, Query, max_length = 128,
            description = "A law id prefix, at most 128 bytes (case-sensitive); empty or absent: every law"),
    ),
    responses(
        (status = 200, description = "The totals and a page of laws", body = ResultsPage),
        (status = 400, description = "`limit`, `offset` or `q` out of range, not a whole number or given twice",
            body = ErrorBody),
        (status = 503, description = "The totals have not been read yet since the service started", body = ErrorBody),
    ))]
async fn results(State(state): State<AppState>, Query(query): Query<ResultsQuery>) -> Response {
    let (limit, offset, q) = match query.check() {
        Ok(checked) => checked,
        Err(refusal) => return refusal.into_response(),
    };
    let snapshot = match loaded(&state) {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal.into_response(),
    };
    let (matching, page) = snapshot.laws.page(q, offset, limit);
    let laws: Vec<_> = page.iter().map(|law| law.view()).collect();
    Json(json!({
        "as_of": rfc3339(snapshot.as_of),
        "total_votes": snapshot.total_votes(),
        "total_oui": snapshot.laws.oui,
        "total_non": snapshot.laws.non,
        "laws_count": snapshot.laws.by_id.len(),
        "matching": matching,
        "limit": limit,
        "offset": offset,
        "laws": laws,
        "last_recount": snapshot.last_recount,
    }))
    .into_response()
}

/// One law's totals.
#[utoipa::path(get, path = "/api/results/{law_id}", tag = "results",
    params(("law_id" = String, Path, min_length = 1, max_length = 128, description = "The law, 1 to 128 bytes")),
    responses(
        (status = 200, description = "The law's totals", body = LawTotals),
        (status = 400, description = "`law_id` longer than 128 bytes, or with a NUL or invalid UTF-8",
            body = ErrorBody),
        (status = 404, description = "No vote recorded on this law", body = LawNotFound),
        (status = 503, description = "The totals have not been read yet since the service started", body = ErrorBody),
    ))]
async fn law(State(state): State<AppState>, Path(law_id): Path<String>) -> Response {
    if let Err(refusal) = check_identifier("law_id", &law_id) {
        return refusal.into_response();
    }
    let snapshot = match loaded(&state) {
        Ok(snapshot) => snapshot,
        Err(refusal) => return refusal.into_response(),
    };
    match snapshot.laws.get(&law_id) {
        Some(law) => {
            let mut body = serde_json::to_value(law.view()).unwrap_or(Value::Null);
            body["as_of"] = json!(rfc3339(snapshot.as_of));
            Json(body).into_response()
        }
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "no votes recorded for this law", "law_id": law_id})))
            .into_response(),
    }
}

/// A time a receipt shows: to the minute, so that a receipt cannot be matched to one change
/// of the live totals (which would tell its choice).
fn receipt_time(t: OffsetDateTime) -> String {
    rfc3339(t.replace_second(0).and_then(|t| t.replace_nanosecond(0)).unwrap_or(t))
}

/// Whether a vote was counted, never how.
///
/// A citizen checks their vote by its receipt without anyone learning their choice.
#[utoipa::path(get, path = "/api/receipts/{vote_hash}", tag = "results",
    params(("vote_hash" = String, Path, min_length = 1, max_length = 128,
        description = "The receipt the intake answered the vote with (its `vote_hash`)")),
    responses(
        (status = 200, description = "The vote arrived: counted, or a duplicate that was not", body = Receipt),
        (status = 400, description = "`vote_hash` longer than 128 bytes, or with a NUL or invalid UTF-8",
            body = ErrorBody),
        (status = 404, description = "No vote with this receipt has been recorded", body = UnknownReceipt),
        (status = 503, description = "The database did not answer; try again", body = ErrorBody),
    ))]
async fn receipt(State(state): State<AppState>, Path(vote_hash): Path<String>) -> Response {
    let metrics = state.metrics.receipts.clone();
    if let Err(refusal) = check_identifier("vote_hash", &vote_hash) {
        metrics.with_label_values(&["invalid"]).inc();
        return refusal.into_response();
    }
    let rows = match state.pool.get().await {
        // Prepared once per connection: a lookup is then one round trip, without parsing and
        // planning the query again.
        Ok(client) => match client.prepare_cached(RECEIPT).await {
            Ok(statement) => client.query(&statement, &[&vote_hash]).await.map_err(|e| describe(&e)),
            Err(e) => Err(describe(&e)),
        },
        Err(e) => Err(e.to_string()),
    };
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => {
            tracing::warn!(error = %e, "receipt lookup failed");
            return error_response(StatusCode::SERVICE_UNAVAILABLE, "receipts are unavailable right now");
        }
    };
    let row = rows.iter().find(|r| r.get::<_, &str>(0) == "counted").or_else(|| rows.first());
    let Some(row) = row else {
        metrics.with_label_values(&["unknown"]).inc();
        return (StatusCode::NOT_FOUND, Json(json!({"vote_hash": vote_hash, "status": "unknown"}))).into_response();
    };
    let status: &str = row.get(0);
    let law_id: String = row.get(1);
    let at = receipt_time(row.get(3));
    metrics.with_label_values(&[status]).inc();
    if status == "counted" {
        return Json(json!({"vote_hash": vote_hash, "status": "counted", "law_id": law_id, "counted_at": at}))
            .into_response();
    }
    let reason: String = row.get(2);
    let detail = match reason.as_str() {
        "citizen_law" => "the citizen had already voted on this law; only the first vote counts",
        _ => "this vote had already been received; it counts once",
    };
    Json(json!({
        "vote_hash": vote_hash,
        "status": "duplicate",
        "law_id": law_id,
        "reason": reason,
        "detail": detail,
        "received_at": at,
    }))
    .into_response()
}

/// Decrements the open-stream gauge when a stream ends.
struct Listener(prometheus::IntGauge);

impl Drop for Listener {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// The changes as they are read.
///
/// Server-Sent Events, until the service stops.
#[utoipa::path(get, path = "/api/stream", tag = "results",
    responses((status = 200, content_type = "text/event-stream", body = String,
        description = "Server-Sent Events: `resync` first (data `{}`: read `GET /api/results` again; \
            also sent to a listener that fell behind, and when laws were removed or more than 2000 \
            changed in one read), then `update` for each read that changed something (data: a \
            `StreamUpdate`, the laws that changed and the new grand totals), and a `: keep-alive` \
            comment after 15 s without an event. Reconnect after 2 s (`retry: 2000`).")))]
async fn stream(State(state): State<AppState>) -> Response {
    let receiver = state.feed.subscribe();
    state.metrics.stream_clients.inc();
    let listener = Listener(state.metrics.stream_clients.clone());
    let updates = futures::stream::unfold((receiver, listener), |(mut receiver, listener)| async move {
        let message = match receiver.recv().await {
            Ok(message) => message,
            Err(RecvError::Lagged(_)) => Bytes::from_static(RESYNC_EVENT),
            Err(RecvError::Closed) => return None,
        };
        Some((Ok::<_, std::convert::Infallible>(message), (receiver, listener)))
    });
    let body = futures::stream::once(async { Ok(Bytes::from_static(RESYNC_EVENT)) })
        .chain(updates)
        .take_until(state.stop.cancelled_owned());
    (
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // Tells nginx-style proxies not to buffer the stream.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_limits_are_the_enforced_ones() {
        let (_, api) = api().split_for_parts();
        let document = serde_json::to_value(vote_satellite_kit::openapi::document(&ABOUT, api)).unwrap();
        let results = &document["paths"]["/api/results"]["get"]["parameters"];
        let limit = results.as_array().unwrap().iter().find(|p| p["name"] == "limit").unwrap();
        assert_eq!(limit["schema"]["maximum"], json!(MAX_LIMIT));
        let offset = results.as_array().unwrap().iter().find(|p| p["name"] == "offset").unwrap();
        assert_eq!(offset["schema"]["maximum"], json!(MAX_OFFSET));
        for path in ["/api/results/{law_id}", "/api/receipts/{vote_hash}"] {
            assert_eq!(document["paths"][path]["get"]["parameters"][0]["schema"]["maxLength"], json!(MAX_ID_BYTES));
        }
    }
}
