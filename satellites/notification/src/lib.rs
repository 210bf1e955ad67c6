//! `vote-satellite-notification`: notifications over the broker, both sides.
//!
//! - [`service`]: the NotificationService. Stores notifications in PostgreSQL and serves
//!   `GET /notifications?user_id=`. Fed by the durable queue `notifications_queue` (plain JSON
//!   `{user_id, type, title, body, related_user_id?}` from any publisher, through the default
//!   exchange) and by its own copy of `inventory.reserved` (an order confirmation for the
//!   student).
//! - [`publish`]: [`publish_notification`], the publisher side any service calls.
//! - [`matchmaking`]: the matchmaking-service, a small publisher: accepting a trade offer
//!   notifies the user who made it.
//!
//! Shared parts: [`config`] (settings), [`domain`] (the notification, its checks, no I/O) and
//! [`store`] (the only SQL).
//!
//! Each binary serves its OpenAPI document at `GET /openapi.json`, built from the handlers'
//! `#[utoipa::path]` annotations (see the kit's `openapi` module); the tests check every answer
//! against it.

pub mod config;
pub mod domain;
pub mod matchmaking;
pub mod publish;
pub mod service;
pub mod store;

pub use publish::publish_notification;
pub use vote_satellite_kit::{Application, Error};
