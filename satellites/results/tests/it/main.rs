//! The results service against the real servers: its API, the page in a browser and hostile
//! requests; one test binary, `common` to start it.

mod api;
mod browser;
mod common;
mod hostile;
