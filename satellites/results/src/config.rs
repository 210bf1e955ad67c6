//! Settings: one environment variable per knob, each with a CLI flag; a bad value is one line
//! naming the variable (exit code 2). The service reads the engine's database and nothing else:
//! it consumes no queue and needs no broker.

use std::ffi::OsString;
use std::time::Duration;

use clap::{CommandFactory, Parser};
use vote_runtime::cli::Exit;
use vote_runtime::config::{self, ConfigError, Database, DatabaseArgs, LogArgs, LogSettings, Validate};
use vote_satellite_kit::limits::{HttpArgs, HttpLimits};

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
    /// The engine's database (read only: SELECT on the engine's tables is enough, see
    /// sql/roles/results_role.sql); receipts and the change feed share its pool.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// How often the change feed looks for new totals, in milliseconds: the most a change waits
    /// before the page and the stream show it.
    #[arg(long, env = "RESULTS_POLL_INTERVAL_MS", value_name = "RESULTS_POLL_INTERVAL_MS", default_value_t = 500)]
    pub results_poll_interval_ms: u64,
    /// Port of the page, the API and /metrics, /healthz, /readyz.
    #[arg(long, env = "HTTP_PORT", value_name = "HTTP_PORT", default_value_t = 5020)]
    pub http_port: u16,
    /// Timeouts and connections of the HTTP API (the rate limit counts writes: it has none).
    #[command(flatten)]
    pub http: HttpArgs,
    /// Logging.
    #[command(flatten)]
    pub logs: LogArgs,
}

/// Validated settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The engine's database and the pool size.
    pub database: Database,
    /// Change feed period.
    pub poll_interval: Duration,
    /// HTTP port (0 picks a free one).
    pub http_port: u16,
    /// HTTP_* limits.
    pub http: HttpLimits,
    /// Logging.
    pub logs: LogSettings,
}

impl Validate for Args {
    type Settings = Settings;

    fn validate(self) -> Result<Settings, ConfigError> {
        let database = self.database.validate()?;
        if !POLL_INTERVAL_MS.contains(&self.results_poll_interval_ms) {
            return Err(ConfigError::new(
                "RESULTS_POLL_INTERVAL_MS",
                format!("must be from {} to {}", POLL_INTERVAL_MS.start(), POLL_INTERVAL_MS.end()),
            ));
        }
        Ok(Settings {
            database,
            poll_interval: Duration::from_millis(self.results_poll_interval_ms),
            http_port: self.http_port,
            http: self.http.validate()?,
            logs: self.logs.validate()?,
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
    config::parse::<Args, _, _>(Args::command(), args)
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
        assert_eq!((s.http_port, s.database.max_connections), (5020, 10));
        assert_eq!(s.poll_interval, Duration::from_millis(500));
        assert_eq!(s.database.target.dbname(), "election_votes");
        assert_eq!(s.logs.format, None, "not forced: text on a terminal, JSON otherwise");
    }

    #[test]
    fn bad_values_give_one_line_naming_the_variable() {
        for (args, variable) in [
            (vec!["--http-port", "abc"], "HTTP_PORT"),
            (vec!["--database-url", "postgres://u:secret@db:notaport/x"], "DATABASE_URL"),
            (vec!["--postgres-max-connections", "0"], "POSTGRES_MAX_CONNECTIONS"),
            (vec!["--postgres-port", "0"], "POSTGRES_PORT"),
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
