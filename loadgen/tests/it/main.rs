//! loadgen against the real servers: its command line, publishing and draining, the engine
//! validator and the database check; one test binary.

mod config;
mod engine_validator;
mod publish_drain;
mod verify_db;
