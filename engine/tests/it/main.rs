//! The engine against the real servers: the binary's start-up, the pipeline, the store's SQL and
//! the recount; one test binary, `common` to start an engine on a fresh database and queue.

mod common;
mod config;
mod pipeline;
mod recount;
mod store;
