//! Settings: one environment variable per knob, each with a CLI flag; a bad value is one line
//! naming the variable (exit code 2). The service reads the engine's database and nothing else:
//! it consumes no queue and needs no broker.

use std::ffi::OsString;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use vote_runtime::cli::{self, Exit};
use vote_runtime::logging::{LogFormat, parse_filter};
use vote_runtime::postgres::DbTarget;
use vote_satellite_kit::config::ConfigError;

/// Shortest and longest RESULTS_POLL_INTERVAL_MS accepted.
const POLL_INTERVAL_MS: std::ops::RangeInclusive<u64> = 50..=10_000;

/// Settings as given.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "results-service",
    version,
    about = "Results service: live totals, results page, stream and receipts."
)]
pub struct Args {
    /// PostgreSQL URL of the engine's database (read only: SELECT on the engine's tables is
    /// enough, see sql/roles/results_role.sql).
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", hide_env_values = true)]
    #[arg(default_value = "postgres://postgres@127.0.0.1:5432/election_votes")]
    pub database_url: String,
    /// Database connections (receipts and the change feed share them).
    #[arg(long, env = "POSTGRES_MAX_CONNECTIONS", value_name = "POSTGRES_MAX_CONNECTIONS", default_value_t = 8)]
    pub postgres_max_connections: usize,
    /// How often the change feed looks for new totals, in milliseconds: the most a change waits
    /// before the page and the stream show it.
    #[arg(long, env = "RESULTS_POLL_INTERVAL_MS", value_name = "RESULTS_POLL_INTERVAL_MS", default_value_t = 500)]
    pub results_poll_interval_ms: u64,
    /// Port of the page, the API and /metrics, /healthz, /readyz.
    #[arg(long, env = "HTTP_PORT", value_name = "HTTP_PORT", default_value_t = 5020)]
    pub http_port: u16,
    /// Log level (`info`, `debug`, ...) or a full filter.
    #[arg(long, env = "LOG_LEVEL", value_name = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// `json` (one object per line) or `text`.
    #[arg(long, env = "LOG_FORMAT", value_name = "LOG_FORMAT", default_value = "json")]
    pub log_format: String,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The engine's database.
    pub database: DbTarget,
    /// Pool size.
    pub max_connections: usize,
    /// Change feed period.
    pub poll_interval: Duration,
    /// HTTP port (0 picks a free one).
    pub http_port: u16,
    /// LOG_LEVEL, checked to parse.
    pub log_level: String,
    /// Log line format.
    pub log_format: LogFormat,
}

impl Args {
    /// Checks every value; the first problem names its variable.
    pub fn validate(self) -> Result<Settings, ConfigError> {
        let database =
            DbTarget::parse(&self.database_url).map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?;
        if self.postgres_max_connections == 0 {
            return Err(ConfigError::new("POSTGRES_MAX_CONNECTIONS", "must be at least 1"));
        }
        if !POLL_INTERVAL_MS.contains(&self.results_poll_interval_ms) {
            return Err(ConfigError::new(
                "RESULTS_POLL_INTERVAL_MS",
                format!("must be from {} to {}", POLL_INTERVAL_MS.start(), POLL_INTERVAL_MS.end()),
            ));
        }
        parse_filter(&self.log_level).map_err(|e| ConfigError::new("LOG_LEVEL", e))?;
        let log_format = self.log_format.parse().map_err(|e: String| ConfigError::new("LOG_FORMAT", e))?;
        Ok(Settings {
            database,
            max_connections: self.postgres_max_connections,
            poll_interval: Duration::from_millis(self.results_poll_interval_ms),
            http_port: self.http_port,
            log_level: self.log_level,
            log_format,
        })
    }
}

/// Parses the command line and environment into validated settings; `Err` says what to print
/// and the exit code (0 for `--help` / `--version`, 2 for a bad value).
pub fn parse_cli<I, T>(args: I) -> Result<Settings, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let raw: Args = cli::parse(Args::command(), args)?;
    raw.validate().map_err(Exit::invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Settings, Exit> {
        parse_cli(std::iter::once("results-service").chain(args.iter().copied()))
    }

    #[test]
    fn defaults() {
        let s = parse(&[]).unwrap();
        assert_eq!((s.http_port, s.max_connections), (5020, 8));
        assert_eq!(s.poll_interval, Duration::from_millis(500));
        assert_eq!(s.database.dbname(), "election_votes");
    }

    #[test]
    fn bad_values_give_one_line_naming_the_variable() {
        for (args, variable) in [
            (vec!["--http-port", "abc"], "HTTP_PORT"),
            (vec!["--database-url", "postgres://u:secret@db:notaport/x"], "DATABASE_URL"),
            (vec!["--postgres-max-connections", "0"], "POSTGRES_MAX_CONNECTIONS"),
            (vec!["--results-poll-interval-ms", "10"], "RESULTS_POLL_INTERVAL_MS"),
            (vec!["--results-poll-interval-ms=-5"], "RESULTS_POLL_INTERVAL_MS"),
            (vec!["--log-level", "loud"], "LOG_LEVEL"),
            (vec!["--log-format", "xml"], "LOG_FORMAT"),
        ] {
            let exit = parse(&args).unwrap_err();
            assert_eq!(exit.code, 2, "{}", exit.message);
            assert!(exit.message.contains(variable), "{}", exit.message);
            assert!(!exit.message.contains('\n') && !exit.message.contains("secret"), "{}", exit.message);
        }
    }

    #[test]
    fn no_broker_setting_is_accepted() {
        let help = parse(&["--help"]).unwrap_err();
        assert_eq!(help.code, 0);
        assert!(help.message.contains("5020") && !help.message.contains("AMQP_URL"), "{}", help.message);
    }
}
