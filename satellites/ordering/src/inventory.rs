//! InventoryService: consumes `order.placed` and reserves stock exactly once per order id.
//! The order is claimed in `processed_orders` in the transaction that changes the stock and
//! queues the outcome (outbox), so a redelivery after a crash, or the same order sent twice,
//! finds its claim and reserves nothing; the outcome event exists exactly when the change does.
//!
//! A message reusing a handled order id for another item or quantity is dead-lettered with the
//! reason, not counted as that order's duplicate.
//!
//! Outcomes: `inventory.reserved` (stock taken), or `inventory.failed` with a reason (an
//! unknown item, or not enough units: nothing is taken). A message that is not an order
//! (`OrderPlaced::decode`) goes to the dead-letter queue at once; a database failure is retried,
//! then dead-lettered.
//!
//! Stock over HTTP, so operators and tests can set it:
//! - `GET /stock` -> `[{"item", "quantity"}]`; `GET /stock/{item}` -> one item
//! - `PUT /stock/{item}` `{"quantity": n}` -> 200 `{"item", "quantity"}` (adds the item when
//!   new); the `inventory-manager` role only. Reading the stock is public.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use deadpool_postgres::Pool;
use prometheus::{IntCounter, IntCounterVec};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use vote_satellite_kit::auth::{Caller, INVENTORY_MANAGER_ROLE};
use vote_satellite_kit::http::ApiError;
use vote_satellite_kit::input::MAX_TEXT_CHARS;
use vote_satellite_kit::metrics::{counter, counter_vec};
use vote_satellite_kit::openapi::{About, ErrorBody};
use vote_satellite_kit::outbox::Outbox;
use vote_satellite_kit::{Application, Error, Service};

use crate::config::Settings;
use crate::domain::{
    INVENTORY_FAILED, INVENTORY_RESERVED, InventoryOutcome, OrderPlaced, StockLevel, quantity_from_request,
};
use crate::store;

/// Metric: orders handled, by `outcome` (`reserved` or `failed`).
pub const RESERVATIONS_TOTAL: &str = "inventory_reservations_total";
/// Metric: orders received again after they were handled (nothing reserved).
pub const DUPLICATE_ORDERS_TOTAL: &str = "inventory_duplicate_orders_total";

/// What the service's OpenAPI document says of it.
pub const ABOUT: About = About {
    title: "inventory-service",
    version: env!("CARGO_PKG_VERSION"),
    description: "Stock of the campus menu. Consumes `order.placed` and reserves an order's units \
        exactly once per order id, publishing `inventory.reserved` or `inventory.failed` (with \
        the reason). Anyone reads the stock over HTTP; an inventory manager sets it.",
};

/// What the event and HTTP handlers share.
#[derive(Clone)]
pub struct InventoryState {
    pool: Pool,
    outbox: Outbox,
    reservations: IntCounterVec,
    duplicates: IntCounter,
}

impl InventoryState {
    /// Reserves the order's stock once per order id and queues the outcome.
    pub async fn reserve(&self, order: OrderPlaced) -> Result<(), Error> {
        let mut client = self.pool.get().await?;
        let tx = client.transaction().await?;
        if !store::claim_order(&tx, &order).await? {
            // The same order again is a duplicate; another order under a handled id is refused,
            // never taken for the first one.
            if store::claimed_order(&tx, &order.order_id).await? != Some((order.item.clone(), order.qty)) {
                return Err(Error::Conflict(format!(
                    "order {} was handled already with another item or quantity",
                    order.order_id
                )));
            }
            self.duplicates.inc();
            tracing::info!(order_id = %order.order_id, "order handled before, nothing reserved");
            return Ok(());
        }
        let remaining = store::reserve_stock(&tx, &order.item, order.qty).await?;
        let reason = match remaining {
            Some(_) => None,
            None => Some(match store::get_stock(&tx, &order.item).await? {
                None => format!("unknown item '{}'", order.item),
                Some(level) => format!(
                    "insufficient stock for '{}': {} requested, {} available",
                    order.item, order.qty, level.quantity
                ),
            }),
        };
        let (event_type, outcome) =
            if reason.is_none() { (INVENTORY_RESERVED, "reserved") } else { (INVENTORY_FAILED, "failed") };
        store::record_outcome(&tx, &order.order_id, outcome, reason.as_deref()).await?;
        let event = InventoryOutcome {
            order_id: order.order_id.clone(),
            item: order.item.clone(),
            qty: order.qty,
            student_id: order.student_id.clone(),
            remaining,
            reason: reason.clone(),
        };
        self.outbox.add(&tx, event_type, event).await?;
        tx.commit().await?;
        self.outbox.wake();
        self.reservations.with_label_values(&[outcome]).inc();
        tracing::info!(order_id = %order.order_id, item = %order.item, qty = order.qty, outcome, reason, "order handled");
        Ok(())
    }

    /// Every item's stock.
    pub async fn stock(&self) -> Result<Vec<StockLevel>, Error> {
        store::list_stock(&self.pool.get().await?).await
    }

    /// One item's stock, or [`Error::NotFound`].
    pub async fn item_stock(&self, item: &str) -> Result<StockLevel, Error> {
        let item = item_name(item)?;
        store::get_stock(&self.pool.get().await?, &item).await?.ok_or_else(|| Error::NotFound(format!("item '{item}'")))
    }

    /// Sets one item's stock from `{"quantity": n}`.
    pub async fn set_stock(&self, item: &str, body: &[u8]) -> Result<StockLevel, Error> {
        let item = item_name(item)?;
        let quantity = quantity_from_request(body)?;
        let level = store::set_stock(&self.pool.get().await?, &item, quantity).await?;
        tracing::info!(item = %level.item, quantity, "stock set");
        Ok(level)
    }
}

/// An item name from the path: non-empty, at most [`MAX_TEXT_CHARS`] characters.
fn item_name(item: &str) -> Result<String, Error> {
    let item = item.trim();
    if item.is_empty() || item.chars().count() > MAX_TEXT_CHARS {
        return Err(Error::Invalid(format!("item name must be non-empty and at most {MAX_TEXT_CHARS} characters")));
    }
    Ok(item.to_owned())
}

/// Builds the InventoryService: prepares the database, connects to the broker, subscribes to
/// `order.placed` and binds the HTTP port.
pub async fn build(settings: Settings) -> Result<Application, Error> {
    let mut service = Service::build(&settings.service).await?;
    let pool = service.database(&settings.database, store::migrations(), store::MIGRATION_TABLE).await?;
    let outbox = service.outbox(&pool, &[INVENTORY_RESERVED, INVENTORY_FAILED]);
    let reservations =
        counter_vec(service.registry(), RESERVATIONS_TOTAL, "Orders handled, by outcome.", &["outcome"])?;
    for outcome in ["reserved", "failed"] {
        reservations.with_label_values(&[outcome]);
    }
    let duplicates =
        counter(service.registry(), DUPLICATE_ORDERS_TOTAL, "Orders received again after they were handled.")?;
    let state = InventoryState { pool, outbox, reservations, duplicates };
    service.consume_with(&settings.queue, state.clone(), OrderPlaced::decode, |state, order| async move {
        state.reserve(order).await
    });
    Ok(service.with_api(&ABOUT, router(state)))
}

/// The API routes, each documented.
fn router(state: InventoryState) -> OpenApiRouter {
    OpenApiRouter::new().routes(routes!(list_stock)).routes(routes!(show_stock, set_stock)).with_state(state)
}

// The body of `PUT /stock/{item}` as the document shows it; `quantity_from_request` reads and
// checks the bytes.
/// The stock to set.
#[derive(ToSchema)]
#[allow(dead_code)] // described, never built: the body is read by hand
struct SetStock {
    /// Units available from now on.
    #[schema(minimum = 0, maximum = 1_000_000)]
    quantity: i32,
}

/// Every item's stock, by name; public.
#[utoipa::path(get, path = "/stock", tag = "stock", operation_id = "list_stock",
    responses((status = 200, description = "Every item, by name", body = Vec<StockLevel>)))]
async fn list_stock(State(s): State<InventoryState>) -> Result<Json<Vec<StockLevel>>, ApiError> {
    Ok(Json(s.stock().await?))
}

/// One item's stock; public.
#[utoipa::path(get, path = "/stock/{item}", tag = "stock", operation_id = "get_stock",
    params(("item" = String, Path, description = "The item's name (matched exactly once trimmed)")),
    responses(
        (status = 200, description = "The item's stock", body = StockLevel),
        (status = 400, description = "The item name is blank or longer than 200 characters", body = ErrorBody),
        (status = 404, description = "No such item", body = ErrorBody),
    ))]
async fn show_stock(State(s): State<InventoryState>, Path(item): Path<String>) -> Result<Json<StockLevel>, ApiError> {
    Ok(Json(s.item_stock(&item).await?))
}

/// Sets one item's stock, adding the item when new: an inventory manager only.
#[utoipa::path(put, path = "/stock/{item}", tag = "stock", operation_id = "set_stock", request_body = SetStock,
    params(("item" = String, Path, description = "The item's name (trimmed)")),
    security(("bearer" = ["inventory-manager"])),
    responses(
        (status = 200, description = "The item's stock, as set", body = StockLevel),
        (status = 400, description = "The item name is blank or longer than 200 characters, or the body is not \
            `{\"quantity\": 0..1000000}`", body = ErrorBody),
        (status = 403, description = "The caller lacks the `inventory-manager` role", body = ErrorBody),
    ))]
async fn set_stock(
    State(s): State<InventoryState>,
    caller: Caller,
    Path(item): Path<String>,
    body: Bytes,
) -> Result<Json<StockLevel>, ApiError> {
    caller.require_role(INVENTORY_MANAGER_ROLE)?;
    Ok(Json(s.set_stock(&item, &body).await?))
}
