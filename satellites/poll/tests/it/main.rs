//! The VotingService against the real servers: one test binary, a module per concern, and
//! `common` to start the service and call it.

mod api;
mod ballots;
mod close_bench;
mod common;
mod config;
mod events;
mod hostile;
mod openapi;
mod page;
mod results;
