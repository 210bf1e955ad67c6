//! Pipeline step 4: one batch -> one PostgreSQL transaction. The only module that writes SQL.
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

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use time::OffsetDateTime;

use crate::decode::Vote;
use crate::metrics::Metrics;
use crate::recent_keys::RecentKeys;

const COUNT_VOTES: &str = include_str!("../../sql/engine/queries/count_votes.sql");
const RECORD_DUPLICATES: &str = include_str!("../../sql/engine/queries/record_duplicates.sql");
const LOAD_TOTALS: &str = include_str!("../../sql/engine/queries/load_totals.sql");

/// Longest wait between two attempts while the database is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// Most batches written with `ON CONFLICT` for every vote after plain inserts failed in a row.
const MAX_PLAIN_INSERT_PAUSE: u32 = 256;

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
}

impl BatchOutcome {
    fn merge(&mut self, other: BatchOutcome) {
        self.totals.extend(other.totals);
        self.added.extend(other.added);
        self.duplicates.extend(other.duplicates);
    }

    /// Number of votes counted.
    pub fn counted(&self) -> i64 {
        self.added.iter().map(|c| c.oui + c.non).sum()
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

/// Database errors, sorted by what to do about them.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had from the pool.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// The server returned an error or the connection broke mid-request.
    #[error("database error: {}", vote_runtime::postgres::describe(.0))]
    Postgres(#[from] tokio_postgres::Error),
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

impl StoreError {
    /// A unique key taken (SQLSTATE 23505).
    fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Postgres(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION))
    }

    /// Classifies by SQLSTATE class.
    pub fn kind(&self) -> ErrorKind {
        let StoreError::Postgres(e) = self else { return ErrorKind::Connection };
        let Some(code) = e.code() else { return ErrorKind::Connection };
        classify(code.code())
    }

    /// A short label for `aggregation_errors_total{error_type}`.
    pub fn label(&self) -> &'static str {
        match self.kind() {
            ErrorKind::Connection => "db_connection",
            ErrorKind::Transient => "db_conflict",
            ErrorKind::Data => "db_data",
            ErrorKind::Setup => "db_setup",
        }
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

/// Retry settings (RETRY_DELAY_SECONDS, MAX_RETRY_ATTEMPTS).
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First delay; doubles per attempt up to 30 s.
    pub initial_delay: Duration,
    /// Attempts for non-connection errors before splitting.
    pub max_attempts: u32,
}

/// Which votes of a batch go in without `ON CONFLICT`.
struct PlainInserts {
    recent: RecentKeys,
    /// Batches still to write with `ON CONFLICT` for every vote.
    paused_for: u32,
    /// The pause after the next failure; doubles per failure in a row, 0 after a success.
    next_pause: u32,
}

impl PlainInserts {
    fn new() -> Self {
        Self { recent: RecentKeys::new(), paused_for: 0, next_pause: 0 }
    }

    /// Per vote: insert it plainly? Remembers the batch's keys either way.
    fn choose(&mut self, votes: &[Vote]) -> Vec<bool> {
        let mut unseen = self.recent.first_sightings(votes);
        if self.paused_for > 0 {
            self.paused_for -= 1;
            unseen.fill(false);
        }
        unseen
    }

    fn succeeded(&mut self) {
        self.next_pause = 0;
    }

    fn failed(&mut self) {
        self.next_pause = (self.next_pause * 2).clamp(1, MAX_PLAIN_INSERT_PAUSE);
        self.paused_for = self.next_pause;
    }
}

/// Writes batches through a connection pool.
#[derive(Clone)]
pub struct Store {
    pool: Pool,
    retry: RetryPolicy,
    metrics: Arc<Metrics>,
    plain_inserts: Arc<Mutex<PlainInserts>>,
}

impl Store {
    /// A store over `pool`.
    pub fn new(pool: Pool, retry: RetryPolicy, metrics: Arc<Metrics>) -> Self {
        Self { pool, retry, metrics, plain_inserts: Arc::new(Mutex::new(PlainInserts::new())) }
    }

    fn plain_inserts(&self) -> std::sync::MutexGuard<'_, PlainInserts> {
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

    /// Writes `votes`, retrying and splitting as described in the module header. Returns only
    /// once every vote is either committed or isolated as poison.
    pub async fn write(&self, votes: &[Vote]) -> WriteResult {
        let mut result = WriteResult::default();
        let mut unseen = self.plain_inserts().choose(votes);
        // Explicit stack instead of recursion: (offset, len) ranges still to write.
        let mut todo = vec![(0usize, votes.len())];
        while let Some((start, len)) = todo.pop() {
            let part = &votes[start..start + len];
            match self.write_with_retry(part, &mut unseen[start..start + len]).await {
                Ok(outcome) => result.outcome.merge(outcome),
                Err(e) if len == 1 => {
                    tracing::warn!(error = %e, vote_hash = %part[0].vote_hash, "vote refused by the database; dead-lettering it");
                    result.poisoned.push(start);
                }
                Err(e) => {
                    tracing::warn!(error = %e, votes = len, "batch refused by the database; splitting to isolate the bad vote");
                    let half = len / 2;
                    todo.push((start + half, len - half));
                    todo.push((start, half));
                }
            }
        }
        result
    }

    /// One transaction for `votes`, retried per [`RetryPolicy`]. Returns only errors worth
    /// splitting on: refused data, or conflicts that outlasted the retries of a batch of
    /// several votes. Everything else is waited out, however long it lasts.
    async fn write_with_retry(&self, votes: &[Vote], unseen: &mut [bool]) -> Result<BatchOutcome, StoreError> {
        let mut delay = self.retry.initial_delay;
        let mut attempts = 0;
        loop {
            let plain = unseen.contains(&true);
            let error = match self.write_once(votes, unseen).await {
                Ok(outcome) => {
                    if plain {
                        self.plain_inserts().succeeded();
                    }
                    return Ok(outcome);
                }
                Err(e) => e,
            };
            if plain && error.is_unique_violation() {
                tracing::debug!(error = %error, "a vote not seen lately was recorded already; writing the batch with ON CONFLICT");
                self.metrics.plain_insert_fallbacks.inc();
                self.plain_inserts().failed();
                unseen.fill(false);
                continue;
            }
            self.metrics.aggregation_errors.with_label_values(&[error.label()]).inc();
            let kind = error.kind();
            attempts += 1;
            let split_helps = votes.len() > 1 && attempts >= self.retry.max_attempts;
            if kind == ErrorKind::Data || (kind == ErrorKind::Transient && split_helps) {
                return Err(error);
            }
            self.metrics.db_retries.inc();
            if kind == ErrorKind::Setup {
                tracing::error!(error = %error, ?delay, attempt = attempts, votes = votes.len(), "the database refuses every write; holding the batch until it is fixed");
            } else {
                tracing::warn!(error = %error, ?delay, attempt = attempts, "batch write failed; retrying");
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(MAX_BACKOFF);
        }
    }

    async fn write_once(&self, votes: &[Vote], unseen: &[bool]) -> Result<BatchOutcome, StoreError> {
        let mut params = BatchColumns::new(votes, unseen);
        let mut client = self.pool.get().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let count_votes = client.prepare_cached(COUNT_VOTES).await?;
        let record_duplicates = client.prepare_cached(RECORD_DUPLICATES).await?;
        let tx = client.transaction().await?;
        let rows = tx
            .query(
                &count_votes,
                &[&params.hashes, &params.citizens, &params.laws, &params.choices, &params.timestamps, &params.unseen],
            )
            .await?;
        let mut outcome = BatchOutcome::default();
        for row in rows {
            let kind: &str = row.get(0);
            let key: String = row.get(1);
            let (oui, non): (i64, i64) = (row.get(2), row.get(3));
            match kind {
                "total" => outcome.totals.push(LawCounts { law_id: key, oui, non }),
                "added" => outcome.added.push(LawCounts { law_id: key, oui, non }),
                _ => params.skipped(&key),
            }
        }
        if !params.dup_hashes.is_empty() {
            let rows = tx
                .query(
                    &record_duplicates,
                    &[&params.dup_hashes, &params.dup_citizens, &params.dup_laws, &params.dup_reasons],
                )
                .await?;
            outcome.duplicates = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
        }
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Column arrays for [`COUNT_VOTES`] and [`RECORD_DUPLICATES`]. The batch's internal duplicates
/// are split off at once (the first occurrence of a vote_hash, and of a citizen+law pair, is the
/// one that can count); votes the database did not count are added by [`BatchColumns::skipped`].
pub struct BatchColumns<'a> {
    hashes: Vec<&'a str>,
    citizens: Vec<&'a str>,
    laws: Vec<&'a str>,
    choices: Vec<&'static str>,
    timestamps: Vec<OffsetDateTime>,
    unseen: Vec<bool>,
    dup_hashes: Vec<&'a str>,
    dup_citizens: Vec<&'a str>,
    dup_laws: Vec<&'a str>,
    dup_reasons: Vec<Option<&'static str>>,
    /// vote_hash -> index into the columns, built on the first [`BatchColumns::skipped`] (most
    /// batches have none, and the columns are ordered by law and citizen, not by hash).
    position: Option<HashMap<&'a str, usize>>,
}

impl<'a> BatchColumns<'a> {
    /// Splits `votes` into the column arrays of the batch statement and its internal duplicates;
    /// `unseen[i]` says whether `votes[i]` goes in without `ON CONFLICT`.
    pub fn new(votes: &'a [Vote], unseen: &[bool]) -> Self {
        // foldhash rather than SipHash: these sets only live for one batch, and a hash flood
        // could only slow this batch down (the random seed makes one hard to craft anyway).
        let hasher = foldhash::fast::RandomState::default();
        let mut seen_hash = HashSet::with_capacity_and_hasher(votes.len(), hasher.clone());
        let mut seen_pair = HashSet::with_capacity_and_hasher(votes.len(), hasher);
        let mut unique: Vec<(&Vote, bool)> = Vec::with_capacity(votes.len());
        let mut p = Self {
            hashes: Vec::new(),
            citizens: Vec::new(),
            laws: Vec::new(),
            choices: Vec::new(),
            timestamps: Vec::new(),
            unseen: Vec::new(),
            dup_hashes: Vec::new(),
            dup_citizens: Vec::new(),
            dup_laws: Vec::new(),
            dup_reasons: Vec::new(),
            position: None,
        };
        for (v, &unseen) in votes.iter().zip(unseen) {
            let reason = if !seen_hash.insert(v.vote_hash.as_str()) {
                Some("vote_hash")
            } else if !seen_pair.insert((v.citizen_id.as_str(), v.law_id.as_str())) {
                Some("citizen_law")
            } else {
                None
            };
            match reason {
                None => unique.push((v, unseen)),
                Some(reason) => {
                    p.dup_hashes.push(&v.vote_hash);
                    p.dup_citizens.push(&v.citizen_id);
                    p.dup_laws.push(&v.law_id);
                    p.dup_reasons.push(Some(reason));
                }
            }
        }
        // Concurrent writers (batches in flight, other engines) insert in one global order, so
        // they cannot deadlock over the audit keys: a writer that waits for another's
        // uncommitted (law_id, citizen_id) has inserted nothing the other has yet to reach. A
        // vote_hash comes with one citizen and law, so the order serves the vote_hash key too
        // (docs/decisions/007-global-insert-order.md).
        unique.sort_unstable_by(|(a, _), (b, _)| (&a.law_id, &a.citizen_id).cmp(&(&b.law_id, &b.citizen_id)));
        p.hashes = unique.iter().map(|(v, _)| v.vote_hash.as_str()).collect();
        p.citizens = unique.iter().map(|(v, _)| v.citizen_id.as_str()).collect();
        p.laws = unique.iter().map(|(v, _)| v.law_id.as_str()).collect();
        p.choices = unique.iter().map(|(v, _)| v.choice.as_str()).collect();
        p.timestamps = unique.iter().map(|(v, _)| v.timestamp).collect();
        p.unseen = unique.iter().map(|(_, unseen)| *unseen).collect();
        p
    }

    /// Records that the vote with `hash` was not counted; the database tells why.
    fn skipped(&mut self, hash: &str) {
        let hashes = &self.hashes;
        let position = self.position.get_or_insert_with(|| hashes.iter().enumerate().map(|(i, h)| (*h, i)).collect());
        if let Some(&i) = position.get(hash) {
            self.dup_hashes.push(self.hashes[i]);
            self.dup_citizens.push(self.citizens[i]);
            self.dup_laws.push(self.laws[i]);
            self.dup_reasons.push(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn vote(hash: &str, citizen: &str, law: &str) -> Vote {
        Vote::test(hash, citizen, law)
    }

    #[test]
    fn plain_inserts_pause_longer_after_each_failure_in_a_row() {
        let mut plain = PlainInserts::new();
        let mut n = 0;
        let mut batch = || {
            n += 1;
            [vote(&format!("h{n}"), &format!("c{n}"), "l")]
        };
        assert_eq!(plain.choose(&batch()), [true]);
        let mut paused = Vec::new();
        for _ in 0..4 {
            plain.failed();
            let mut skipped = 0;
            while plain.choose(&batch()) == [false] {
                skipped += 1;
            }
            paused.push(skipped);
        }
        assert_eq!(paused, [1, 2, 4, 8]);
        plain.succeeded();
        plain.failed();
        let skipped = std::iter::from_fn(|| (plain.choose(&batch()) == [false]).then_some(())).count();
        assert_eq!(skipped, 1, "a success resets the pause");
    }

    #[test]
    fn internal_duplicates_are_split_off_first_wins() {
        let votes = [vote("h2", "c1", "l1"), vote("h1", "c2", "l1"), vote("h2", "c3", "l2"), vote("h3", "c1", "l1")];
        let p = BatchColumns::new(&votes, &[true, false, true, true]);
        assert_eq!(p.hashes, ["h2", "h1"], "sorted by law_id, citizen_id");
        assert_eq!(p.citizens, ["c1", "c2"]);
        assert_eq!(p.unseen, [true, false], "the flags follow their votes");
        assert_eq!(p.dup_hashes, ["h2", "h3"]);
        assert_eq!(p.dup_reasons, [Some("vote_hash"), Some("citizen_law")]);
    }
}
