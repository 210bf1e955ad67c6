//! The binaries' start-up contract: a bad setting is one line naming the variable, exit code 2,
//! and secrets are not echoed.

use vote_satellite_kit::testing::{assert_help_shows, assert_refused};

const BINARIES: [&str; 2] = [env!("CARGO_BIN_EXE_meeting-service"), env!("CARGO_BIN_EXE_election-service")];

#[test]
fn bad_values_exit_2_with_one_line_naming_the_variable() {
    for binary in BINARIES {
        for (variable, value) in [
            ("HTTP_PORT", "-1"),
            ("AMQP_URL", "amqp://user:hunter2@broker:notaport/"),
            ("DATABASE_URL", "postgres://user:hunter2@db:notaport/x"),
            ("LOG_LEVEL", "loud!"),
            ("MQ_MAX_ATTEMPTS", "0"),
        ] {
            assert_refused(binary, variable, value);
        }
    }
}

#[test]
fn help_shows_each_binary_defaults_but_no_secrets() {
    assert_help_shows(BINARIES[0], &["5011", "meeting.created"]);
    assert_help_shows(BINARIES[1], &["5012", "agenda.election.*,voting.completed"]);
}

#[test]
fn the_seeds_broker_variables_are_read() {
    for binary in BINARIES {
        assert_refused(binary, "RABBITMQ_PORT", "notaport");
        assert_refused(binary, "MQ_EXCHANGE_TYPE", "fanout");
        assert_refused(binary, "POSTGRES_MAX_CONNECTIONS", "0");
    }
}
