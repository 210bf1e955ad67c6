//! Structured logs with `tracing`. LOG_LEVEL takes a level (`INFO`, `debug`, ...) or a full
//! filter (`info,vote_engine=debug`); LOG_FORMAT picks `json` (one object per line) or `text`
//! (see [`crate::config::LogArgs`] for the rule when it is unset).

use tracing_subscriber::EnvFilter;

/// Output format of the log lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line: what log shippers want.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}

impl LogFormat {
    /// Text for a terminal, JSON for anything else (a container's log collector, a file).
    pub fn for_terminal(is_terminal: bool) -> Self {
        if is_terminal { Self::Text } else { Self::Json }
    }
}

impl std::str::FromStr for LogFormat {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "json" => Ok(Self::Json),
            "text" => Ok(Self::Text),
            _ => Err("expected json or text".to_owned()),
        }
    }
}

/// Parses a LOG_LEVEL value; the error names what is wrong.
pub fn parse_filter(level: &str) -> Result<EnvFilter, String> {
    let directive = level.trim().to_ascii_lowercase();
    let directive = match directive.as_str() {
        "warning" => "warn".to_owned(),
        "critical" | "fatal" => "error".to_owned(),
        _ => directive,
    };
    // A bare word must be a level: EnvFilter would accept any word as a target name.
    const LEVELS: [&str; 6] = ["trace", "debug", "info", "warn", "error", "off"];
    if !directive.contains(['=', ',']) && !LEVELS.contains(&directive.as_str()) {
        return Err(format!(
            "not a log level: expected one of {}, or a filter like info,vote_engine=debug",
            LEVELS.join(", ")
        ));
    }
    EnvFilter::builder().parse(&directive).map_err(|e| format!("not a log level or filter: {e}"))
}

/// Installs the global subscriber. Call once, early in `main`.
pub fn init(filter: EnvFilter, format: LogFormat) {
    // Colours only on a terminal: redirected logs stay plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).init(),
        LogFormat::Text => builder.init(),
    }
}
