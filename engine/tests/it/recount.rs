//! `vote-engine recount` against votes the engine counted: it agrees on an untouched database,
//! names every tampered law (changed, added, deleted totals, a changed audit row), checks one
//! law with `--law` and refuses an unknown one (exit 4), runs
//! as a role that may only read, and records its outcome only where the role may.

use crate::common;

use std::process::Output;
use std::time::Duration;

use common::*;
use vote_engine::recount::{self, Counts, Difference, Verdict};
use vote_engine::rule::RevoteRule;
use vote_runtime::postgres::DbTarget;

/// Runs the binary's `recount` against `database_url` with `extra` arguments.
fn recount_binary(database_url: &str, extra: &[&str]) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_vote-engine"))
        .env_clear()
        .env("DATABASE_URL", database_url)
        .arg("recount")
        .args(extra)
        .output()
        .expect("run vote-engine recount")
}

fn text(output: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr))
}

/// A database the engine counted 30 votes into: law-a 10 oui, law-b 5 oui 5 non, law-c 10 non,
/// plus one duplicate.
async fn counted(name: &str) -> Target {
    let target = Target::fresh(name).await;
    let engine = Engine::start(&target, &[]).await;
    let mut bodies = Vec::new();
    for i in 0..10 {
        bodies.push(vote(&format!("a{i}"), &format!("c{i}"), "law-a", "oui"));
        bodies.push(vote(&format!("b{i}"), &format!("c{i}"), "law-b", if i < 5 { "oui" } else { "non" }));
        bodies.push(vote(&format!("c{i}"), &format!("c{i}"), "law-c", "non"));
    }
    bodies.push(vote("a0", "c0", "law-a", "oui"));
    publish(&target, &bodies).await;
    wait_for_total(&target.db, 30, Duration::from_secs(30)).await;
    engine.stop().await;
    target
}

/// A login role with `grants` (statements where `ROLE` is replaced by the role's name).
async fn role(target: &Target, name: &str, grants: &[&str]) -> (DbTarget, String) {
    let role = vote_runtime::testing::unique_name(name).to_lowercase();
    let client = target.db.connect().await.unwrap();
    client.batch_execute(&format!("CREATE ROLE {role} LOGIN PASSWORD 'pw'")).await.unwrap();
    client.batch_execute(&format!("GRANT CONNECT ON DATABASE \"{}\" TO {role}", target.db.dbname())).await.unwrap();
    for grant in grants {
        client.batch_execute(&grant.replace("ROLE", &role)).await.unwrap();
    }
    let url = target.db_url.replacen("://postgres@", &format!("://{role}:pw@"), 1);
    assert_ne!(url, target.db_url, "TEST_DATABASE_URL must name the postgres user");
    (target.db.with_user(&role, Some("pw")), url)
}

async fn drop_role(target: &Target, db: &DbTarget) {
    let role = db.to_string().split("://").nth(1).unwrap().split('@').next().unwrap().to_owned();
    let client = target.db.connect().await.unwrap();
    client
        .batch_execute(&format!("DROP OWNED BY {role}; REVOKE ALL ON DATABASE \"{}\" FROM {role}", target.db.dbname()))
        .await
        .unwrap();
    target
        .db
        .with_dbname("postgres")
        .connect()
        .await
        .unwrap()
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_untouched_database_agrees_and_every_tampered_law_is_named() {
    let target = counted("recount_tamper").await;
    let mut out = Vec::new();
    let verdict = recount::run(&target.db, None, RevoteRule::First, &mut out).await.unwrap();
    assert_eq!(verdict, Verdict::Agreed, "{}", String::from_utf8_lossy(&out));
    let printed = String::from_utf8(out).unwrap();
    assert!(
        printed.contains(
            "recount of 3 laws, 30 votes in vote_audit, 31 recorded votes decided again: vote_results agrees \
             with vote_audit and with the first rule"
        ),
        "{printed}"
    );
    assert!(printed.contains("outcome recorded in recount_runs"), "{printed}");
    let output = recount_binary(&target.db_url, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));

    // Tampering: a total raised, a law with no votes given some, a law's row deleted.
    target
        .db
        .connect()
        .await
        .unwrap()
        .batch_execute(
            "UPDATE vote_results SET oui_count = oui_count + 1 WHERE law_id = 'law-b';
             INSERT INTO vote_results (law_id, oui_count, non_count) VALUES ('law-ghost', 7, 0);
             DELETE FROM vote_results WHERE law_id = 'law-c';",
        )
        .await
        .unwrap();
    let client = target.db.connect().await.unwrap();
    let found = recount::recount(&client, None, RevoteRule::First).await.unwrap().expect("every law");
    assert_eq!(
        found.differences,
        [
            Difference {
                law_id: "law-b".into(),
                stored: Some(Counts { oui: 6, non: 5 }),
                recounted: Counts { oui: 5, non: 5 },
                audited: Counts { oui: 5, non: 5 },
            },
            Difference {
                law_id: "law-c".into(),
                stored: None,
                recounted: Counts { oui: 0, non: 10 },
                audited: Counts { oui: 0, non: 10 },
            },
            Difference {
                law_id: "law-ghost".into(),
                stored: Some(Counts { oui: 7, non: 0 }),
                recounted: Counts { oui: 0, non: 0 },
                audited: Counts { oui: 0, non: 0 },
            },
        ]
    );
    assert_eq!((found.laws_checked, found.votes_checked), (4, 30));

    let output = recount_binary(&target.db_url, &[]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    let printed = text(&output);
    for line in [
        "differs: law \"law-b\": vote_results oui 6 non 5, by the rule oui 5 non 5, vote_audit oui 5 non 5",
        "differs: law \"law-c\": vote_results no row, by the rule oui 0 non 10, vote_audit oui 0 non 10",
        "differs: law \"law-ghost\": vote_results oui 7 non 0, by the rule oui 0 non 0, vote_audit oui 0 non 0",
        "recount of 4 laws, 30 votes in vote_audit, 31 recorded votes decided again: 3 laws differ",
    ] {
        assert!(printed.contains(line), "missing {line:?} in:\n{printed}");
    }

    // One law: the untouched one agrees, the tampered one does not.
    let output = recount_binary(&target.db_url, &["--law", "law-a"]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("recount of law \"law-a\", 10 votes in vote_audit, 11 recorded votes"));
    let output = recount_binary(&target.db_url, &["--law", "law-b"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));

    // A law the database has never seen is an error of its own, not an agreement, and no run.
    let output = recount_binary(&target.db_url, &["--law", "nope"]);
    assert_eq!(output.status.code(), Some(4), "{}", text(&output));
    assert!(text(&output).contains("unknown law \"nope\""), "{}", text(&output));

    // A vote of the audit changed by hand: the rule over the recorded votes no longer agrees.
    client
        .batch_execute("UPDATE vote_audit SET choice = 'non' WHERE law_id = 'law-a' AND citizen_id = 'c1'")
        .await
        .unwrap();
    let output = recount_binary(&target.db_url, &["--law", "law-a"]);
    assert_eq!(output.status.code(), Some(1), "{}", text(&output));
    assert!(
        text(&output).contains("vote_results oui 10 non 0, by the rule oui 9 non 1, vote_audit oui 9 non 1"),
        "{}",
        text(&output)
    );

    // Every run above was recorded, with its scope and verdict.
    let runs = client
        .query("SELECT law_id, laws_checked, votes_checked, differences, agreed FROM recount_runs ORDER BY id", &[])
        .await
        .unwrap();
    let runs: Vec<(Option<String>, i64, i64, i64, bool)> =
        runs.iter().map(|r| (r.get(0), r.get(1), r.get(2), r.get(3), r.get(4))).collect();
    assert_eq!(
        runs,
        [
            (None, 3, 30, 0, true),
            (None, 3, 30, 0, true),
            (None, 4, 30, 3, false),
            (Some("law-a".into()), 1, 10, 0, true),
            (Some("law-b".into()), 1, 10, 1, false),
            (Some("law-a".into()), 1, 10, 1, false),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_only_role_recounts_and_records_only_when_allowed() {
    let target = counted("recount_roles").await;
    let (reader, reader_url) = role(
        &target,
        "recount_reader",
        &[
            "GRANT USAGE ON SCHEMA public TO ROLE",
            "GRANT SELECT ON vote_results, vote_audit, duplicate_attempts, recount_runs TO ROLE",
        ],
    )
    .await;
    let output = recount_binary(&reader_url, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("outcome not recorded: this role may not write recount_runs"), "{}", text(&output));

    let (recorder, recorder_url) = role(
        &target,
        "recount_recorder",
        &[
            "GRANT USAGE ON SCHEMA public TO ROLE",
            "GRANT SELECT ON vote_results, vote_audit, duplicate_attempts TO ROLE",
            "GRANT INSERT ON recount_runs TO ROLE",
        ],
    )
    .await;
    let output = recount_binary(&recorder_url, &[]);
    assert_eq!(output.status.code(), Some(0), "{}", text(&output));
    assert!(text(&output).contains("outcome recorded in recount_runs"), "{}", text(&output));
    let client = target.db.connect().await.unwrap();
    let by: Vec<String> =
        client.query("SELECT run_by FROM recount_runs", &[]).await.unwrap().iter().map(|r| r.get(0)).collect();
    assert_eq!(by.len(), 1, "only the recorder's run is stored: {by:?}");
    assert!(by[0].starts_with("recount_recorder"), "{by:?}");

    drop_role(&target, &reader).await;
    drop_role(&target, &recorder).await;
}

#[tokio::test]
async fn bad_settings_exit_2_and_an_unreachable_database_exits_3() {
    for (url, args) in [
        ("postgres://postgres@127.0.0.1:5432/x", vec!["--law", ""]),
        ("postgres://postgres@127.0.0.1:5432/x", vec!["--law", &"x".repeat(129)]),
        ("postgres://postgres@127.0.0.1:notaport/x", vec![]),
    ] {
        let output = recount_binary(url, &args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {}", text(&output));
        assert_eq!(String::from_utf8_lossy(&output.stderr).lines().count(), 1, "{}", text(&output));
    }
    let output = recount_binary("postgres://postgres@127.0.0.1:1/x", &[]);
    assert_eq!(output.status.code(), Some(3), "{}", text(&output));
    assert!(text(&output).starts_with("error: "), "{}", text(&output));
}
