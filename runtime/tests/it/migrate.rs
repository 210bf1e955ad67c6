//! Migrations against a real database: a failure names the migration, the statement and what
//! PostgreSQL said; a superseded migration's new text is accepted where the old one ran, and
//! only there.

use refinery::{Migration, Runner};
use vote_runtime::migrate::Superseded;
use vote_runtime::testing::fresh_database;

const HISTORY: &str = "it_schema_history";

fn runner(migrations: &[(&str, &str)]) -> Runner {
    Runner::new(&migrations.iter().map(|(name, sql)| Migration::unapplied(name, sql).unwrap()).collect::<Vec<_>>())
}

#[tokio::test]
async fn a_failed_migration_names_itself_the_statement_and_the_database_s_message() {
    let db = fresh_database("migrate_error").await;
    db.migrate(runner(&[("V1__first", "CREATE TABLE outbox (id int);")]), HISTORY, &[]).await.unwrap();
    let second =
        "-- another schema's copy of the table\nCREATE TABLE kept (id int);\n\nCREATE TABLE outbox (\n    id int\n);\n";
    let error = db
        .migrate(runner(&[("V1__first", "CREATE TABLE outbox (id int);"), ("V2__second", second)]), HISTORY, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("V2__second"), "{error}");
    assert!(error.contains("`CREATE TABLE outbox ( …`"), "{error}");
    assert!(error.contains(r#"relation "outbox" already exists (SQLSTATE 42P07)"#), "{error}");

    let syntax = "CREATE TABLE fine (id int);\nCREATE TABEL broken (id int);\n";
    let error = db
        .migrate(runner(&[("V1__first", "CREATE TABLE outbox (id int);"), ("V2__typo", syntax)]), HISTORY, &[])
        .await
        .unwrap_err()
        .to_string();
    assert!(error.contains("V2__typo") && error.contains("`CREATE TABEL broken (id int)`"), "{error}");
    assert!(error.contains("syntax error"), "{error}");
}

#[tokio::test]
async fn a_superseded_migration_is_accepted_where_its_old_text_ran_and_nowhere_else() {
    let old = "CREATE TABLE a (id int);\nCREATE TABLE shared (id int);";
    let new = "CREATE TABLE a (id int);\n-- shared: made by another migration now";
    let old_checksum = Migration::unapplied("V1__a", old).unwrap().checksum().to_string();
    let superseded = [Superseded { version: 1, old_checksum: Box::leak(old_checksum.into_boxed_str()) }];

    let db = fresh_database("migrate_superseded").await;
    db.migrate(runner(&[("V1__a", old)]), HISTORY, &[]).await.unwrap();
    let refused = db.migrate(runner(&[("V1__a", new)]), HISTORY, &[]).await.unwrap_err().to_string();
    assert!(refused.contains("different"), "an edited migration is refused without the record: {refused}");
    assert_eq!(
        db.migrate(runner(&[("V1__a", new), ("V2__b", "CREATE TABLE b (id int);")]), HISTORY, &superseded)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        db.migrate(runner(&[("V1__a", new), ("V2__b", "CREATE TABLE b (id int);")]), HISTORY, &[]).await.unwrap(),
        0,
        "recorded once"
    );

    let other = fresh_database("migrate_other_text").await;
    other.migrate(runner(&[("V1__a", "CREATE TABLE z (id int);")]), HISTORY, &[]).await.unwrap();
    let still = other.migrate(runner(&[("V1__a", new)]), HISTORY, &superseded).await.unwrap_err().to_string();
    assert!(still.contains("different"), "a third text is still refused: {still}");
}
