//! Settings: the satellite kit's usual service (one consumed queue, one database) with the
//! VotingService's defaults.

use vote_runtime::cli::Exit;
use vote_satellite_kit::config::{self, Args, Defaults};

pub use vote_satellite_kit::config::Settings;

/// `poll-service`.
pub const DEFAULTS: Defaults = Defaults {
    binary: "poll-service",
    about: "VotingService: polls, ballots and results over HTTP and from voting.create, poll.ballot.cast and voting.close events.",
    service_name: "voting-service",
    http_port: "5010",
    queue: Some(("voting-service", "voting.create,voting.close,poll.ballot.cast,meeting.created", None)),
    database: Some("vote_poll"),
};

/// Parses the command line and environment (see [`config::parse_cli`]).
pub fn parse_cli<I, T>(args: I) -> Result<Settings, Exit>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    config::parse_cli::<Args, _, _>(&DEFAULTS, args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let s = parse_cli(["poll-service"]).unwrap();
        assert_eq!(
            (s.service.exchange.as_str(), s.queue.queue.as_str(), s.service.service_name.as_str()),
            ("events", "voting-service", "voting-service")
        );
        assert_eq!(s.queue.dead_letter_queue, "voting-service.dlq");
        assert_eq!(s.queue.bindings, ["voting.create", "voting.close", "poll.ballot.cast", "meeting.created"]);
        assert_eq!(s.service.http_port, 5010);
        assert_eq!(s.database.target.dbname(), "vote_poll");
        assert_eq!(s.queue.retry.max_attempts, 5);
        assert_eq!(s.service.logs.format, None, "not forced: text on a terminal, JSON otherwise");
    }

    #[test]
    fn bindings_are_split_and_trimmed() {
        let s = parse_cli(["poll-service", "--mq-bindings", "voting.create, voting.*"]).unwrap();
        assert_eq!(s.queue.bindings, ["voting.create", "voting.*"]);
    }
}
