//! `vote-intake`: the citizens' front door. A vote arrives over HTTP with a bearer token (the
//! citizen is the token's subject), becomes the engine's vote, travels with others in a
//! `vote.batch` message, and is acknowledged (202 with its receipt) only once the broker
//! confirmed that message.
//!
//! - [`config`], the settings;
//! - [`receipt`]: receipts, an HMAC of the vote under the intake's key;
//! - [`vote`]: a request's vote as the engine's vote, checked by the engine's decoder;
//! - [`batch`] and [`link`]: the pure parts of publishing (grouping, and whether the broker is
//!   taking votes); [`send`]: the shell that publishes and answers;
//! - [`limit`]: per-caller request limits;
//! - [`routes`]: the API, documented in the OpenAPI document served at `GET /openapi.json`
//!   (`answers`: the shapes of its JSON answers); [`app`]: the wiring; [`metrics`].

mod answers;
pub mod app;
pub mod batch;
pub mod config;
pub mod limit;
pub mod link;
pub mod metrics;
pub mod receipt;
pub mod routes;
pub mod send;
pub mod vote;

pub use app::Application;
