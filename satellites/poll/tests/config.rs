//! The binary's start-up contract: a bad setting is one line naming the variable, exit code 2,
//! and secrets are not echoed.

use vote_satellite_kit::testing::{assert_help_shows, assert_refused};

const BINARY: &str = env!("CARGO_BIN_EXE_poll-service");

#[test]
fn bad_values_exit_2_with_one_line_naming_the_variable() {
    for (variable, value) in [
        ("HTTP_PORT", "eighty"),
        ("AMQP_URL", "amqp://user:hunter2@broker:notaport/"),
        ("DATABASE_URL", "postgres://user:hunter2@db:notaport/x"),
        ("LOG_FORMAT", "xml"),
        ("MQ_BINDINGS", ","),
    ] {
        assert_refused(BINARY, variable, value);
    }
}

#[test]
fn help_shows_the_defaults_but_no_secrets() {
    assert_help_shows(BINARY, &["AMQP_URL", "HTTP_PORT", "5010", "voting-service"]);
}
