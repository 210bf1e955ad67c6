//! The binaries' start-up contract: a bad setting is one line naming the variable, exit code 2,
//! secrets are not echoed; `--help` shows each binary's defaults, the contract's queue names
//! among them.

use vote_satellite_kit::testing::{assert_help_shows, assert_refused};

const BINARIES: [&str; 3] = [
    env!("CARGO_BIN_EXE_order-service"),
    env!("CARGO_BIN_EXE_inventory-service"),
    env!("CARGO_BIN_EXE_order-callback"),
];

#[test]
fn bad_values_exit_2_with_one_line_naming_the_variable() {
    for binary in BINARIES {
        for (variable, value) in [
            ("HTTP_PORT", "eighty"),
            ("AMQP_URL", "amqp://user:hunter2@broker:notaport/"),
            ("LOG_LEVEL", "loud!"),
            ("MQ_EXCHANGE", " "),
        ] {
            assert_refused(binary, variable, value);
        }
    }
    assert_refused(BINARIES[0], "DATABASE_URL", "postgres://user:hunter2@db:notaport/x");
    assert_refused(BINARIES[1], "MQ_MAX_ATTEMPTS", "0");
    assert_refused(BINARIES[1], "MQ_DEAD_LETTER_QUEUE", "order_placed");
    assert_refused(BINARIES[2], "ORDER_SERVICE_URL", "https://user:hunter2@orders/");
}

#[test]
fn help_shows_each_binary_defaults() {
    assert_help_shows(BINARIES[0], &["5001", "order-service"]);
    assert_help_shows(BINARIES[1], &["5002", "order_placed", "order_placed_dlq", "order.placed"]);
    assert_help_shows(
        BINARIES[2],
        &["5004", "order_callback", "inventory.reserved,inventory.failed", "http://127.0.0.1:5001"],
    );
}

#[test]
fn the_seeds_broker_variables_are_read() {
    for binary in BINARIES {
        assert_refused(binary, "RABBITMQ_PORT", "notaport");
        assert_refused(binary, "MQ_EXCHANGE_TYPE", "fanout");
    }
    // order-callback keeps no database.
    for binary in &BINARIES[..2] {
        assert_refused(binary, "POSTGRES_MAX_CONNECTIONS", "0");
    }
}
