//! `vote-engine`: counts votes exactly once, fast.
//!
//! The modules follow the data: [`source`] (consume) -> [`decode`] -> [`batch`] -> [`store`]
//! -> [`ack`], driven by [`pipeline`] (a pure state machine and its I/O shell); refused
//! messages go to the dead-letter queue through `vote_mq::DeadLetterPublisher`. [`app`] wires
//! it together with [`config`] and [`metrics`]. [`recount`] checks the stored totals against
//! the audit rows.

pub mod ack;
pub mod app;
pub mod batch;
pub mod config;
pub mod decode;
pub mod metrics;
pub mod pipeline;
pub mod recount;
pub mod rule;
pub mod source;
pub mod store;

pub use app::Application;
pub use config::{Command, Settings};
