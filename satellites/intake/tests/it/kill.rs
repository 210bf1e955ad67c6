//! The binary: bad settings refused the contract's way, and `kill -9` under load loses no vote
//! that was answered 202.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use vote_runtime::testing;
use vote_satellite_kit::auth::testing as auth;
use vote_satellite_kit::testing::{assert_help_shows, assert_refused, run_command};

use crate::{Engine, Load, RECEIPT_KEY, assert_every_202_counted};

const BINARY: &str = env!("CARGO_BIN_EXE_vote-intake");

#[test]
fn bad_settings_exit_2_with_one_line_naming_the_variable() {
    assert_refused(BINARY, "INTAKE_RECEIPT_KEY", "too-short-hunter2");
    for (variable, value) in [
        ("INTAKE_BATCH_SIZE", "0"),
        ("INTAKE_CONFIRM_TIMEOUT_MS", "5000"),
        ("AUTH_JWKS_FILE", "/nonexistent/jwks.json"),
        ("HTTP_PORT", "abc"),
    ] {
        let mut env = auth::env();
        env.retain(|(name, _)| *name != variable);
        env.extend([(variable, value.to_owned()), ("INTAKE_RECEIPT_KEY", RECEIPT_KEY.to_owned())]);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let (code, _, stderr) = run_command(BINARY, &env, &[]);
        assert_eq!(code, Some(2), "{variable}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{variable}: {stderr}");
        assert!(stderr.contains(variable) && !stderr.contains("hunter2") && !stderr.contains(RECEIPT_KEY), "{stderr}");
    }
    assert_help_shows(BINARY, &["INTAKE_RECEIPT_KEY", "INTAKE_BATCH_SIZE", "INTAKE_BATCH_LINGER_MS", "5030"]);
}

fn spawn(engine: &Engine, port: u16) -> Child {
    let mut env: Vec<(String, String)> = auth::env().into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    env.extend(
        [
            ("AMQP_URL", testing::amqp_url()),
            ("RABBITMQ_QUEUE", engine.queue.clone()),
            ("DATABASE_URL", engine.url.clone()),
            ("HTTP_PORT", port.to_string()),
            ("INTAKE_RECEIPT_KEY", RECEIPT_KEY.to_owned()),
            ("LOG_FORMAT", "text".to_owned()),
            ("LOG_LEVEL", "warn".to_owned()),
        ]
        .map(|(k, v)| (k.to_owned(), v)),
    );
    Command::new(BINARY)
        .env_clear()
        .envs(env)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("run vote-intake")
}

async fn wait_ready(port: u16) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while testing::http_status(port, "/readyz").await != Some(200) {
        assert!(tokio::time::Instant::now() < deadline, "vote-intake not ready within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_vote_that_got_a_202() {
    let engine = Engine::start("intake_kill").await;
    let port = testing::free_port();
    let mut intake = spawn(&engine, port);
    wait_ready(port).await;
    let load = Load::start(&format!("http://127.0.0.1:{port}"), 8, "law-kill");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    intake.kill().expect("kill -9");
    let _ = intake.wait();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Started again, it takes votes as before.
    let mut again = spawn(&engine, port);
    wait_ready(port).await;
    tokio::time::sleep(Duration::from_millis(700)).await;
    let answers = load.stop().await;
    again.kill().expect("kill");
    let _ = again.wait();
    let before: Vec<_> = answers.iter().filter(|a| a.sent_at < Duration::from_millis(1500)).collect();
    assert!(before.iter().filter(|a| a.status == 202).count() > 10, "load ran before the kill");
    assert!(
        answers.iter().any(|a| a.status == 202 && a.sent_at > Duration::from_millis(1800)),
        "and after the restart"
    );
    let accepted = assert_every_202_counted(&engine, &answers).await;
    let unanswered = answers.iter().filter(|a| a.status == 0).count();
    eprintln!(
        "kill -9: {} requests, {accepted} answered 202 and counted, {unanswered} without an answer",
        answers.len()
    );
    engine.stop().await;
}
