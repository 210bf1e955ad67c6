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
        "DELETE FROM vote_audit",
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
