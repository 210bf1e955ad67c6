//! `vote-satellite-ordering`: campus food ordering over the broker, three services over one
//! schema.
//!
//! - [`order`]: OrderService. `POST /order` saves an order `PLACED` and queues `order.placed`
//!   in the same transaction (outbox); `GET /orders`, `GET /orders/{id}`,
//!   `PATCH /orders/{id}/status`.
//! - [`inventory`]: InventoryService. Consumes `order.placed` (queue `order_placed`, dead
//!   letters in `order_placed_dlq`), reserves stock once per order id, and queues
//!   `inventory.reserved` or `inventory.failed` in the same transaction; stock over HTTP.
//! - [`callback`]: the order callback. Consumes `inventory.reserved` / `inventory.failed` and
//!   sets the order's status through the OrderService's `PATCH` endpoint.
//!
//! Shared parts: [`config`] (settings), [`domain`] (validation, event payloads, no I/O) and
//! [`store`] (the only SQL).
//!
//! Each binary serves its OpenAPI document at `GET /openapi.json`, built from the handlers'
//! `#[utoipa::path]` annotations (see the kit's `openapi` module); the tests check every answer
//! against it.

pub mod callback;
pub mod config;
pub mod domain;
pub mod inventory;
pub mod order;
pub mod store;

pub use vote_satellite_kit::{Application, Error};
