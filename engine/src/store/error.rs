//! The store's errors, sorted by whose fault they are: only refused data is ever the votes'.

/// Database errors, sorted by what to do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had from the pool.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The server returned an error or the connection broke mid-request.
    #[error("database error: {}", vote_runtime::postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
    /// Another writer changed the votes a replacement was deciding: written again, like a
    /// conflict.
    #[error("write conflict: {0}")]
    Raced(&'static str),
}

/// How to react to an error. Only [`ErrorKind::Data`] can ever dead-letter a vote: every other
/// failure is the database's, not the vote's, and the batch waits for it to pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Connection lost or server unavailable (no SQLSTATE, classes 08, 53, 57, 58): retry
    /// without limit.
    Connection,
    /// Conflict with a concurrent transaction (classes 40, 55): retry without limit; after
    /// MAX_RETRY_ATTEMPTS a batch is split, since smaller transactions conflict less.
    Transient,
    /// This data is refused (classes 22, 23, 54: bad value, constraint, a limit exceeded by a
    /// value): split the batch to isolate the vote, then dead-letter it.
    Data,
    /// The database refuses every write (missing table, no privilege, wrong database, ...):
    /// no vote is at fault and no split can help; retry without limit until an operator
    /// fixes it.
    Setup,
}

impl ErrorKind {
    /// Every kind, for metrics exported before the first error.
    pub const ALL: [ErrorKind; 4] = [ErrorKind::Connection, ErrorKind::Transient, ErrorKind::Data, ErrorKind::Setup];

    /// A short label for `aggregation_errors_total{error_type}`.
    pub fn label(self) -> &'static str {
        match self {
            ErrorKind::Connection => "db_connection",
            ErrorKind::Transient => "db_conflict",
            ErrorKind::Data => "db_data",
            ErrorKind::Setup => "db_setup",
        }
    }
}

impl StoreError {
    /// A unique key taken (SQLSTATE 23505).
    pub(super) fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION))
    }

    /// Classifies by SQLSTATE class.
    pub fn kind(&self) -> ErrorKind {
        let e = match self {
            StoreError::Postgres(e) => e,
            StoreError::Unavailable(_) => return ErrorKind::Connection,
            StoreError::Raced(_) => return ErrorKind::Transient,
        };
        let Some(code) = e.code() else { return ErrorKind::Connection };
        classify(code.code())
    }

    /// A short label for `aggregation_errors_total{error_type}`.
    pub fn label(&self) -> &'static str {
        self.kind().label()
    }
}

/// What a SQLSTATE means for a batch write.
fn classify(sqlstate: &str) -> ErrorKind {
    match sqlstate.get(..2).unwrap_or_default() {
        "08" | "53" | "57" | "58" => ErrorKind::Connection,
        "40" | "55" => ErrorKind::Transient,
        "22" | "23" | "54" => ErrorKind::Data,
        _ => ErrorKind::Setup,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_are_the_metric_s_error_types() {
        let labels: Vec<&str> = ErrorKind::ALL.iter().map(|k| k.label()).collect();
        assert_eq!(labels, ["db_connection", "db_conflict", "db_data", "db_setup"]);
        let unavailable = StoreError::Unavailable("pool timed out".to_owned());
        assert_eq!((unavailable.kind(), unavailable.label()), (ErrorKind::Connection, "db_connection"));
        assert!(!unavailable.is_unique_violation(), "only a server's 23505 is a unique violation");
    }

    #[test]
    fn only_refused_data_is_the_votes_fault() {
        for (sqlstate, kind) in [
            ("23505", ErrorKind::Data),      // unique violation
            ("23514", ErrorKind::Data),      // check violation
            ("22001", ErrorKind::Data),      // value too long
            ("54000", ErrorKind::Data),      // index row too large
            ("40P01", ErrorKind::Transient), // deadlock
            ("40001", ErrorKind::Transient), // serialization failure
            ("55P03", ErrorKind::Transient), // lock not available
            ("08006", ErrorKind::Connection),
            ("57P01", ErrorKind::Connection), // admin shutdown
            ("53300", ErrorKind::Connection), // too many connections
            ("58030", ErrorKind::Connection), // I/O error
            ("42P01", ErrorKind::Setup),      // undefined table
            ("42501", ErrorKind::Setup),      // insufficient privilege
            ("3D000", ErrorKind::Setup),      // database does not exist
            ("25006", ErrorKind::Setup),      // read-only transaction (a standby)
            ("XX000", ErrorKind::Setup),
            ("", ErrorKind::Setup),
        ] {
            assert_eq!(classify(sqlstate), kind, "{sqlstate}");
        }
    }
}
