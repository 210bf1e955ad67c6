//! The command line's contract: the seeds' RABBITMQ_HOST/PORT/USER/PASSWORD (no AMQP_URL)
//! reach the broker; a bad value is one line naming the variable, exit code 2.

use std::process::Command;

use vote_runtime::testing::{broker_proxy, seed_broker_env, unique_name};

const BINARY: &str = env!("CARGO_BIN_EXE_loadgen");

fn loadgen(env: &[(String, String)], args: &[&str]) -> (Option<i32>, String, String) {
    let out = Command::new(BINARY)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k, v)))
        .args(args)
        .output()
        .expect("run loadgen");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn the_seeds_broker_variables_are_used() {
    let proxy = broker_proxy().await;
    let mut env = seed_broker_env(proxy.port());
    env.push(("RABBITMQ_QUEUE".to_owned(), unique_name("loadgen_seed")));
    env.push(("RABBITMQ_QUEUE_TYPE".to_owned(), "classic".to_owned()));
    let (code, stdout, stderr) =
        tokio::task::spawn_blocking(move || loadgen(&env, &["send", "{}"])).await.expect("loadgen ran");
    assert_eq!(code, Some(0), "{stdout}{stderr}");
    assert!(stdout.contains("sent 1 message"), "{stdout}");
    assert!(proxy.connections() > 0, "loadgen reached the broker through RABBITMQ_PORT");
}

#[test]
fn bad_values_exit_2_with_one_line_naming_the_variable() {
    for (variable, value, args) in [
        ("RABBITMQ_PORT", "notaport", &["send", "{}"][..]),
        ("AMQP_URL", "amqp://u:hunter2@h:notaport/", &["send", "{}"]),
        ("DATABASE_URL", "postgres://u:hunter2@db:notaport/x", &["verify"]),
        ("POSTGRES_PORT", "0", &["verify"]),
        ("LOG_FORMAT", "xml", &["send", "{}"]),
    ] {
        let (code, _, stderr) = loadgen(&[(variable.to_owned(), value.to_owned())], args);
        assert_eq!(code, Some(2), "{variable}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.contains(variable) && !stderr.contains("hunter2"), "{variable}: {stderr}");
    }
}
