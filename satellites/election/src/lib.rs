//! `vote-satellite-election`: two services over one schema.
//!
//! - [`meeting`]: MeetingService. HTTP API for meetings and their election agenda items;
//!   publishes `meeting.created`, `agenda.election.create`, `agenda.election.start`; consumes
//!   `meeting.created` to grant the creator the manager role.
//! - [`election`]: ElectionService. Consumes `agenda.election.*` (create opens nominations,
//!   start closes them and publishes `voting.create` with the nominees as options) and
//!   `voting.completed` (finalizes the election); HTTP API to nominate and to read elections.
//!
//! Shared parts: [`config`] (settings), [`service`] (database and outbox on the satellite
//! kit), [`domain`] (event payloads, views) and [`store`] (the only SQL).

pub mod config;
pub mod domain;
pub mod election;
pub mod meeting;
pub mod page;
pub mod service;
pub mod store;

pub use vote_satellite_kit::Error;
