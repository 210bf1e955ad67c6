//! The results service against the real servers: its API and its OpenAPI document, the page in a
//! browser and hostile requests; one test binary, `common` to start it.

mod api;
mod browser;
mod common;
mod hostile;
mod openapi;
