//! OrderService: orders over HTTP. Placing an order saves it `PLACED` and queues
//! `order.placed` in the same transaction (outbox), so the event exists exactly when the order
//! does; the relay publishes it with confirms right after the commit.
//!
//! - `POST /order` `{"item", "qty", "student_id"}` -> 201 order (`status: "PLACED"`); the
//!   caller orders in their own name (`student_id` is the token's subject)
//! - `GET /orders[?student_id=..&limit=..]` -> the newest orders (100 unless `limit`, at most
//!   1000); any authenticated caller
//! - `GET /orders/{id}` -> order; any authenticated caller
//! - `PATCH /orders/{id}/status` `{"status": "PLACED" | "RESERVED" | "FAILED"}` -> 200 order;
//!   the `order-callback` role only

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use deadpool_postgres::Pool;
use prometheus::{IntCounter, IntCounterVec};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;
use vote_satellite_kit::auth::{Caller, ORDER_CALLBACK_ROLE};
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::{limit_param, text_param};
use vote_satellite_kit::metrics::{counter, counter_vec};
use vote_satellite_kit::openapi::{About, ErrorBody};
use vote_satellite_kit::outbox::Outbox;
use vote_satellite_kit::path::{Id, Ids};
use vote_satellite_kit::{Application, Error, Service};

use crate::config::OrderSettings;
use crate::domain::{NewOrder, ORDER_PLACED, Order, OrderPlaced, OrderStatus, status_from_request};
use crate::store;

/// Metric: orders placed.
pub const ORDERS_PLACED_TOTAL: &str = "orders_placed_total";
/// Metric: order status changes by the new `status`.
pub const ORDER_STATUS_UPDATES_TOTAL: &str = "order_status_updates_total";
/// Orders `GET /orders` returns without a `limit`.
pub const DEFAULT_LIST_LIMIT: i64 = 100;
/// Most orders one `GET /orders` returns.
pub const MAX_LIST_LIMIT: i64 = 1000;

/// What the service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "order-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "Campus food orders: a signed-in student places an order in their own name; it is \
        saved `PLACED` and `order.placed` is published with it (transactional outbox). The \
        order-callback then sets it `RESERVED` or `FAILED`, as the inventory-service decided.",
};

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct OrderState {
    pool: Pool,
    outbox: Outbox,
    placed: IntCounter,
    status_updates: IntCounterVec,
}

/// `GET /orders` query string.
#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this student's orders (non-empty, at most 200 characters once trimmed).
    pub student_id: Option<String>,
    /// How many (newest first): 100 unless given.
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
}

impl OrderState {
    /// Saves the order `PLACED` and queues `order.placed`, in one transaction. The caller
    /// orders in their own name.
    pub async fn place(&self, caller: &Caller, body: &[u8]) -> Result<Order, Error> {
        let new = NewOrder::from_request(body)?;
        caller.require_subject("student_id", &new.student_id)?;
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        let order = store::insert_order(&tx, Uuid::new_v4(), &new).await?;
        let event = OrderPlaced {
            order_id: order.order_id.to_string(),
            item: order.item.clone(),
            qty: order.qty,
            student_id: Some(order.student_id.clone()),
        };
        self.outbox.add(&tx, ORDER_PLACED, event).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.placed.inc();
        tracing::info!(order_id = %order.order_id, item = %order.item, qty = order.qty, "order placed");
        Ok(order)
    }

    /// The newest orders, of one student when asked.
    pub async fn list(&self, query: &ListQuery) -> Result<Vec<Order>, Error> {
        let limit = limit_param(query.limit, DEFAULT_LIST_LIMIT, MAX_LIST_LIMIT)?;
        let student = text_param(query.student_id.as_deref(), "student_id")?;
        let client = self.pool.get().await?;
        store::list_orders(&client, student, limit).await
    }

    /// The order, or [`Error::NotFound`].
    pub async fn get(&self, id: Uuid) -> Result<Order, Error> {
        let client = self.pool.get().await?;
        store::get_order(&client, id).await?.ok_or_else(|| Error::NotFound(format!("order {id}")))
    }

    /// Sets the order's status (setting the status it has is a no-op that answers the same).
    pub async fn set_status(&self, id: Uuid, body: &[u8]) -> Result<Order, Error> {
        let status = status_from_request(body)?;
        let client = self.pool.get().await?;
        let order = store::set_order_status(&client, id, status)
            .await?
            .ok_or_else(|| Error::NotFound(format!("order {id}")))?;
        self.status_updates.with_label_values(&[status.as_str()]).inc();
        tracing::info!(order_id = %id, status = status.as_str(), "order status set");
        Ok(order)
    }
}

/// Builds the OrderService: prepares the database, connects the publisher (outbox relay) and
/// binds the HTTP port.
pub async fn build(settings: OrderSettings) -> Result<Application, Error> {
    let mut service = Service::build(&settings.service).await?;
    let pool = service.database(&settings.database, store::migrations(), store::MIGRATION_TABLE).await?;
    let outbox = service.outbox(&pool, &[ORDER_PLACED]);
    let placed = counter(service.registry(), ORDERS_PLACED_TOTAL, "Orders placed.")?;
    let status_updates =
        counter_vec(service.registry(), ORDER_STATUS_UPDATES_TOTAL, "Order status changes, by status.", &["status"])?;
    for status in OrderStatus::ALL {
        status_updates.with_label_values(&[status.as_str()]);
    }
    let state = OrderState { pool, outbox, placed, status_updates };
    Ok(service.with_api(&ABOUT, router(state)))
}

/// The API routes, each documented.
fn router(state: OrderState) -> OpenApiRouter {
    OpenApiRouter::new()
        .routes(routes!(place))
        .routes(routes!(list))
        .routes(routes!(show))
        .routes(routes!(set_status))
        .with_state(state)
}

// The body of `POST /order` as the document shows it; `NewOrder::from_request` reads and
// checks the bytes.
/// An order to place.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: the body is read by hand
struct PlaceOrder {
    /// What to order (trimmed; the inventory-service matches the name exactly).
    #[schema(min_length = 1, max_length = 200)]
    item: String,
    /// How many.
    #[schema(minimum = 1, maximum = 1000)]
    qty: i32,
    /// Who orders: the caller (the token's subject).
    #[schema(min_length = 1, max_length = 200)]
    student_id: String,
}

// The body of `PATCH /orders/{order_id}/status` as the document shows it; `status_from_request`
// reads and checks the bytes.
/// The status to set.
#[derive(ToSchema)]
#[allow(dead_code)]
struct StatusChange {
    /// `PLACED`, `RESERVED` or `FAILED`, in any case.
    #[schema(min_length = 1, max_length = 200, example = "RESERVED")]
    status: String,
}

/// Places an order in the caller's name.
///
/// The order is saved `PLACED` and `order.placed` is queued in the same transaction, so the
/// event exists exactly when the order does.
#[utoipa::path(post, path = "/order", tag = "orders", operation_id = "place_order", request_body = PlaceOrder,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The order, `PLACED`", body = Order),
        (status = 400, description = "The body is not an order: the answer names the field", body = ErrorBody),
        (status = 403, description = "`student_id` is not the caller", body = ErrorBody),
    ))]
async fn place(
    State(s): State<OrderState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.place(&caller, &body).await?)))
}

/// The newest orders, of one student when asked; any signed-in caller.
#[utoipa::path(get, path = "/orders", tag = "orders", operation_id = "list_orders", params(ListQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The orders, newest first", body = Vec<Order>),
        (status = 400, description = "A bad `limit` or `student_id`", body = ErrorBody),
    ))]
async fn list(
    State(s): State<OrderState>,
    _caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Order>>, ApiError> {
    Ok(Json(s.list(&query).await?))
}

/// One order; any signed-in caller.
#[utoipa::path(get, path = "/orders/{order_id}", tag = "orders", operation_id = "get_order",
    params(("order_id" = Uuid, Path, description = "The order")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The order", body = Order),
        (status = 400, description = "The order id is not a UUID", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
    ))]
async fn show(State(s): State<OrderState>, _caller: Caller, Ids([order]): Id) -> Result<Json<Order>, ApiError> {
    Ok(Json(s.get(order).await?))
}

/// Sets an order's status: the order-callback's account only.
///
/// Setting the status the order has changes nothing and answers the same, so a redelivered
/// inventory outcome is harmless.
#[utoipa::path(patch, path = "/orders/{order_id}/status", tag = "orders", operation_id = "set_order_status",
    request_body = StatusChange,
    params(("order_id" = Uuid, Path, description = "The order")),
    security(("bearer" = ["order-callback"])),
    responses(
        (status = 200, description = "The order, with its status set", body = Order),
        (status = 400, description = "The order id is not a UUID, or the body is not a known status", body = ErrorBody),
        (status = 403, description = "The caller lacks the `order-callback` role", body = ErrorBody),
        (status = 404, description = "No such order", body = ErrorBody),
    ))]
async fn set_status(
    State(s): State<OrderState>,
    caller: Caller,
    Ids([order]): Id,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    caller.require_role(ORDER_CALLBACK_ROLE)?;
    Ok(Json(s.set_status(order, &body).await?))
}
