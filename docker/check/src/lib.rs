//! `vote-opskit`: what the tests of the operator kit in `docker/` need to hold the kit against
//! the workspace. No container engine runs where the tests run, so the kit is checked against
//! the real binaries instead: the binaries cargo builds and the environment variables each one
//! accepts (`binaries`), the metric names a PromQL expression reads and the names a `/metrics`
//! page exports (`metrics`), and loaders for the compose file, the Kubernetes manifests, the
//! Prometheus rules, the Grafana dashboard and the Dockerfile (`kit`).

pub mod binaries;
pub mod kit;
pub mod metrics;

use std::path::PathBuf;

/// What can go wrong while reading the kit or asking cargo and the binaries.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file of the kit could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A file or a command's output is not what it should be.
    #[error("{what}: {message}")]
    Parse {
        /// What was parsed (a file, an expression, a command's output).
        what: String,
        /// The parser's complaint.
        message: String,
    },
    /// A command (cargo, a binary's `--help`) could not run or failed.
    #[error("`{command}` failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// Its error, or the end of its standard error.
        message: String,
    },
}

impl Error {
    pub(crate) fn parse(what: impl Into<String>, message: impl std::fmt::Display) -> Self {
        Self::Parse { what: what.into(), message: message.to_string() }
    }
}
