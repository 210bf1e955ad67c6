//! Settings of both binaries: the satellite kit's usual service (one consumed queue, one
//! database); the binaries differ only in their [`Defaults`].

use vote_runtime::cli::Exit;
use vote_satellite_kit::config::{self, Args, Defaults};

pub use vote_satellite_kit::config::Settings;

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
    }
}
