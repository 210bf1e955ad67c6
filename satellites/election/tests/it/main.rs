//! The meeting and election services against the real servers, alone and chained with the poll-
//! service; one test binary, `common` to start them.

mod attacks;
mod chain;
mod common;
mod config;
mod election;
mod hostile;
mod meeting;
mod openapi;
mod results;
