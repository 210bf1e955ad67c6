//! PostgreSQL access shared by the services: settings from DATABASE_URL or parts, a pool, the
//! database created when missing; migrations in [`crate::migrate`].

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::postgres_tls::TlsSettings;

/// A one-line account of a PostgreSQL client error with what the server said. The error's own
/// `Display` is only its kind ("db error"), the server's message and SQLSTATE sit in its source.
pub fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut text = format!("{}: {} (SQLSTATE {})", db.severity(), db.message(), db.code().code());
        if let Some(detail) = db.detail() {
            text.push_str(": ");
            text.push_str(detail);
        }
        return text;
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Errors setting up the database.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// DATABASE_URL could not be parsed (the message never contains the password).
    #[error("invalid DATABASE_URL: {0}")]
    InvalidUrl(String),
    /// The server refused or failed a request.
    #[error("database error: {}", describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// Applying migrations failed.
    #[error("migration failed: {0}")]
    Migration(String),
    /// The pool could not be built or could not hand out a connection.
    #[error("connection pool: {0}")]
    Pool(String),
}

/// Where the database is, and how to reach it (TLS or not). `Display` omits the password.
#[derive(Clone)]
pub struct DbTarget {
    config: tokio_postgres::Config,
    /// The TLS connector when `sslmode` asks for TLS ([`crate::postgres_tls`]).
    tls: Option<MakeRustlsConnect>,
}

impl DbTarget {
    /// Parses a DATABASE_URL (`postgres://user:pass@host:port/db` or `key=value` form). Several
    /// hosts (`h1:5432,h2:5433`) with `target_session_attrs=read-write` are tried in turn for
    /// the writable primary, as libpq does; `sslmode` and `sslrootcert` pick TLS, and a CA file
    /// named there is read now, so a bad one is a settings error.
    pub fn parse(url: &str) -> Result<Self, DbError> {
        let (rest, tls) = TlsSettings::split_from(url).map_err(DbError::InvalidUrl)?;
        let mut config = tokio_postgres::Config::from_str(&rest).map_err(|e| {
            // tokio-postgres errors describe the syntax problem, not the value.
            DbError::InvalidUrl(e.to_string())
        })?;
        config.ssl_mode(tls.ssl_mode());
        let tls = tls.connector().map_err(DbError::InvalidUrl)?;
        Ok(Self { config, tls })
    }

    /// Builds the target from separate parts (the seed's POSTGRES_* variables).
    pub fn from_parts(host: &str, port: u16, dbname: &str, user: &str, password: Option<&str>) -> Self {
        let mut config = tokio_postgres::Config::new();
        config.host(host).port(port).dbname(dbname).user(user);
        if let Some(p) = password.filter(|p| !p.is_empty()) {
            config.password(p);
        }
        Self { config, tls: None }
    }

    /// The database name.
    pub fn dbname(&self) -> &str {
        self.config.get_dbname().unwrap_or("postgres")
    }

    /// A copy pointing at another database on the same server (tests create fresh databases).
    pub fn with_dbname(&self, dbname: &str) -> Self {
        let mut config = self.config.clone();
        config.dbname(dbname);
        Self { config, tls: self.tls.clone() }
    }

    /// A copy with another role (and password).
    pub fn with_user(&self, user: &str, password: Option<&str>) -> Self {
        let mut config = self.config.clone();
        config.user(user);
        if let Some(p) = password {
            config.password(p);
        }
        Self { config, tls: self.tls.clone() }
    }

    /// The underlying client configuration (with a connect timeout set).
    pub fn config(&self) -> tokio_postgres::Config {
        let mut config = self.config.clone();
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        config
    }

    /// Opens one connection outside the pool, driving it on a background task.
    pub async fn connect(&self) -> Result<tokio_postgres::Client, DbError> {
        fn drive<T: std::future::Future<Output = Result<(), tokio_postgres::Error>> + Send + 'static>(connection: T) {
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %e, "database connection ended");
                }
            });
        }
        let config = self.config();
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) = config.connect(tls.clone()).await?;
                drive(connection);
                client
            }
            None => {
                let (client, connection) = config.connect(NoTls).await?;
                drive(connection);
                client
            }
        };
        Ok(client)
    }

    /// A pool of at most `max_size` connections, checked cheaply on reuse.
    pub fn pool(&self, max_size: usize) -> Result<Pool, DbError> {
        let recycling = ManagerConfig { recycling_method: RecyclingMethod::Fast };
        let manager = match &self.tls {
            Some(tls) => Manager::from_config(self.config(), tls.clone(), recycling),
            None => Manager::from_config(self.config(), NoTls, recycling),
        };
        Pool::builder(manager)
            .max_size(max_size)
            .wait_timeout(Some(Duration::from_secs(10)))
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .build()
            .map_err(|e| DbError::Pool(e.to_string()))
    }

    /// Creates the database if it does not exist, connecting to the `postgres` maintenance db.
    /// Services sharing a database start together: one that finds the database created by
    /// another between its check and its CREATE succeeds like the creator.
    pub async fn create_database_if_missing(&self) -> Result<(), DbError> {
        let admin = self.with_dbname("postgres").connect().await?;
        let name = self.dbname().to_owned();
        let exists = admin.query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name]).await?.is_some();
        if !exists {
            let quoted = format!("\"{}\"", name.replace('"', "\"\""));
            match admin.batch_execute(&format!("CREATE DATABASE {quoted}")).await {
                Ok(()) => tracing::info!(database = %self, "database created"),
                Err(e) if is_already_created(&e) => {
                    tracing::debug!(database = %self, "database created meanwhile by another process");
                }
                Err(e) => return Err(e.into()),
            }
        }
        Ok(())
    }
}

/// Whether a failed CREATE DATABASE failed only because another session created the database
/// first: "already exists" (42P04), or, when both CREATEs ran at once, the unique violation on
/// `pg_database` (23505) of the one that committed second.
fn is_already_created(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    error.code().is_some_and(|code| *code == SqlState::DUPLICATE_DATABASE || *code == SqlState::UNIQUE_VIOLATION)
}

pub(crate) fn advisory_key(name: &str) -> i64 {
    // FNV-1a: stable across builds, unlike std's randomized hasher.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in name.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    hash as i64
}

impl fmt::Display for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let host = match self.config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            #[cfg(unix)]
            Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
            None => "localhost".to_owned(),
        };
        let port = self.config.get_ports().first().copied().unwrap_or(5432);
        let user = self.config.get_user().unwrap_or("postgres");
        write!(f, "postgres://{user}@{host}:{port}/{}", self.dbname())
    }
}

impl fmt::Debug for DbTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_never_shows_the_password() {
        let t = DbTarget::parse("postgres://vote:s3cret@db.example:6543/election_votes").unwrap();
        assert_eq!(t.to_string(), "postgres://vote@db.example:6543/election_votes");
        assert!(!format!("{t:?}").contains("s3cret"));
        let err = DbTarget::parse("postgres://vote:s3cret@db:notaport/x").err().unwrap().to_string();
        assert!(!err.contains("s3cret"), "{err}");
    }

    #[tokio::test]
    async fn concurrent_creators_of_one_database_all_succeed() {
        let server = DbTarget::parse(&crate::testing::database_url()).unwrap();
        for round in 0..3 {
            let target = server.with_dbname(&crate::testing::unique_name(&format!("test_race{round}")));
            let creators: Vec<_> = (0..8)
                .map(|_| {
                    let target = target.clone();
                    tokio::spawn(async move { target.create_database_if_missing().await })
                })
                .collect();
            for creator in creators {
                let outcome = creator.await.expect("creator task");
                assert!(outcome.is_ok(), "round {round}: {}", outcome.unwrap_err());
            }
            let client = target.connect().await.expect("the database exists");
            assert_eq!(
                client.query_one("SELECT current_database()", &[]).await.unwrap().get::<_, String>(0),
                target.dbname()
            );
        }
    }

    #[tokio::test]
    async fn described_errors_say_what_the_server_said() {
        let db = crate::testing::fresh_database("describe_errors").await;
        let client = db.connect().await.expect("PostgreSQL must be running for this test");
        let refused = client.simple_query("SELECT * FROM no_such_table").await.unwrap_err();
        assert_eq!(refused.to_string(), "db error", "the bare Display this function exists for");
        let text = describe(&refused);
        assert!(
            text.contains("relation \"no_such_table\" does not exist") && text.ends_with("(SQLSTATE 42P01)"),
            "{text}"
        );
        assert_eq!(DbError::from(refused).to_string(), format!("database error: {text}"));

        // Not a server error: the kind, then its causes.
        let unreachable = DbTarget::parse("postgres://postgres@127.0.0.1:1/x").unwrap().connect().await.err().unwrap();
        let text = unreachable.to_string();
        assert!(text.starts_with("database error: error connecting to server: ") && text.len() > 45, "{text}");
    }
}
