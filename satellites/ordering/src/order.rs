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

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::routing::{get, patch, post};
use axum::{Json, Router};
use deadpool_postgres::Pool;
use prometheus::{IntCounter, IntCounterVec};
use serde::Deserialize;
use uuid::Uuid;
use vote_satellite_kit::auth::{Caller, ORDER_CALLBACK_ROLE};
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::{limit_param, text_param};
use vote_satellite_kit::metrics::{counter, counter_vec};
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

/// What the HTTP handlers share.
#[derive(Clone)]
pub struct OrderState {
    pool: Pool,
    outbox: Outbox,
    placed: IntCounter,
    status_updates: IntCounterVec,
}

/// `GET /orders` query string.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ListQuery {
    /// Only this student's orders.
    pub student_id: Option<String>,
    /// How many (newest first).
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
    let api = Router::new()
        .route("/order", post(place))
        .route("/orders", get(list))
        .route("/orders/{order_id}", get(show))
        .route("/orders/{order_id}/status", patch(set_status))
        .with_state(state);
    Ok(service.with_api(api))
}

async fn place(
    State(s): State<OrderState>,
    caller: Caller,
    body: Bytes,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    Ok((StatusCode::CREATED, Json(s.place(&caller, &body).await?)))
}

async fn list(
    State(s): State<OrderState>,
    _caller: Caller,
    Query(query): Query<ListQuery>,
) -> Result<Json<Vec<Order>>, ApiError> {
    Ok(Json(s.list(&query).await?))
}

async fn show(State(s): State<OrderState>, _caller: Caller, Ids([order]): Id) -> Result<Json<Order>, ApiError> {
    Ok(Json(s.get(order).await?))
}

async fn set_status(
    State(s): State<OrderState>,
    caller: Caller,
    Ids([order]): Id,
    body: Bytes,
) -> Result<Json<Order>, ApiError> {
    caller.require_role(ORDER_CALLBACK_ROLE)?;
    Ok(Json(s.set_status(order, &body).await?))
}
