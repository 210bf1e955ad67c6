//! The order and inventory services against the real servers; one test binary, `common` to start
//! them.

mod api;
mod common;
mod config;
mod flow;
mod hostile;
mod openapi;
