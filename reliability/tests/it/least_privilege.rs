//! Promise: the engine runs as a least-privilege PostgreSQL role (`sql/roles/engine_role.sql`):
//! the owner applies the migrations once with `vote-engine migrate`, the engine then runs as the
//! role with RUN_MIGRATIONS=false and counts exactly, and the role can change no schema.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use tokio_postgres::error::SqlState;
use vote_reliability::*;
use vote_runtime::testing;

/// Applies the role script with psql, as the server's superuser.
fn apply_role_script(role: &str, password: &str, dbname: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sql/roles/engine_role.sql");
    let output = Command::new("psql")
        .args(["-X", "-q", "-d", &testing::database_url(), "-f"])
        .arg(&script)
        .args(["-v", &format!("role={role}"), "-v", &format!("password={password}"), "-v", &format!("dbname={dbname}")])
        .output()
        .unwrap_or_else(|e| panic!("this test needs psql (postgresql-client): {e}"));
    assert!(
        output.status.success(),
        "{} failed: {}{}",
        script.display(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn drop_role(target: &Target, role: &str) {
    // The role owns nothing, but holds grants in the test database and on it.
    let sql = format!("DROP OWNED BY \"{role}\"; REVOKE ALL ON DATABASE \"{}\" FROM \"{role}\"", target.db.dbname());
    if let Err(e) = target.client().await.batch_execute(&sql).await {
        eprintln!("cannot drop what {role} holds: {e}");
    }
    let admin = target.db.with_dbname("postgres").connect().await.expect("PostgreSQL must be running");
    if let Err(e) = admin.batch_execute(&format!("DROP ROLE IF EXISTS \"{role}\"")).await {
        eprintln!("cannot drop role {role}: {e}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_counts_exactly_as_a_role_that_cannot_change_the_schema() {
    let _turn = turn().await;
    let target = Target::fresh("least_privilege").await;
    let role = testing::unique_name("rel_engine").to_lowercase();
    let password = format!("Lp-{}", testing::unique_name("pw").replace('_', "-"));
    with_cleanup(run(&target, &role, &password), drop_role(&target, &role)).await;
}

async fn run(target: &Target, role: &str, password: &str) {
    target.migrate().await;
    apply_role_script(role, password, target.db.dbname());
    // Idempotent: a second run resets the same grants.
    apply_role_script(role, password, target.db.dbname());

    let as_role = target.db.with_user(role, Some(password));
    let role_url = target.db_url.replacen("://postgres@", &format!("://{role}:{password}@"), 1);
    assert_ne!(role_url, target.db_url, "TEST_DATABASE_URL must name the postgres user");
    let expected = publish_backlog(target, 10_000, generator(20)).await;
    let engine = target
        .engine_via(&target.amqp_url, &role_url)
        .env("RUN_MIGRATIONS", "false")
        .args(["--batch-size", "100"])
        .start()
        .await;
    assert_exact(target, &expected, Duration::from_secs(120)).await;
    wait_for_dlq(target, expected.invalid_sent, Duration::from_secs(30)).await;
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    let recorded = target.scalar("SELECT count(*) FROM duplicate_attempts").await as u64;
    assert_eq!(recorded, expected.duplicates_sent, "the role could not record every duplicate");

    // The role may do what the engine does and nothing that changes the schema or deletes.
    let client = as_role.connect().await.expect("the role logs in");
    let attributes = client
        .query_one("SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = current_user", &[])
        .await
        .expect("read own attributes");
    let flags: Vec<bool> = (0..5).map(|i| attributes.get(i)).collect();
    assert_eq!(flags, [false; 5], "superuser, createdb, createrole, replication, bypassrls");
    let denied = [
        "CREATE TABLE intruder (id int)",
        "CREATE TEMPORARY TABLE intruder (id int)",
        "CREATE SCHEMA intruder",
        "CREATE VIEW intruder AS SELECT 1",
        "CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "CREATE INDEX intruder ON vote_audit (choice)",
        "ALTER TABLE vote_audit DROP CONSTRAINT vote_audit_vote_hash_key",
        "ALTER TABLE vote_results ADD COLUMN intruder int",
        "DROP TABLE vote_results",
        "TRUNCATE vote_audit",
        "DELETE FROM vote_results",
        "DELETE FROM duplicate_attempts",
        "SELECT count(*) FROM vote_engine_schema_history",
        "CREATE DATABASE intruder",
        "CREATE ROLE intruder",
    ];
    for sql in denied {
        let error = client.batch_execute(sql).await.expect_err(sql);
        assert_eq!(error.code(), Some(&SqlState::INSUFFICIENT_PRIVILEGE), "{sql}: {error}");
    }
    // And it can still do its job: read totals, count, record duplicates.
    let law = &expected.laws.keys().next().expect("a law").clone();
    client
        .batch_execute(&format!(
            "BEGIN; \
             INSERT INTO vote_audit (vote_hash, citizen_id, law_id, choice, \"timestamp\") VALUES ('lp-check', 'lp-citizen', '{law}', 'oui', now()); \
             UPDATE vote_results SET oui_count = oui_count + 1 WHERE law_id = '{law}'; \
             INSERT INTO duplicate_attempts (vote_hash, citizen_id, law_id, reason) VALUES ('lp-check', 'lp-citizen', '{law}', 'vote_hash'); \
             ROLLBACK"
        ))
        .await
        .expect("the engine's own statements are allowed");
    println!(
        "engine as role {role} (RUN_MIGRATIONS=false): {} votes counted exactly; {} schema-changing or deleting \
         statements refused with insufficient_privilege",
        expected.total,
        denied.len()
    );
    target.delete_queues().await;
}

/// Creates `user` for `component` with `scripts/rabbitmq-users.sh` (the engine's queue named by
/// `engine_queue`, the sharded intake's exchange `<engine_queue>.votes`), password `password`.
fn grant_broker_user(component: &str, user: &str, password: &str, engine_queue: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rabbitmq-users.sh");
    let mut child = Command::new(&script)
        .args(["grant", component, user])
        .env("ENGINE_QUEUE", engine_queue)
        .env("VOTE_EXCHANGE", format!("{engine_queue}.votes"))
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("run {}: {e}", script.display()));
    use std::io::Write as _;
    writeln!(child.stdin.take().expect("stdin"), "{password}").expect("write the password");
    let output = child.wait_with_output().expect("the script ends");
    assert!(
        output.status.success(),
        "{} grant {component} failed (this test needs rabbitmqctl): {}",
        script.display(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn delete_broker_user(user: &str) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rabbitmq-users.sh");
    match Command::new(&script).args(["delete", user]).output() {
        Ok(o) if o.status.success() => {}
        other => eprintln!("cannot delete RabbitMQ user {user}: {other:?}"),
    }
}

/// The test broker's URL with `user:password` instead of its credentials.
fn as_broker_user(target: &Target, user: &str, password: &str) -> String {
    let url = target.amqp_url.replacen("://guest:guest@", &format!("://{user}:{password}@"), 1);
    assert_ne!(url, target.amqp_url, "TEST_AMQP_URL must name the guest user");
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broker_users_hold_only_what_their_component_uses() {
    let _turn = turn().await;
    let target = Target::fresh("broker_users").await;
    let engine_user = testing::unique_name("rel_engine_user");
    let producer_user = testing::unique_name("rel_producer_user");
    let password = testing::unique_name("pw");
    let cleanup = async {
        delete_broker_user(&engine_user);
        delete_broker_user(&producer_user);
    };
    with_cleanup(broker_run(&target, &engine_user, &producer_user, &password), cleanup).await;
}

async fn broker_run(target: &Target, engine_user: &str, producer_user: &str, password: &str) {
    grant_broker_user("engine", engine_user, password, &target.queue);
    grant_broker_user("producer", producer_user, password, &target.queue);
    let engine_url = as_broker_user(target, engine_user, password);
    let producer_url = vote_mq::AmqpUrl::parse(&as_broker_user(target, producer_user, password)).unwrap();

    // The engine's user declares the vote queue (as the engine does at start), then the
    // producer publishes into it ...
    let engine_amqp = vote_mq::AmqpUrl::parse(&engine_url).unwrap();
    vote_loadgen::declare_queue(&engine_amqp, &target.queue, vote_loadgen::DEFAULT_QUEUE_TYPE)
        .await
        .expect("the engine's user declares its queue");
    let generator = generator(10);
    let config = vote_loadgen::PublishConfig::new(&target.queue, 2_000, generator);
    let report = vote_loadgen::publish::publish(&producer_url, &config).await.expect("the producer may publish votes");
    let expected = report.expected;
    // ... and cannot read one vote back.
    let taken = vote_mq::take_messages(&producer_url, &target.queue, 1).await;
    assert!(taken.is_err(), "the producer's user took votes: {taken:?}");
    assert_eq!(target.queue_depth().await as u64, expected.messages_sent, "nothing was taken");

    // The engine counts exactly as its own user.
    let engine = target.engine_via(&engine_url, &target.db_url).start().await;
    assert_exact(target, &expected, Duration::from_secs(60)).await;
    wait_for_dlq(target, expected.invalid_sent, Duration::from_secs(30)).await;
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");

    // The engine's user cannot publish to the events exchange: nothing reaches a queue bound to it.
    let guest = target.amqp();
    vote_mq::declare_topic_exchange(&guest, "events", "least-privilege-test").await.expect("declare events");
    let listener = testing::unique_name("rel_events_listener");
    let config = vote_mq::SubscriptionConfig {
        topology: vote_mq::QueueTopology::new(&listener, &format!("{listener}.dlx"), &format!("{listener}.dlq")),
        bindings: Some(("events".to_owned(), vec!["#".to_owned()])),
        prefetch: 1,
        name: listener.clone(),
    };
    let subscription = vote_mq::Subscription::open(&guest, &config).await.expect("listen on events");
    let routing_key = testing::unique_name("intrusion");
    let published = match vote_mq::Publisher::connect(&engine_amqp, "least-privilege-test").await {
        Ok(publisher) => {
            let message = vote_mq::OutgoingMessage::json("events", &routing_key, b"{}".to_vec());
            tokio::time::timeout(Duration::from_secs(3), publisher.publish(&message)).await
        }
        Err(e) => panic!("the engine's user may connect: {e}"),
    };
    assert!(!matches!(published, Ok(Ok(()))), "the broker confirmed a publish to events by the engine's user");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let arrived = vote_mq::take_messages(&guest, &listener, 10).await.expect("read the listener queue");
    assert!(
        arrived.iter().all(|d| d.routing_key != routing_key),
        "the engine's user published to events: {:?}",
        arrived.iter().map(|d| &d.routing_key).collect::<Vec<_>>()
    );
    drop(subscription);
    for queue in [listener.clone(), format!("{listener}.dlq")] {
        let _ = vote_mq::admin::delete_queue(&guest, &queue).await;
    }
    println!(
        "broker users: producer {producer_user} published {} messages and could not take one back; engine \
         {engine_user} counted them exactly and could not publish to events",
        expected.messages_sent
    );
    target.delete_queues().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sharded_intake_runs_as_the_same_least_privilege_users() {
    let _turn = turn().await;
    let target = Target::fresh("broker_users_sharded").await;
    let engine_user = testing::unique_name("rel_shard_engine_user");
    let producer_user = testing::unique_name("rel_shard_producer_user");
    let password = testing::unique_name("pw");
    let cleanup = async {
        delete_broker_user(&engine_user);
        delete_broker_user(&producer_user);
    };
    let run = async {
        grant_broker_user("engine", &engine_user, &password, &target.queue);
        grant_broker_user("producer", &producer_user, &password, &target.queue);
        let exchange = format!("{}.votes", target.queue);
        // The engine's user declares the exchange and the shards, and consumes them.
        let engine = target
            .engine_via(&as_broker_user(&target, &engine_user, &password), &target.db_url)
            .args(["--vote-shards", "2", "--vote-exchange", &exchange])
            .start()
            .await;
        let producer_url = vote_mq::AmqpUrl::parse(&as_broker_user(&target, &producer_user, &password)).unwrap();
        let config = vote_loadgen::PublishConfig {
            exchange: Some(exchange.clone()),
            ..vote_loadgen::PublishConfig::new(&target.queue, 2_000, generator(10))
        };
        let report = vote_loadgen::publish::publish(&producer_url, &config).await.expect("the producer may publish");
        assert_exact(&target, &report.expected, Duration::from_secs(60)).await;
        let shard = format!("{}.0", target.queue);
        let taken = vote_mq::take_messages(&producer_url, &shard, 1).await;
        assert!(taken.is_err(), "the producer's user read a shard: {taken:?}");
        let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
        assert!(status.success(), "{status}");
        let guest = target.amqp();
        for queue in [shard, format!("{}.1", target.queue)] {
            for queue in [format!("{queue}.dlq"), queue] {
                vote_mq::admin::delete_queue(&guest, &queue).await.expect("delete a shard");
            }
        }
        vote_mq::admin::delete_exchange(&guest, &exchange).await.expect("delete the exchange");
    };
    with_cleanup(run, cleanup).await;
}

/// The definitions `scripts/rabbitmq-users.sh definitions` writes for brokers this machine does
/// not run (compose, Kubernetes), loaded into a real broker: the user logs in with its password
/// only, and holds exactly the script's permissions.
#[tokio::test]
async fn broker_definitions_from_the_script_let_each_user_in_with_its_permissions() {
    let _turn = turn().await;
    let user = testing::unique_name("rel_defined_producer");
    let password = testing::unique_name("pw");
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/rabbitmq-users.sh");
    let mut child = Command::new(&script)
        .arg("definitions")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("run rabbitmq-users.sh");
    use std::io::Write as _;
    writeln!(child.stdin.take().expect("stdin"), "producer {user} {password}").expect("write the user");
    let output = child.wait_with_output().expect("the script ends");
    assert!(output.status.success());
    let file = std::env::temp_dir().join(format!("{user}.json"));
    std::fs::write(&file, &output.stdout).unwrap();
    let imported = Command::new("rabbitmqctl").args(["-q", "import_definitions"]).arg(&file).output().unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(imported.status.success(), "import: {}", String::from_utf8_lossy(&imported.stderr));

    let run = async {
        let target = Target::fresh("broker_definitions").await;
        let as_user = |password: &str| vote_mq::AmqpUrl::parse(&as_broker_user(&target, &user, password)).unwrap();
        let publisher = vote_mq::Publisher::connect(&as_user(&password), "least-privilege-test").await;
        assert!(publisher.is_ok(), "the defined user logs in: {:?}", publisher.err());
        let wrong = vote_mq::Publisher::connect(&as_user("not-the-password"), "least-privilege-test").await;
        assert!(wrong.is_err(), "a wrong password is refused");
        let permissions = Command::new("rabbitmqctl").args(["-q", "list_user_permissions", &user]).output().unwrap();
        let granted = String::from_utf8_lossy(&permissions.stdout).lines().last().unwrap_or_default().to_owned();
        assert_eq!(granted, "/\t^$\t^(amq\\.default|votes)$\t^$", "the producer's permissions");
    };
    with_cleanup(run, async { delete_broker_user(&user) }).await;
}
