//! Pipeline step 4: one batch -> one PostgreSQL transaction. The only module that writes SQL:
//! [`columns`] lays the batch out as one statement's arrays, [`write`] runs it with retries and
//! splits, [`recent_keys`] picks the votes that may skip the conflict check.
//!
//! Errors are sorted by whose fault they are ([`ErrorKind`]). Only a data error (the database
//! refuses a value: constraint, bad value) splits the batch in halves until the votes it refuses
//! are isolated, and only those are given back as poison. Everything else is the database's
//! problem, not the votes': a lost connection, an unavailable server, a missing table or a
//! revoked privilege is retried with exponential backoff for as long as it takes (deliveries
//! stay held, nothing is acked, nothing is dead-lettered); a conflict with a concurrent writer
//! (deadlock, serialization) is retried too, and after MAX_RETRY_ATTEMPTS a batch of several
//! votes is split, since smaller transactions conflict less.
//!
//! Votes whose keys the engine has not seen lately are inserted without `ON CONFLICT`
//! ([`RecentKeys`]). When one of them turns out to be recorded already, the statement fails
//! with a unique violation, which is not the vote's fault: the batch is written again at once
//! with `ON CONFLICT` for every vote, and the next batches take that path too for a while
//! (doubling with each such failure in a row), so an engine beside another one, or one
//! re-reading its own redeliveries, does not pay for failed statements batch after batch.
//!
//! The store reports what a batch did as a [`WriteResult`]; failed attempts, which may go on
//! for as long as an outage lasts, are reported as they happen to a [`StoreEvents`].

use std::sync::{Arc, Mutex, MutexGuard};

use deadpool_postgres::Pool;

pub mod columns;
pub mod error;
pub mod recent_keys;
mod replace;
pub mod write;

pub use columns::BatchColumns;
pub use error::{ErrorKind, StoreError};
use recent_keys::PlainInserts;
pub use recent_keys::RecentKeys;
pub use write::WriteRetryPolicy;

use crate::rule::RevoteRule;

const LOAD_TOTALS: &str = include_str!("../../../sql/engine/queries/load_totals.sql");

/// Per-law figures returned by a batch write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LawCounts {
    /// The law.
    pub law_id: String,
    /// `oui` count.
    pub oui: i64,
    /// `non` count.
    pub non: i64,
}

/// What a committed batch changed.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct BatchOutcome {
    /// New totals of every law the batch touched, as the database returned them.
    pub totals: Vec<LawCounts>,
    /// Votes counted by the batch, per law.
    pub added: Vec<LawCounts>,
    /// Duplicates recorded, per reason (`vote_hash`, `citizen_law`).
    pub duplicates: Vec<(String, i64)>,
    /// Counted votes taken out of the count by a vote the rule ranks before them, per law.
    pub replaced: Vec<LawCounts>,
}

impl BatchOutcome {
    fn merge(&mut self, other: BatchOutcome) {
        self.totals.extend(other.totals);
        self.added.extend(other.added);
        self.duplicates.extend(other.duplicates);
        self.replaced.extend(other.replaced);
    }

    /// Number of votes counted, less those replaced.
    pub fn counted(&self) -> i64 {
        let sum = |laws: &[LawCounts]| laws.iter().map(|c| c.oui + c.non).sum::<i64>();
        sum(&self.added) - sum(&self.replaced)
    }
}

/// The result of writing a batch: what committed, and the indices of poison votes.
#[derive(Debug, Default)]
pub struct WriteResult {
    /// Everything that committed (possibly over several transactions after a split).
    pub outcome: BatchOutcome,
    /// Indices (into the written slice) of votes the database refused even alone.
    pub poisoned: Vec<usize>,
}

/// What the store reports while a batch is still being written (its result comes at the end).
pub trait StoreEvents: Send + Sync {
    /// An attempt failed; `retrying` says whether the same votes are tried again.
    fn attempt_failed(&self, error: &StoreError, retrying: bool);
    /// A plain insert met a recorded key; the batch is written again with `ON CONFLICT`.
    fn plain_insert_fell_back(&self);
}

/// Writes batches through a connection pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    retry: WriteRetryPolicy,
    events: Arc<dyn StoreEvents>,
    plain_inserts: Arc<Mutex<PlainInserts>>,
    rule: RevoteRule,
}

impl Store {
    /// A store over `pool`, reporting failed attempts to `events`.
    pub fn new(pool: Pool, retry: WriteRetryPolicy, events: Arc<dyn StoreEvents>) -> Self {
        Self {
            pool,
            retry,
            events,
            plain_inserts: Arc::new(Mutex::new(PlainInserts::new())),
            rule: RevoteRule::default(),
        }
    }

    /// The same store deciding conflicting votes by `rule` (default: the earliest counts).
    pub fn with_rule(mut self, rule: RevoteRule) -> Self {
        self.rule = rule;
        self
    }

    fn plain_inserts(&self) -> MutexGuard<'_, PlainInserts> {
        self.plain_inserts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `SELECT 1` through the pool: the readiness check.
    pub async fn ping(&self) -> Result<(), StoreError> {
        let client = self.pool.get().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        client.simple_query("SELECT 1").await?;
        Ok(())
    }

    /// Current totals of the `limit` laws with most votes.
    pub async fn load_totals(&self, limit: i64) -> Result<Vec<LawCounts>, StoreError> {
        let client = self.pool.get().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let rows = client.query(LOAD_TOTALS, &[&limit]).await?;
        Ok(rows.iter().map(|r| LawCounts { law_id: r.get(0), oui: r.get(1), non: r.get(2) }).collect())
    }
}
