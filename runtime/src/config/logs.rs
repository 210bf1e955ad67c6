//! LOG_LEVEL and LOG_FORMAT. Unless LOG_FORMAT forces one, a binary logs human-readable text
//! when its stderr is a terminal and JSON lines otherwise (containers, log collectors);
//! `scripts/run-engine.sh` sets LOG_FORMAT=text.

use super::{ConfigError, Validate};
use crate::logging::{self, LogFormat};

/// How the binary logs.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log level (error, warn, info, debug, trace) or a filter (`info,vote_mq=debug`).
    #[arg(long, env = "LOG_LEVEL", value_name = "LOG_LEVEL", default_value = "info")]
    pub log_level: String,
    /// `text`, `json` (one object per line) or `auto`: text when stderr is a terminal (and
    /// under scripts/run-engine.sh), JSON otherwise (containers).
    #[arg(long, env = "LOG_FORMAT", value_name = "LOG_FORMAT", default_value = "auto")]
    pub log_format: String,
}

/// Validated [`LogArgs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogSettings {
    /// LOG_LEVEL, checked to parse.
    pub level: String,
    /// The forced format; `None` picks by the terminal when logging starts.
    pub format: Option<LogFormat>,
}

impl LogSettings {
    /// The format logs are written in: the forced one, or the one for this process's stderr.
    pub fn format(&self) -> LogFormat {
        self.format.unwrap_or_else(|| LogFormat::for_terminal(std::io::IsTerminal::is_terminal(&std::io::stderr())))
    }

    /// Installs the global subscriber. Call once, early in `main`.
    pub fn init(&self) {
        // Checked when validated, so the default is never used.
        logging::init(logging::parse_filter(&self.level).unwrap_or_default(), self.format());
    }
}

impl Validate for LogArgs {
    type Settings = LogSettings;

    fn validate(self) -> Result<LogSettings, ConfigError> {
        logging::parse_filter(&self.log_level).map_err(|e| ConfigError::new("LOG_LEVEL", e))?;
        let format = match self.log_format.trim().to_ascii_lowercase().as_str() {
            "auto" => None,
            other => Some(other.parse().map_err(|_| ConfigError::new("LOG_FORMAT", "expected text, json or auto"))?),
        };
        Ok(LogSettings { level: self.log_level, format })
    }
}
