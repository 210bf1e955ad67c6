//! Promise: secrets never appear in logs. A PostgreSQL role and a RabbitMQ user with distinctive
//! passwords (with characters that must be percent-encoded in a URL) are created for the test;
//! the engine runs with LOG_LEVEL=trace through a full publish/count cycle, failed connections
//! and bad-configuration exits, and neither password may show up in anything it prints (or
//! serves on /metrics), whole, percent-encoded, or as its distinctive core.

use std::process::Command;
use std::time::Duration;

use vote_reliability::*;
use vote_runtime::testing;

/// Characters that must be percent-encoded in a URL's userinfo, appended to each password.
const SPECIAL: &str = "#@:/%";

struct Secret {
    /// A run of letters and digits no log line would contain by chance.
    core: String,
}

impl Secret {
    fn new(tag: &str) -> Self {
        Self { core: format!("S3cr3t{tag}{}", testing::unique_name("x").replace('_', "")) }
    }

    fn password(&self) -> String {
        format!("{}{SPECIAL}", self.core)
    }

    fn encoded(&self) -> String {
        format!("{}%23%40%3A%2F%25", self.core)
    }

    /// The first line of `text` that holds the password in any form.
    fn find<'a>(&self, text: &'a str) -> Option<&'a str> {
        let at = [self.password(), self.encoded(), self.core.clone()].iter().find_map(|n| text.find(n.as_str()))?;
        let start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let end = text[at..].find('\n').map_or(text.len(), |i| at + i);
        Some(&text[start..end])
    }

    /// Panics if `text` holds the password in any form.
    fn assert_absent(&self, text: &str, what: &str) {
        if let Some(line) = self.find(text) {
            panic!("a password appears in {what}:\n{line}");
        }
    }
}

fn rabbitmqctl(args: &[&str]) -> Result<(), String> {
    let output = Command::new("rabbitmqctl")
        .args(args)
        .output()
        .map_err(|e| format!("this test needs rabbitmqctl (run as root next to the broker): {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "rabbitmqctl {args:?}: {}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}

/// The credentials the test creates.
struct Accounts {
    target: Target,
    user: String,
    pg: Secret,
    mq: Secret,
}

impl Accounts {
    async fn create(target: Target) -> Self {
        let user = testing::unique_name("rel_secret").to_lowercase();
        let (pg, mq) = (Secret::new("Pg"), Secret::new("Mq"));
        let admin = target.db.with_dbname("postgres").connect().await.expect("PostgreSQL must be running");
        let sql = format!(
            "CREATE ROLE \"{user}\" LOGIN PASSWORD '{}'; ALTER DATABASE \"{}\" OWNER TO \"{user}\"",
            pg.password(),
            target.db.dbname()
        );
        admin.batch_execute(&sql).await.expect("create the PostgreSQL role");
        let (name, password) = (user.clone(), mq.password());
        tokio::task::spawn_blocking(move || {
            rabbitmqctl(&["add_user", &name, &password])?;
            rabbitmqctl(&["set_permissions", "-p", "/", &name, ".*", ".*", ".*"])
        })
        .await
        .expect("rabbitmqctl task")
        .unwrap_or_else(|e| panic!("{e}"));
        Self { target, user, pg, mq }
    }

    async fn delete(&self) {
        let name = self.user.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || rabbitmqctl(&["delete_user", &name])).await.expect("task") {
            eprintln!("{e}");
        }
        let admin = self.target.db.with_dbname("postgres").connect().await.expect("PostgreSQL must be running");
        // The role owns the test database: drop both (one statement each: DROP DATABASE cannot
        // run inside the implicit transaction of a multi-statement query).
        for sql in [
            format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.target.db.dbname()),
            format!("DROP ROLE IF EXISTS \"{}\"", self.user),
        ] {
            if let Err(e) = admin.batch_execute(&sql).await {
                eprintln!("{sql}: {e:?}");
            }
        }
    }

    fn amqp_url(&self, password: &str) -> String {
        let url = self.target.amqp();
        format!("amqp://{}:{password}@{}:{}/%2f", self.user, url.host, url.port)
    }

    fn db_url(&self, address: &str) -> String {
        format!("postgres://{}:{}@{address}/{}", self.user, self.pg.encoded(), self.target.db.dbname())
    }

    /// The engine with both secrets in AMQP_URL and DATABASE_URL, tracing everything.
    fn engine(&self, format: &str) -> EngineCommand {
        EngineCommand::new()
            .args(["--rabbitmq-queue", &self.target.queue, "--prometheus-port", "0"])
            .env("AMQP_URL", &self.amqp_url(&self.mq.encoded()))
            .env("DATABASE_URL", &self.db_url(&self.target.db_address()))
            .env("LOG_LEVEL", "trace")
            .env("LOG_FORMAT", format)
    }

    fn assert_absent(&self, text: &str, what: &str) {
        self.pg.assert_absent(text, what);
        self.mq.assert_absent(text, what);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_password_appears_in_the_engines_output_at_trace_level() {
    let _turn = turn().await;
    let target = Target::fresh("secrets").await;
    let accounts = Accounts::create(target.clone()).await;
    with_cleanup(run(&accounts), accounts.delete()).await;
}

async fn run(accounts: &Accounts) {
    let target = &accounts.target;
    let mut printed = 0;
    // The check itself finds the secrets where they are: in the URLs the engine is given.
    assert!(accounts.mq.find(&accounts.amqp_url(&accounts.mq.encoded())).is_some());
    assert!(accounts.pg.find(&accounts.db_url("127.0.0.1:1")).is_some());
    assert!(accounts.pg.find(&format!("password={}", accounts.pg.password())).is_some());

    // 1. A full cycle: connect, migrate, count, dead-letter, serve metrics, stop.
    let expected = publish_backlog(target, 2_000, generator(10)).await;
    let engine = accounts.engine("json").start().await;
    assert_exact(target, &expected, Duration::from_secs(120)).await;
    wait_for_dlq(target, expected.invalid_sent, Duration::from_secs(30)).await;
    accounts.assert_absent(&engine.metrics().await, "/metrics");
    let (status, _, output) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    assert!(output.contains("\"level\":\"TRACE\""), "LOG_LEVEL=trace did not trace");
    accounts.assert_absent(&output, "the output of a publish/count cycle");
    printed += output.len();

    // 2. The broker refuses the password (the separate RABBITMQ_* / POSTGRES_* variables this
    //    time, text logs): the engine keeps retrying, not ready, until stopped.
    let wrong = Secret::new("Wrong");
    let url = target.amqp();
    let (db_host, db_port) =
        target.db_address().rsplit_once(':').map(|(h, p)| (h.to_owned(), p.to_owned())).expect("host:port");
    let mut engine = EngineCommand::new()
        .args(["--rabbitmq-queue", &target.queue, "--prometheus-port", "0"])
        .env("RABBITMQ_HOST", &url.host)
        .env("RABBITMQ_PORT", &url.port.to_string())
        .env("RABBITMQ_USER", &accounts.user)
        .env("RABBITMQ_PASSWORD", &wrong.password())
        .env("POSTGRES_HOST", &db_host)
        .env("POSTGRES_PORT", &db_port)
        .env("POSTGRES_DB", target.db.dbname())
        .env("POSTGRES_USER", &accounts.user)
        .env("POSTGRES_PASSWORD", &accounts.pg.password())
        .env("LOG_LEVEL", "trace")
        .env("LOG_FORMAT", "text")
        .spawn()
        .await;
    wait_until("the engine reports the refused login", Duration::from_secs(30), async || {
        engine.output().contains("cannot consume")
    })
    .await;
    assert_eq!(engine.readyz().await, Some(503));
    engine.assert_running("while the broker refused it");
    let (status, _, output) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    accounts.assert_absent(&output, "the output of a refused broker login");
    wrong.assert_absent(&output, "the output of a refused broker login");
    printed += output.len();

    // 3. PostgreSQL unreachable: the engine waits for it until stopped.
    let engine = accounts.engine("json").env("DATABASE_URL", &accounts.db_url("127.0.0.1:1")).spawn_process();
    wait_until("the engine reports the unreachable database", Duration::from_secs(30), async || {
        engine.output().contains("database unreachable")
    })
    .await;
    let (_, _, output) = engine.terminate(Duration::from_secs(30)).await;
    accounts.assert_absent(&output, "the output of an unreachable database");
    printed += output.len();

    // 4. PostgreSQL refuses the role: the engine exits with an error.
    let unknown = accounts.db_url(&target.db_address()).replacen(&accounts.user, "rel_no_such_role", 1);
    let (status, output) =
        accounts.engine("json").env("DATABASE_URL", &unknown).run_to_exit(Duration::from_secs(60)).await;
    assert!(!status.success(), "an unknown role must stop the engine");
    accounts.assert_absent(&output, "the output of a refused database login");
    printed += output.len();

    // 5. Bad configuration: exit 2 with one line naming the variable, never its secret.
    let bad_port = accounts.amqp_url(&accounts.mq.encoded()).replacen(&format!(":{}/", url.port), ":notaport/", 1);
    let bad_db = accounts.db_url("127.0.0.1:notaport");
    let cases: Vec<(EngineCommand, &str)> = vec![
        (accounts.engine("json").env("BATCH_SIZE", "0"), "BATCH_SIZE"),
        (accounts.engine("json").env("AMQP_URL", &bad_port), "AMQP_URL"),
        (accounts.engine("json").env("AMQP_URL", &bad_port.replacen("amqp://", "http://", 1)), "AMQP_URL"),
        (accounts.engine("json").env("DATABASE_URL", &bad_db), "DATABASE_URL"),
        (accounts.engine("json").env("LOG_LEVEL", "loud!"), "LOG_LEVEL"),
        (
            EngineCommand::new()
                .env("RABBITMQ_PASSWORD", &accounts.mq.password())
                .env("POSTGRES_PASSWORD", &accounts.pg.password())
                .env("RABBITMQ_PORT", "70000"),
            "RABBITMQ_PORT",
        ),
        (
            EngineCommand::new()
                .args(["--amqp-url", &accounts.amqp_url(&accounts.mq.encoded())])
                .args(["--database-url", &accounts.db_url(&target.db_address())])
                .args(["--rabbitmq-prefetch-count", "1"]),
            "RABBITMQ_PREFETCH_COUNT",
        ),
    ];
    let mut exits = 0;
    for (engine, variable) in cases {
        let (status, output) = engine.run_to_exit(Duration::from_secs(30)).await;
        assert_eq!(status.code(), Some(2), "{variable}: {output}");
        assert_eq!(output.trim().lines().count(), 1, "{output}");
        assert!(output.contains(variable), "{output}");
        accounts.assert_absent(&output, &format!("the {variable} error"));
        printed += output.len();
        exits += 1;
    }
    let (status, output) = accounts.engine("json").args(["--help"]).run_to_exit(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    accounts.assert_absent(&output, "--help");
    println!(
        "{} KiB of engine output at trace level over a publish/count cycle ({} votes), a refused broker login, an \
         unreachable and a refusing database, {exits} configuration errors and --help: no password",
        printed / 1024,
        expected.total
    );
    target.delete_queues().await;
}
