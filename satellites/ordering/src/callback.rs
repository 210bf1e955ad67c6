//! The order callback: consumes `inventory.reserved` and `inventory.failed` and sets the order
//! to `RESERVED` or `FAILED` with `PATCH <ORDER_SERVICE_URL>/orders/{id}/status`. Setting a
//! status is idempotent, so a redelivered event changes nothing.
//!
//! It authenticates with the token in ORDER_SERVICE_TOKEN_FILE (the `order-callback` role),
//! read at every call so that a renewed token is picked up.
//!
//! An OrderService that cannot be reached, times out or answers 5xx / 408 / 429, or refuses the
//! token (401 / 403: an expired or not yet renewed token), is a retriable failure (retried,
//! then dead-lettered); a 404 or another 4xx, or an event without a valid order id, is
//! dead-lettered at once.

use std::time::Duration;

use axum::http::StatusCode;
use prometheus::IntCounterVec;
use serde::Deserialize;
use serde_json::json;
use vote_mq::Envelope;
use vote_satellite_kit::input::{event_data, parse_id};
use vote_satellite_kit::metrics::counter_vec;
use vote_satellite_kit::openapi::{About, OpenApiRouter};
use vote_satellite_kit::{Application, Error, Service};

use crate::config::CallbackSettings;
use crate::domain::{INVENTORY_FAILED, INVENTORY_RESERVED, OrderStatus};

/// Metric: order statuses set through the OrderService, by `status`.
pub const CALLBACK_UPDATES_TOTAL: &str = "order_callback_updates_total";
/// Longest wait for the OrderService to answer one request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);

/// What the service's OpenAPI document says of it: only the ops endpoints, it has no API.
pub const ABOUT: About = About {
    title: "order-callback",
    version: env!("CARGO_PKG_VERSION"),
    description: "Consumes `inventory.reserved` and `inventory.failed` and sets the order's status \
        to `RESERVED` or `FAILED` at the order-service. It serves no API of its own: only the \
        ops endpoints (liveness, readiness, metrics).",
};

/// The part of `inventory.*` data the callback reads.
#[derive(Debug, Clone, Deserialize)]
struct OrderRef {
    order_id: String,
}

/// What the event handler needs.
#[derive(Clone)]
pub struct CallbackState {
    http: reqwest::Client,
    order_service_url: String,
    token_file: Option<std::path::PathBuf>,
    updates: IntCounterVec,
}

impl CallbackState {
    /// Sets the order's status from an inventory outcome; other events are acknowledged and
    /// ignored.
    pub async fn handle_event(&self, event: Envelope) -> Result<(), Error> {
        let status = match event.event_type.as_str() {
            INVENTORY_RESERVED => OrderStatus::Reserved,
            INVENTORY_FAILED => OrderStatus::Failed,
            other => {
                tracing::debug!(event_type = other, "ignoring event");
                return Ok(());
            }
        };
        let data: OrderRef = event_data(&event.event_type, event.data)?;
        // Only OrderService ids (UUIDs) can name an order there, and they are safe in a path.
        let order_id = parse_id(&data.order_id, "order")?;
        let url = format!("{}/orders/{order_id}/status", self.order_service_url);
        let mut request = self.http.patch(&url).json(&json!({"status": status.as_str()}));
        if let Some(file) = &self.token_file {
            let token = std::fs::read_to_string(file).map_err(|e| {
                Error::Unavailable(format!("ORDER_SERVICE_TOKEN_FILE {}: cannot read: {e}", file.display()))
            })?;
            request = request.bearer_auth(token.trim());
        }
        let response =
            request.send().await.map_err(|e| Error::Unavailable(format!("order-service: {}", e.without_url())))?;
        let code = response.status();
        if code.is_success() {
            self.updates.with_label_values(&[status.as_str()]).inc();
            tracing::info!(%order_id, status = status.as_str(), "order status set");
            return Ok(());
        }
        let detail = response.text().await.unwrap_or_default();
        let detail: String = detail.chars().take(200).collect();
        match code {
            StatusCode::NOT_FOUND => Err(Error::NotFound(format!("order {order_id} at the order-service"))),
            StatusCode::REQUEST_TIMEOUT | StatusCode::TOO_MANY_REQUESTS => {
                Err(Error::Unavailable(format!("order-service answered {code}")))
            }
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => {
                Err(Error::Unavailable(format!("order-service refused the callback's token ({code}): {detail}")))
            }
            c if c.is_server_error() => Err(Error::Unavailable(format!("order-service answered {code}: {detail}"))),
            _ => Err(Error::Invalid(format!("order-service refused the update ({code}): {detail}"))),
        }
    }
}

/// Builds the order callback: connects to the broker, subscribes to the inventory outcomes and
/// binds the HTTP port (ops endpoints only).
pub async fn build(settings: CallbackSettings) -> Result<Application, Error> {
    let mut service = Service::build(&settings.service).await?;
    let http = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .build()
        .map_err(|e| Error::Unavailable(format!("HTTP client: {e}")))?;
    let updates =
        counter_vec(service.registry(), CALLBACK_UPDATES_TOTAL, "Order statuses set, by status.", &["status"])?;
    for status in [OrderStatus::Reserved, OrderStatus::Failed] {
        updates.with_label_values(&[status.as_str()]);
    }
    let state = CallbackState {
        http,
        order_service_url: settings.order_service_url.clone(),
        token_file: settings.order_service_token_file.clone(),
        updates,
    };
    service.consume(&settings.queue, state, |state, event| async move { state.handle_event(event).await });
    Ok(service.with_api(&ABOUT, OpenApiRouter::new()))
}
