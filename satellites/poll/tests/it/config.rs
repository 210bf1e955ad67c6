//! The binary's start-up contract: a bad setting is one line naming the variable, exit code 2,
//! and secrets are not echoed.

use vote_runtime::testing::{
    assert_becomes_ready, broker_proxy, free_port, fresh_database, seed_broker_env, seed_database_env, unique_name,
};
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

#[test]
fn the_seeds_broker_variables_are_read() {
    assert_refused(BINARY, "RABBITMQ_PORT", "notaport");
    assert_refused(BINARY, "MQ_EXCHANGE_TYPE", "fanout");
    assert_refused(BINARY, "POSTGRES_PORT", "0");
}

/// The seeds' RABBITMQ_HOST/PORT/USER/PASSWORD + MQ_EXCHANGE_TYPE and POSTGRES_* (no URL):
/// the service becomes ready, connected to the broker through the port RABBITMQ_PORT names.
#[tokio::test]
async fn the_seeds_variables_start_the_service() {
    let proxy = broker_proxy().await;
    let db = fresh_database("poll_seed").await;
    let port = free_port();
    let mut env = seed_broker_env(proxy.port());
    env.extend(seed_database_env(&db));
    env.extend(vote_satellite_kit::auth::testing::env().into_iter().map(|(name, value)| (name.to_owned(), value)));
    for (name, value) in [
        ("MQ_EXCHANGE", unique_name("poll_seed_x")),
        ("MQ_QUEUE", unique_name("poll_seed_q")),
        ("HTTP_PORT", port.to_string()),
    ] {
        env.push((name.to_owned(), value));
    }
    assert_becomes_ready(BINARY, &env, port).await;
    assert!(proxy.connections() > 0, "the service reached the broker through RABBITMQ_PORT");
}
