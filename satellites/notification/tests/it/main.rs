//! The notification and matchmaking services against the real servers; one test binary, `common` to
//! start them.

mod common;
mod config;
mod hostile;
mod matchmaking;
mod notifications;
mod openapi;
mod order_flow;
