//! NotificationService: stores notifications and serves them.
//!
//! - `notifications_queue` (NOTIFICATIONS_QUEUE): plain JSON notifications from any publisher.
//!   Each is stored once: keyed by its message id, or by a hash of its body when it has none.
//!   An invalid message is dead-lettered at once with its reason; a failing store is retried,
//!   then dead-lettered.
//! - its own queue (MQ_QUEUE, bound to `inventory.reserved`): an order confirmation for the
//!   student, once per order.
//! - `GET /notifications[?user_id=..&limit=..]` -> the caller's newest notifications (100
//!   unless `limit`, at most 1000); `user_id`, when given, must be the caller.

use axum::Json;
use axum::extract::{Query, State};
use deadpool_postgres::Pool;
use prometheus::{IntCounter, IntCounterVec};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vote_mq::Envelope;
use vote_satellite_kit::auth::Caller;
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::{event_data, limit_param, text_param};
use vote_satellite_kit::metrics::{counter, counter_vec};
use vote_satellite_kit::openapi::{About, ErrorBody};
use vote_satellite_kit::{Application, Error, Service};

use crate::config::NotificationSettings;
use crate::domain::{DedupKey, INVENTORY_RESERVED, Notification, OrderReserved, Received, StoredNotification};
use crate::store;

/// Metric: notifications stored, by `source` (`queue` or `order`).
pub const NOTIFICATIONS_STORED_TOTAL: &str = "notifications_stored_total";
/// Metric: messages whose notification was stored already (redeliveries).
pub const NOTIFICATION_DUPLICATES_TOTAL: &str = "notification_duplicates_total";
/// Notifications `GET /notifications` returns without a `limit`.
pub const DEFAULT_LIST_LIMIT: i64 = 100;
/// Most notifications one `GET /notifications` returns.
pub const MAX_LIST_LIMIT: i64 = 1000;

/// What the service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "notification-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "Notifications for users, each stored once: taken from the durable \
        `notifications_queue` (plain JSON from any publisher, such as the matchmaking-service) \
        and from `inventory.reserved` (an order confirmation for the student). A signed-in \
        user reads their own, newest first.",
};

/// `GET /notifications` query string.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this user's notifications: the caller, who is the default (non-empty, at most 200
    /// characters once trimmed).
    pub user_id: Option<String>,
    /// How many (newest first): 100 unless given.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

/// What the consumers and the HTTP handler share.
#[derive(Clone)]
pub struct NotificationState {
    pool: Pool,
    stored: IntCounterVec,
    duplicates: IntCounter,
}

impl NotificationState {
    /// Stores a notification from the queue (once per key).
    pub async fn store_received(&self, received: Received) -> Result<(), Error> {
        self.store(&received.notification, &received.key, "queue").await
    }

    /// Handles one event of the events queue: `inventory.reserved` confirms the order to the
    /// student (once per order). Other events are acknowledged and ignored.
    pub async fn handle_event(&self, event: Envelope) -> Result<(), Error> {
        if event.event_type != INVENTORY_RESERVED {
            tracing::debug!(event_type = %event.event_type, "ignoring event");
            return Ok(());
        }
        let order: OrderReserved = event_data(&event.event_type, event.data)?;
        let confirmation = order.confirmation()?;
        self.store(&confirmation, &DedupKey::OrderConfirmed(order.order_id.clone()), "order").await
    }

    async fn store(&self, notification: &Notification, key: &DedupKey, source: &str) -> Result<(), Error> {
        let client = self.pool.get().await?;
        if store::insert_notification(&client, notification, key).await? {
            self.stored.with_label_values(&[source]).inc();
            tracing::info!(user_id = %notification.user_id, kind = %notification.kind, source, "notification stored");
        } else {
            self.duplicates.inc();
            tracing::info!(user_id = %notification.user_id, source, "notification stored before");
        }
        Ok(())
    }

    /// The caller's newest notifications (`user_id`, when asked, must be the caller).
    pub async fn list(&self, caller: &Caller, query: &ListQuery) -> Result<Vec<StoredNotification>, Error> {
        let limit = limit_param(query.limit, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
        let user = text_param(query.user_id.as_deref(), "user_id")?.unwrap_or(caller.subject());
        caller.require_subject("user_id", user)?;
        store::list_notifications(&self.pool.get().await?, Some(user), limit).await
    }
}

/// Builds the NotificationService: prepares the database, connects to the broker, subscribes
/// to both queues and binds the HTTP port.
pub async fn build(settings: NotificationSettings) -> Result<Application, Error> {
    let mut service = Service::build(&settings.service).await?;
    let pool = service.database(&settings.database, store::migrations(), store::MIGRATION_TABLE).await?;
    let stored =
        counter_vec(service.registry(), NOTIFICATIONS_STORED_TOTAL, "Notifications stored, by source.", &["source"])?;
    for source in ["queue", "order"] {
        stored.with_label_values(&[source]);
    }
    let duplicates =
        counter(service.registry(), NOTIFICATION_DUPLICATES_TOTAL, "Messages whose notification was stored already.")?;
    let state = NotificationState { pool, stored, duplicates };
    service.consume_with(&settings.notifications, state.clone(), Received::decode, |state, received| async move {
        state.store_received(received).await
    });
    service.consume(&settings.events, state.clone(), |state, event| async move { state.handle_event(event).await });
    Ok(service.with_api(&ABOUT, router(state)))
}

/// The API routes, each documented.
fn router(state: NotificationState) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(list)).with_state(state)
}

/// The caller's newest notifications.
#[utoipa::path(get, path = "/notifications", tag = "notifications", operation_id = "list_notifications",
    params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller's notifications, newest first", body = Vec<StoredNotification>),
        (status = 400, description = "A bad `limit` or `user_id`", body = ErrorBody),
        (status = 403, description = "`user_id` is not the caller", body = ErrorBody),
    ))]
async fn list(
    State(s): State<NotificationState>,
    caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<StoredNotification>>, ApiError> {
    Ok(Json(s.list(&caller, &query).await?))
}
