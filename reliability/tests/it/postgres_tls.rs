//! Promise: the engine reaches PostgreSQL over TLS when DATABASE_URL asks for it, and checks the
//! server's certificate as libpq's `sslmode` says. A scratch PostgreSQL server of the test's own
//! gets a certificate for `localhost` from a test CA; the engine counts exactly through
//! `sslmode=verify-full`, its sessions show as TLS in `pg_stat_ssl`, and another CA or a host
//! name the certificate does not carry is refused with a message saying why.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use vote_reliability::*;
use vote_runtime::postgres::DbTarget;
use vote_runtime::testing;

/// The scratch server's port (the suite's database on 5432 keeps its settings).
const PORT: u16 = 5436;

/// Installs `authority`'s server certificate and key in the scratch server and turns TLS on.
async fn serve_tls(server: &ScratchPostgres, authority: &Pki) -> tempdir::Dir {
    let dir = tempdir::Dir::new();
    let (cert, key) = (dir.0.join("server.crt"), dir.0.join("server.key"));
    std::fs::write(&cert, &authority.server_cert_pem).expect("write the certificate");
    std::fs::write(&key, &authority.server_key_pem).expect("write the key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("key mode");
    let status = std::process::Command::new("chown").args(["-R", "postgres:postgres"]).arg(&dir.0).status();
    assert!(status.is_ok_and(|s| s.success()), "chown the certificate files to postgres");
    let admin = DbTarget::parse(&format!("postgres://postgres@127.0.0.1:{}/postgres", server.port))
        .unwrap()
        .connect()
        .await
        .expect("the scratch server answers");
    let (cert, key) = (cert.display(), key.display());
    for statement in [
        format!("ALTER SYSTEM SET ssl_cert_file = '{cert}'"),
        format!("ALTER SYSTEM SET ssl_key_file = '{key}'"),
        "ALTER SYSTEM SET ssl = on".to_owned(),
        "SELECT pg_reload_conf()".to_owned(),
    ] {
        admin.batch_execute(&statement).await.unwrap_or_else(|e| panic!("{statement}: {e}"));
    }
    dir
}

/// A scratch folder the postgres user can read, removed on drop.
mod tempdir {
    pub struct Dir(pub std::path::PathBuf);

    impl Dir {
        pub fn new() -> Self {
            let path = std::env::temp_dir().join(vote_runtime::testing::unique_name("pg_tls"));
            std::fs::create_dir_all(&path).expect("create the certificate folder");
            Self(path)
        }
    }

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

fn url(host: &str, dbname: &str, tls: &str) -> String {
    format!("postgres://postgres@{host}:{PORT}/{dbname}?{tls}")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_engine_counts_over_tls_to_postgres_and_checks_the_certificate() {
    let _turn = turn().await;
    let server = ScratchPostgres::start(PORT);
    let authority = pki("localhost");
    let _files = serve_tls(&server, &authority).await;
    let ca = CaFile::write(&authority.ca_pem);
    let dbname = testing::unique_name("test_rel_pg_tls");
    let verify_full = url("localhost", &dbname, &format!("sslmode=verify-full&sslrootcert={}", ca.0.display()));
    let db = DbTarget::parse(&verify_full).expect("a verify-full URL parses");
    db.create_database_if_missing().await.expect("verify-full against the right CA and name connects");
    let target = Target {
        db,
        db_url: verify_full.clone(),
        amqp_url: testing::amqp_url(),
        queue: testing::unique_name("rel_pg_tls"),
    };

    let expected = publish_backlog(&target, 5_000, generator(20)).await;
    let engine = target.engine().args(["--batch-size", "100"]).start().await;
    assert_exact(&target, &expected, Duration::from_secs(120)).await;
    let tls_sessions = target
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = '{dbname}' AND s.ssl AND a.pid <> pg_backend_pid()"
        ))
        .await;
    let plain_sessions = target
        .scalar(&format!(
            "SELECT count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) \
             WHERE a.datname = '{dbname}' AND NOT s.ssl"
        ))
        .await;
    assert!(tls_sessions >= 1, "the engine holds no TLS session");
    assert_eq!(plain_sessions, 0, "a session without TLS");
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    println!("{} votes counted exactly over sslmode=verify-full ({tls_sessions} TLS sessions)", expected.total);

    // require: encrypted without a CA; verify-ca: the chain checked, not the name.
    for tls in ["sslmode=require".to_owned(), format!("sslmode=verify-ca&sslrootcert={}", ca.0.display())] {
        let client = DbTarget::parse(&url("127.0.0.1", &dbname, &tls)).unwrap().connect().await;
        let client = client.unwrap_or_else(|e| panic!("{tls}: {e}"));
        let ssl: bool =
            client.query_one("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", &[]).await.unwrap().get(0);
        assert!(ssl, "{tls} connected without TLS");
    }

    // Refused: another CA, a name the certificate does not carry, and the engine says why.
    let other_ca = CaFile::write(&pki("localhost").ca_pem);
    let refused = [
        (
            "an unknown CA",
            url("localhost", &dbname, &format!("sslmode=verify-full&sslrootcert={}", other_ca.0.display())),
            "invalid peer certificate",
        ),
        (
            "a name not in the certificate",
            url("127.0.0.1", &dbname, &format!("sslmode=verify-full&sslrootcert={}", ca.0.display())),
            "not valid for name",
        ),
    ];
    for (why, db_url, cause) in refused {
        let err =
            DbTarget::parse(&db_url).unwrap().connect().await.err().unwrap_or_else(|| panic!("{why} was accepted"));
        assert!(err.to_string().contains(cause), "{why}: {err}");
        // The engine keeps retrying (it never serves an unchecked database) and logs why.
        let mut engine = target.engine_via(&target.amqp_url, &db_url).spawn_process();
        wait_until(&format!("the engine refuses {why}"), Duration::from_secs(30), async || {
            engine.output().contains(cause)
        })
        .await;
        engine.assert_running(&format!("after refusing {why}"));
        engine.kill9().await;
    }
    target.delete_queues().await;
    drop(server);
}
