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

/// A duration setting under the platform's convention, `<NAME>_MS` (whole milliseconds), which
/// also accepts the older `<NAME>_SECONDS` it replaces (seconds, fractions allowed): at most one
/// of the two, under a day, more than 0 (or also 0 when `zero_ok`); `default` when neither is set.
#[derive(Debug, Clone, Copy)]
pub struct Millis {
    /// `<NAME>_MS`.
    pub variable: &'static str,
    /// `<NAME>_SECONDS`.
    pub seconds_variable: &'static str,
    /// When neither is set.
    pub default: Duration,
    /// Whether 0 is allowed.
    pub zero_ok: bool,
}

impl Millis {
    /// The duration given by either variable, or the default.
    pub fn resolve(self, millis: Option<u64>, seconds: Option<f64>) -> Result<Duration, ConfigError> {
        match (millis, seconds) {
            (Some(_), Some(_)) => Err(ConfigError::new(
                self.variable,
                format!("set it or its older name {}, not both", self.seconds_variable),
            )),
            (None, Some(value)) => self::seconds(self.seconds_variable, value, self.zero_ok),
            (Some(ms), None) if (ms == 0 && !self.zero_ok) || ms >= 86_400_000 => {
                let range = if self.zero_ok { "0 or more" } else { "more than 0" };
                Err(ConfigError::new(
                    self.variable,
                    format!("must be a number of milliseconds, {range} and under a day"),
                ))
            }
            (Some(ms), None) => Ok(Duration::from_millis(ms)),
            (None, None) => Ok(self.default),
        }
    }
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
        let pause = Millis {
            variable: "PAUSE_MS",
            seconds_variable: "PAUSE_SECONDS",
            default: Duration::from_secs(1),
            zero_ok: false,
        };
        assert_eq!(pause.resolve(None, None), Ok(Duration::from_secs(1)));
        assert_eq!(pause.resolve(Some(250), None), Ok(Duration::from_millis(250)));
        assert_eq!(pause.resolve(None, Some(0.25)), Ok(Duration::from_millis(250)));
        assert_eq!(
            pause.resolve(Some(250), Some(0.25)).unwrap_err().to_string(),
            "PAUSE_MS: set it or its older name PAUSE_SECONDS, not both"
        );
        assert_eq!(pause.resolve(Some(0), None).unwrap_err().variable, "PAUSE_MS");
        assert_eq!(pause.resolve(Some(86_400_000), None).unwrap_err().variable, "PAUSE_MS");
        assert_eq!(pause.resolve(None, Some(0.0)).unwrap_err().variable, "PAUSE_SECONDS");
        assert_eq!(Millis { zero_ok: true, ..pause }.resolve(Some(0), None), Ok(Duration::ZERO));
        assert_eq!(non_empty("X", "  a ").unwrap(), "a");
        assert_eq!(at_least_one("X", 0).unwrap_err().to_string(), "X: must be at least 1");
    }
}
