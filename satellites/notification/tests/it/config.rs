//! The binaries' start-up contract: a bad setting is one line naming the variable, exit code 2,
//! secrets are not echoed; `--help` shows each binary's defaults, the contract's
//! `notifications_queue` among them.

use vote_satellite_kit::testing::{assert_help_shows, assert_refused};

const BINARIES: [&str; 2] = [env!("CARGO_BIN_EXE_notification-service"), env!("CARGO_BIN_EXE_matchmaking-service")];

#[test]
fn bad_values_exit_2_with_one_line_naming_the_variable() {
    for binary in BINARIES {
        for (variable, value) in [
            ("HTTP_PORT", "-1"),
            ("AMQP_URL", "amqp://user:hunter2@broker:notaport/"),
            ("LOG_FORMAT", "xml"),
            ("NOTIFICATIONS_QUEUE", " "),
        ] {
            assert_refused(binary, variable, value);
        }
    }
    assert_refused(BINARIES[0], "DATABASE_URL", "postgres://u:hunter2@db:x/y");
}

#[test]
fn help_shows_each_binary_defaults() {
    assert_help_shows(BINARIES[0], &["5003", "notifications_queue", "inventory_reserved", "inventory.reserved"]);
    assert_help_shows(BINARIES[1], &["5005", "notifications_queue", "matchmaking-service"]);
}

#[test]
fn the_seeds_broker_variables_are_read() {
    for binary in BINARIES {
        assert_refused(binary, "RABBITMQ_PORT", "notaport");
        assert_refused(binary, "MQ_EXCHANGE_TYPE", "fanout");
    }
    // matchmaking-service keeps no database.
    assert_refused(BINARIES[0], "POSTGRES_MAX_CONNECTIONS", "0");
}
