//! The binary's start-up contract: the seeds' RABBITMQ_HOST/PORT/USER/PASSWORD and POSTGRES_*
//! (no URLs) start it; a bad value is one line naming the variable, exit code 2.

use std::process::Command;

use vote_runtime::testing::{
    assert_becomes_ready, broker_proxy, free_port, fresh_database, seed_broker_env, seed_database_env, unique_name,
};

const BINARY: &str = env!("CARGO_BIN_EXE_vote-engine");

#[tokio::test]
async fn the_seeds_variables_start_the_engine() {
    let proxy = broker_proxy().await;
    let db = fresh_database("engine_seed").await;
    let port = free_port();
    let mut env = seed_broker_env(proxy.port());
    env.extend(seed_database_env(&db));
    for (name, value) in [
        ("RABBITMQ_QUEUE", unique_name("engine_seed")),
        ("RABBITMQ_QUEUE_TYPE", "classic".to_owned()),
        ("PROMETHEUS_PORT", port.to_string()),
    ] {
        env.push((name.to_owned(), value));
    }
    assert_becomes_ready(BINARY, &env, port).await;
    assert!(proxy.connections() > 0, "the engine reached the broker through RABBITMQ_PORT");
}

#[test]
fn bad_broker_and_database_parts_exit_2_naming_the_variable() {
    for (variable, value) in [
        ("RABBITMQ_PORT", "notaport"),
        ("RABBITMQ_HOST", " "),
        ("POSTGRES_PORT", "0"),
        ("POSTGRES_MIN_CONNECTIONS", "99"),
    ] {
        let out = Command::new(BINARY).env_clear().env(variable, value).output().expect("run vote-engine");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{variable}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.contains(variable), "{variable}: {stderr}");
    }
}
