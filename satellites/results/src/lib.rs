//! `vote-satellite-results`: the engine's totals for the public, read-only.
//!
//! - [`feed`]: one task reads what changed in `vote_results` per tick, keeps the [`snapshot`]
//!   every request reads, and broadcasts each change once to every stream listener;
//! - [`api`]: `GET /api/results`, `/api/results/{law_id}`, `/api/receipts/{vote_hash}`,
//!   `/api/stream` (Server-Sent Events) and the page `GET /`, served from the binary, each
//!   described in the OpenAPI document at `GET /openapi.json` (`answers`: its JSON shapes);
//! - [`app`]: the application (pool, feed, HTTP with `/metrics` `/healthz` `/readyz`);
//! - [`config`]: settings; [`metrics`]: the service's own metrics.

mod answers;
pub mod api;
pub mod app;
pub mod config;
pub mod feed;
pub mod metrics;
pub mod snapshot;

pub use app::Application;
