//! matchmaking-service: the publisher side of the matchmaking -> notifications flow. Accepting
//! a trade offer notifies the user who made it, through [`publish_notification`]: the answer
//! comes once the broker has confirmed the notification, which then waits in the durable
//! notifications queue until the NotificationService takes it. The queue is declared at start
//! (with the consumer's arguments), so nothing is lost before the NotificationService first
//! runs.
//!
//! - `POST /trades/{trade_id}/accept` `{"user_id": <who made the offer>, "accepted_by": <who
//!   accepts: the caller>}` -> 202 `{"trade_id", "notified_user_id", "message_id"}`

use std::sync::Arc;

use vote_satellite_kit::auth::Caller;

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use prometheus::IntCounter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vote_mq::{Publisher, declare_topology};
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::{MAX_TEXT_CHARS, json_object, text_field};
use vote_satellite_kit::metrics::counter;
use vote_satellite_kit::openapi::{About, ErrorBody};
use vote_satellite_kit::{Application, Error, Service};

use crate::config::MatchmakingSettings;
use crate::domain::Notification;
use crate::publish_notification;

/// Metric: notifications published (and confirmed).
pub const NOTIFICATIONS_PUBLISHED_TOTAL: &str = "notifications_published_total";
/// `type` of the notification sent when a trade offer is accepted.
pub const TRADE_OFFER_ACCEPTED: &str = "trade_offer_accepted";

/// What the service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "matchmaking-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "Trade offers between users: accepting one notifies the user who made it, \
        through the durable notifications queue. The answer comes once the broker has confirmed \
        the notification; the notification-service then stores and serves it.",
};

/// What `POST /trades/{trade_id}/accept` answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Accepted {
    /// The trade offer.
    pub trade_id: String,
    /// Who was notified (the user who made the offer).
    pub notified_user_id: String,
    /// The notification's message id.
    pub message_id: Uuid,
}

/// What the HTTP handler needs.
#[derive(Clone)]
pub struct MatchmakingState {
    publisher: Arc<Publisher>,
    queue: String,
    published: IntCounter,
}

impl MatchmakingState {
    /// Accepts a trade offer: notifies its maker that `accepted_by` (the caller) accepted it.
    pub async fn accept(&self, caller: &Caller, trade_id: &str, body: &[u8]) -> Result<Accepted, Error> {
        let trade_id = trade_id.trim();
        if trade_id.is_empty() || trade_id.chars().count() > MAX_TEXT_CHARS {
            return Err(Error::Invalid(format!("trade id must be non-empty and at most {MAX_TEXT_CHARS} characters")));
        }
        let body = json_object(body)?;
        let user_id = text_field(&body, "user_id")?;
        let accepted_by = text_field(&body, "accepted_by")?;
        caller.require_subject("accepted_by", &accepted_by)?;
        if user_id == accepted_by {
            return Err(Error::Invalid("a user cannot accept their own trade offer".to_owned()));
        }
        let notification = Notification {
            user_id: user_id.clone(),
            kind: TRADE_OFFER_ACCEPTED.to_owned(),
            title: "Trade Offer Accepted!".to_owned(),
            body: format!("Your trade offer {trade_id} has been accepted by {accepted_by}."),
            related_user_id: Some(accepted_by),
        };
        let message_id = publish_notification(&self.publisher, &self.queue, &notification).await?;
        self.published.inc();
        Ok(Accepted { trade_id: trade_id.to_owned(), notified_user_id: user_id, message_id })
    }
}

/// Builds the matchmaking-service: connects the publisher, declares the notifications queue
/// and binds the HTTP port.
pub async fn build(settings: MatchmakingSettings) -> Result<Application, Error> {
    let service = Service::build(&settings.service).await?;
    let queue = settings.notifications.subscription(&settings.service, &settings.service.service_name);
    declare_topology(&settings.service.amqp_url, &queue).await?;
    let published =
        counter(service.registry(), NOTIFICATIONS_PUBLISHED_TOTAL, "Notifications published with a broker confirm.")?;
    let state =
        MatchmakingState { publisher: service.publisher(), queue: settings.notifications.queue.clone(), published };
    Ok(service.with_api(&ABOUT, router(state)))
}

/// The API routes, each documented.
fn router(state: MatchmakingState) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(accept)).with_state(state)
}

// The body of `POST /trades/{trade_id}/accept` as the document shows it;
// `MatchmakingState::accept` reads and checks the bytes.
/// The acceptance of a trade offer.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: the body is read by hand
struct AcceptTrade {
    /// Who made the offer: the user to notify (not the caller).
    #[schema(min_length = 1, max_length = 200)]
    user_id: String,
    /// Who accepts it: the caller (the token's subject).
    #[schema(min_length = 1, max_length = 200)]
    accepted_by: String,
}

/// Accepts a trade offer in the caller's name and notifies the user who made it.
///
/// The answer comes once the broker has confirmed the notification: it then waits in the
/// durable notifications queue until the notification-service stores it.
#[utoipa::path(post, path = "/trades/{trade_id}/accept", tag = "trades", operation_id = "accept_trade",
    request_body = AcceptTrade,
    params(("trade_id" = String, Path, description = "The trade offer (non-empty, at most 200 characters once trimmed)")),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Accepted; the notification is queued for its user", body = Accepted),
        (status = 400, description = "A blank or too long trade id, a body that is not `{user_id, accepted_by}`, \
            or a user accepting their own offer", body = ErrorBody),
        (status = 403, description = "`accepted_by` is not the caller", body = ErrorBody),
        (status = 503, description = "The broker did not confirm the notification (in time); try again", body = ErrorBody),
    ))]
async fn accept(
    State(s): State<MatchmakingState>,
    caller: Caller,
    Path(trade_id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<Accepted>), ApiError> {
    Ok((StatusCode::ACCEPTED, Json(s.accept(&caller, &trade_id, &body).await?)))
}
