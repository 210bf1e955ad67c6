//! `vote-satellite-poll`: the VotingService.
//!
//! A poll is created by `POST /polls/` or by a `voting.create` event; both paths call
//! [`store::create_poll`]. `POST /polls/<uuid>/close` closes it and publishes
//! `voting.completed`. Both need the meeting's manager role ([`managers`], which also records
//! the managers granted by `meeting.created`). Modules follow a request: [`config`] -> [`app`] (wiring on the
//! satellite kit) -> [`routes`] (HTTP) or [`events`] (broker) -> [`polls`] (each operation,
//! one path for both) -> [`domain`] (validation) -> [`store`] (the only SQL).

pub mod app;
pub mod ballot;
pub mod config;
pub mod cvr;
pub mod domain;
pub mod events;
pub mod managers;
pub mod polls;
pub mod results;
pub mod routes;
pub mod store;
pub mod tabulate;
pub mod tally;

pub use app::build;
pub use vote_satellite_kit::{Application, Error};
