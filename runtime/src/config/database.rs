//! Where the database is (DATABASE_URL, or the seed's POSTGRES_HOST/PORT/DB/USER/PASSWORD
//! parts) and how many connections a process keeps to it.

use deadpool_postgres::Pool;

use secrecy::{ExposeSecret, SecretString};

use super::{ConfigError, Validate, at_least_one, non_empty};
use crate::postgres::{DbError, DbTarget};

/// POSTGRES_DB when unset: the engine's database (loadgen reads it too). Each satellite
/// binary has its own default.
pub const DEFAULT_DATABASE: &str = "election_votes";
/// POSTGRES_MIN_CONNECTIONS when unset.
pub const DEFAULT_MIN_CONNECTIONS: usize = 2;
/// POSTGRES_MAX_CONNECTIONS when unset.
pub const DEFAULT_MAX_CONNECTIONS: usize = 10;

/// The database. DATABASE_URL wins when set; otherwise the target is built from the parts,
/// which need no percent-encoding.
#[derive(Debug, Clone, clap::Args)]
pub struct DatabaseArgs {
    /// PostgreSQL URL (`postgres://user:password@host:port/db`, percent-encoded, or `key=value`
    /// form). Wins over POSTGRES_HOST/PORT/DB/USER/PASSWORD.
    #[arg(long, env = "DATABASE_URL", value_name = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// PostgreSQL host (when DATABASE_URL is unset).
    #[arg(long, env = "POSTGRES_HOST", value_name = "POSTGRES_HOST", default_value = "localhost")]
    pub postgres_host: String,
    /// PostgreSQL port.
    #[arg(long, env = "POSTGRES_PORT", value_name = "POSTGRES_PORT", default_value_t = 5432)]
    pub postgres_port: u16,
    /// PostgreSQL database; created when missing if the role may.
    #[arg(long, env = "POSTGRES_DB", value_name = "POSTGRES_DB", default_value = DEFAULT_DATABASE)]
    pub postgres_db: String,
    /// PostgreSQL user.
    #[arg(long, env = "POSTGRES_USER", value_name = "POSTGRES_USER", default_value = "postgres")]
    pub postgres_user: String,
    /// PostgreSQL password (empty: none, e.g. trust or peer authentication).
    #[arg(long, env = "POSTGRES_PASSWORD", value_name = "POSTGRES_PASSWORD", default_value = "")]
    #[arg(hide_env_values = true, hide_default_value = true)]
    pub postgres_password: SecretString,
    /// Connections opened at start.
    #[arg(long, env = "POSTGRES_MIN_CONNECTIONS", value_name = "POSTGRES_MIN_CONNECTIONS", default_value_t = DEFAULT_MIN_CONNECTIONS)]
    pub postgres_min_connections: usize,
    /// Most connections the process keeps (its pool size).
    #[arg(long, env = "POSTGRES_MAX_CONNECTIONS", value_name = "POSTGRES_MAX_CONNECTIONS", default_value_t = DEFAULT_MAX_CONNECTIONS)]
    pub postgres_max_connections: usize,
}

/// Validated [`DatabaseArgs`].
#[derive(Debug, Clone)]
pub struct Database {
    /// Where it is.
    pub target: DbTarget,
    /// Connections opened at start.
    pub min_connections: usize,
    /// Pool size (at least `min_connections`, at least 1).
    pub max_connections: usize,
}

impl Database {
    /// A pool of [`Database::max_connections`] to the target.
    pub fn pool(&self) -> Result<Pool, DbError> {
        self.target.pool(self.max_connections)
    }
}

impl From<DbTarget> for Database {
    /// The target with the default pool sizes.
    fn from(target: DbTarget) -> Self {
        Self { target, min_connections: DEFAULT_MIN_CONNECTIONS, max_connections: DEFAULT_MAX_CONNECTIONS }
    }
}

impl Validate for DatabaseArgs {
    type Settings = Database;

    fn validate(self) -> Result<Database, ConfigError> {
        let target = match &self.database_url {
            // tokio-postgres describes the syntax problem, never the value.
            Some(url) => DbTarget::parse(url.expose_secret().trim())
                .map_err(|e| ConfigError::new("DATABASE_URL", e.to_string()))?,
            None => {
                let host = non_empty("POSTGRES_HOST", &self.postgres_host)?;
                if self.postgres_port == 0 {
                    return Err(ConfigError::new("POSTGRES_PORT", "must be a port number in 1..=65535"));
                }
                let dbname = non_empty("POSTGRES_DB", &self.postgres_db)?;
                let user = non_empty("POSTGRES_USER", &self.postgres_user)?;
                DbTarget::from_parts(
                    &host,
                    self.postgres_port,
                    &dbname,
                    &user,
                    Some(self.postgres_password.expose_secret()),
                )
            }
        };
        let max_connections = at_least_one("POSTGRES_MAX_CONNECTIONS", self.postgres_max_connections)?;
        if self.postgres_min_connections > max_connections {
            return Err(ConfigError::new("POSTGRES_MIN_CONNECTIONS", "must not exceed POSTGRES_MAX_CONNECTIONS"));
        }
        Ok(Database { target, min_connections: self.postgres_min_connections, max_connections })
    }
}
