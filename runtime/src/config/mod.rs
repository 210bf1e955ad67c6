//! The config vocabulary every binary shares: the setting groups ([`DatabaseArgs`],
//! [`LogArgs`]; the broker's are in `vote_mq::config`) that a binary flattens into its clap struct
//! with `#[command(flatten)]`, one [`ConfigError`], and one way to go from the command line to
//! validated settings ([`parse`]).
//!
//! The pattern, written once: clap reads each raw value from its flag or environment variable
//! (same name everywhere); [`Validate::validate`] turns the raw group into what the program
//! uses; the first problem is one line naming the variable, exit code 2. Values that may carry
//! a password (URLs, passwords) are hidden from `--help` and never quoted in an error.

pub mod database;
pub mod logs;

use std::ffi::OsString;
use std::time::Duration;

use clap::{Command, FromArgMatches};

pub use self::database::{DEFAULT_DATABASE, Database, DatabaseArgs};
pub use self::logs::{LogArgs, LogSettings};
use crate::cli::{self, Exit};

/// A bad setting: which variable, and what is wrong (never its value, which may be secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault (its flag is the same name in kebab case).
    pub variable: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ConfigError {
    /// `variable` is wrong because of `message`.
    pub fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self { variable, message: message.into() }
    }
}

/// Raw settings, as clap read them, that can be checked into what the program uses.
pub trait Validate {
    /// The validated settings.
    type Settings;
    /// Checks every value; the first problem names its variable.
    fn validate(self) -> Result<Self::Settings, ConfigError>;
}

/// Parses `args` (program name first) and the environment with `command` (the clap command of
/// `A`, possibly with per-binary defaults), then validates. `Err` says what to print and the
/// exit code: 0 for `--help` / `--version`, 2 for a bad value, on one line naming the variable.
pub fn parse<A, I, T>(command: Command, args: I) -> Result<A::Settings, Exit>
where
    A: FromArgMatches + Validate,
    I: IntoIterator<Item = T>,
    T: Into<OsString> + Clone,
{
    let raw: A = cli::parse(command, args)?;
    raw.validate().map_err(Exit::invalid)
}

/// The trimmed value, or an error when it is blank.
pub fn non_empty(variable: &'static str, value: &str) -> Result<String, ConfigError> {
    let value = value.trim();
    if value.is_empty() { Err(ConfigError::new(variable, "must not be empty")) } else { Ok(value.to_owned()) }
}

/// `value` as a count of at least 1.
pub fn at_least_one(variable: &'static str, value: usize) -> Result<usize, ConfigError> {
    if value == 0 { Err(ConfigError::new(variable, "must be at least 1")) } else { Ok(value) }
}

/// A number of seconds under a day, more than 0 (or also 0 when `zero_ok`).
pub fn seconds(variable: &'static str, value: f64, zero_ok: bool) -> Result<Duration, ConfigError> {
    let ok = value.is_finite() && (value > 0.0 || (zero_ok && value == 0.0)) && value < 86_400.0;
    if !ok {
        let range = if zero_ok { "0 or more" } else { "more than 0" };
        return Err(ConfigError::new(variable, format!("must be a number of seconds, {range} and under a day")));
    }
    Ok(Duration::from_secs_f64(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers_name_the_variable() {
        assert_eq!(seconds("PAUSE_SECONDS", 0.5, false), Ok(Duration::from_millis(500)));
        assert_eq!(seconds("PAUSE_SECONDS", 0.0, true), Ok(Duration::ZERO));
        for (value, zero_ok) in [(0.0, false), (-1.0, true), (f64::NAN, true), (86_400.0, true)] {
            assert_eq!(seconds("PAUSE_SECONDS", value, zero_ok).unwrap_err().variable, "PAUSE_SECONDS");
        }
        assert_eq!(non_empty("X", "  a ").unwrap(), "a");
        assert_eq!(at_least_one("X", 0).unwrap_err().to_string(), "X: must be at least 1");
    }
}
