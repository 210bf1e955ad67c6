//! Settings of both binaries: the satellite kit's usual service (one consumed queue, one
//! database); the binaries differ only in their [`Defaults`].

use vote_runtime::cli::Exit;
use vote_satellite_kit::config::{self, Args, ConfigError, Defaults, ServiceSettings, Validate};

pub use vote_satellite_kit::config::Settings;

/// Where the poll pages are when POLL_PAGE_URL is not set: the poll-service's default port.
pub const DEFAULT_POLL_PAGE_URL: &str = "http://localhost:5010";

/// `election-service` settings as given: the usual service, and where its page sends readers
/// for the poll.
#[derive(Debug, Clone, clap::Args)]
pub struct ElectionArgs {
    /// Broker, queue, database, HTTP port, logs.
    #[command(flatten)]
    pub base: Args,
    /// Base URL of the poll-service as readers' browsers reach it; the election's page links
    /// to `<POLL_PAGE_URL>/polls/<uuid>`.
    #[arg(long, env = "POLL_PAGE_URL", value_name = "POLL_PAGE_URL", default_value = DEFAULT_POLL_PAGE_URL)]
    pub poll_page_url: String,
}

/// Validated [`ElectionArgs`].
#[derive(Debug, Clone)]
pub struct ElectionSettings {
    /// The usual service.
    pub base: Settings,
    /// POLL_PAGE_URL, without a trailing slash.
    pub poll_page_url: String,
}

impl AsRef<ServiceSettings> for ElectionSettings {
    fn as_ref(&self) -> &ServiceSettings {
        &self.base.service
    }
}

impl Validate for ElectionArgs {
    type Settings = ElectionSettings;

    fn validate(self) -> Result<ElectionSettings, ConfigError> {
        Ok(ElectionSettings { base: self.base.validate()?, poll_page_url: page_url(&self.poll_page_url)? })
    }
}

/// An `http(s)://host[:port][/path]` URL without its trailing slash.
fn page_url(value: &str) -> Result<String, ConfigError> {
    let url =
        url::Url::parse(value.trim()).map_err(|e| ConfigError::new("POLL_PAGE_URL", format!("not a URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(ConfigError::new("POLL_PAGE_URL", "must be an http:// or https:// URL with a host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(ConfigError::new("POLL_PAGE_URL", "must not have a query or fragment"));
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// `election-service`'s command line and environment.
pub fn parse_election_cli<I, T>(args: I) -> Result<ElectionSettings, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    config::parse_cli::<ElectionArgs, _, _>(&ELECTION_DEFAULTS, args)
}

/// `meeting-service`.
pub const MEETING_DEFAULTS: Defaults = Defaults {
    binary: "meeting-service",
    about: "MeetingService: meetings and election agenda items; publishes meeting and agenda events.",
    service_name: "meeting-service",
    http_port: "5011",
    queue: Some(("meeting-service", "meeting.created", None)),
    database: Some("vote_election"),
};

/// `election-service`.
pub const ELECTION_DEFAULTS: Defaults = Defaults {
    binary: "election-service",
    about: "ElectionService: nominations, voting through the VotingService, finalization.",
    service_name: "election-service",
    http_port: "5012",
    queue: Some(("election-service", "agenda.election.*,voting.completed,voting.refused", None)),
    database: Some("vote_election"),
};

/// Parses the command line and environment with the binary's `defaults` (see
/// [`config::parse_cli`]).
pub fn parse_cli<I, T>(defaults: &Defaults, args: I) -> Result<Settings, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    config::parse_cli::<Args, _, _>(defaults, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_binary_has_its_defaults() {
        let m = parse_cli(&MEETING_DEFAULTS, ["meeting-service"]).unwrap();
        assert_eq!(
            (m.service.service_name.as_str(), m.queue.queue.as_str(), m.service.http_port),
            ("meeting-service", "meeting-service", 5011)
        );
        assert_eq!(m.queue.bindings, ["meeting.created"]);
        let e = parse_cli(&ELECTION_DEFAULTS, ["election-service"]).unwrap();
        assert_eq!(
            (e.service.service_name.as_str(), e.queue.queue.as_str(), e.service.http_port),
            ("election-service", "election-service", 5012)
        );
        assert_eq!(e.queue.bindings, ["agenda.election.*", "voting.completed", "voting.refused"]);
        assert_eq!(e.queue.dead_letter_queue, "election-service.dlq");
        assert_eq!(e.service.exchange, "events");
        assert_eq!(e.database.target.dbname(), "vote_election");
        let e = parse_election_cli(["election-service"]).unwrap();
        assert_eq!((e.poll_page_url.as_str(), e.base.service.http_port), ("http://localhost:5010", 5012));
    }

    #[test]
    fn the_poll_page_url_is_an_http_url() {
        let e = parse_election_cli(["election-service", "--poll-page-url", "https://votes.example.org/"]).unwrap();
        assert_eq!(e.poll_page_url, "https://votes.example.org");
        for bad in ["ftp://x", "not a url", "http://x/?q=1"] {
            let error = parse_election_cli(["election-service", "--poll-page-url", bad]).unwrap_err();
            assert!(error.message.contains("POLL_PAGE_URL"), "{bad}: {}", error.message);
            assert_eq!(error.code, 2);
        }
    }
}
