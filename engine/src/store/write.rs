//! Writing a batch: one transaction per attempt, retried with backoff, split when the votes are
//! at fault (see the module header of [`super`]).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use backon::{BackoffBuilder, Retryable};
use vote_runtime::backoff::Exponential;

use super::columns::BatchColumns;
use super::error::{ErrorKind, StoreError};
use super::{BatchOutcome, LawCounts, Store, WriteResult, replace};
use crate::decode::Vote;
use crate::rule::{RevoteRule, reason};

const COUNT_VOTES: &str = include_str!("../../../sql/engine/queries/count_votes.sql");
/// The counted votes sharing a key with the batch's votes not counted (third statement of a
/// batch's transaction, only when it has such votes), locked FOR KEY SHARE so that no writer
/// replaces them before this transaction has recorded the votes they hold off: a replacing
/// writer waits for this commit and then finds those records.
const CONFLICTING_VOTES: &str =
    concat!(include_str!("../../../sql/engine/queries/counted_votes_with_keys.sql"), "FOR KEY SHARE\n");
const RECORD_DUPLICATES: &str = include_str!("../../../sql/engine/queries/record_duplicates.sql");

/// Longest wait between two attempts while the database is down.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Retry settings (RETRY_DELAY_MS, MAX_RETRY_ATTEMPTS).
#[derive(Debug, Clone, Copy)]
pub struct WriteRetryPolicy {
    /// First delay; doubles per attempt up to 30 s. Each wait is drawn between the delay and
    /// twice it (at most 30 s), so engines that failed together do not retry together.
    pub initial_delay: Duration,
    /// Attempts for non-connection errors before splitting.
    pub max_attempts: u32,
}

impl WriteRetryPolicy {
    /// The waits between attempts, without end.
    fn delays(&self) -> impl backon::Backoff {
        Exponential::new(self.initial_delay, MAX_BACKOFF).build()
    }
}

impl Store {
    /// Writes `votes`, retrying and splitting as described in the module header. Returns only
    /// once every vote is either committed or isolated as poison.
    pub async fn write<V: AsRef<Vote> + Sync>(&self, votes: &[V]) -> WriteResult {
        let mut result = WriteResult::default();
        let mut unseen = self.plain_inserts().choose(votes);
        // Explicit stack instead of recursion: (offset, len) ranges still to write.
        let mut todo = vec![(0usize, votes.len())];
        while let Some((start, len)) = todo.pop() {
            let part = &votes[start..start + len];
            match self.write_with_retry(part, &mut unseen[start..start + len]).await {
                Ok(outcome) => result.outcome.merge(outcome),
                Err(e) if len == 1 => {
                    tracing::warn!(error = %e, vote_hash = %part[0].as_ref().vote_hash, "vote refused by the database; dead-lettering it");
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

    /// One transaction for `votes`, retried per [`WriteRetryPolicy`]. Returns only errors worth
    /// splitting on: refused data, or conflicts that outlasted the retries of a batch of
    /// several votes. Everything else is waited out, however long it lasts.
    async fn write_with_retry<V: AsRef<Vote> + Sync>(
        &self,
        votes: &[V],
        unseen: &mut [bool],
    ) -> Result<BatchOutcome, StoreError> {
        let fell_back = AtomicBool::new(false);
        let attempts = AtomicU32::new(0);
        let (plain, flag): (&[bool], &AtomicBool) = (unseen, &fell_back);
        let result = (move || self.attempt(votes, plain, flag))
            .retry(self.retry.delays())
            .when(|error| {
                let attempt = attempts.fetch_add(1, Ordering::Relaxed) + 1;
                let kind = error.kind();
                let split_helps = votes.len() > 1 && attempt >= self.retry.max_attempts;
                let retrying = !(kind == ErrorKind::Data || (kind == ErrorKind::Transient && split_helps));
                self.events.attempt_failed(error, retrying);
                retrying
            })
            .notify(|error, delay| {
                let attempt = attempts.load(Ordering::Relaxed);
                if error.kind() == ErrorKind::Setup {
                    tracing::error!(error = %error, ?delay, attempt, votes = votes.len(), "the database refuses every write; holding the batch until it is fixed");
                } else {
                    tracing::warn!(error = %error, ?delay, attempt, "batch write failed; retrying");
                }
            })
            .await;
        if fell_back.into_inner() {
            unseen.fill(false);
        }
        result
    }

    /// One attempt. A vote inserted plainly that turns out to be recorded already fails the
    /// statement without being at fault: the attempt writes the batch again at once with
    /// `ON CONFLICT` for every vote, as do the later attempts.
    async fn attempt<V: AsRef<Vote>>(
        &self,
        votes: &[V],
        unseen: &[bool],
        fell_back: &AtomicBool,
    ) -> Result<BatchOutcome, StoreError> {
        if fell_back.load(Ordering::Relaxed) || !unseen.contains(&true) {
            return self.write_once(votes, &vec![false; votes.len()]).await;
        }
        match self.write_once(votes, unseen).await {
            Ok(outcome) => {
                self.plain_inserts().succeeded();
                Ok(outcome)
            }
            Err(error) if error.is_unique_violation() => {
                tracing::debug!(error = %error, "a vote not seen lately was recorded already; writing the batch with ON CONFLICT");
                self.events.plain_insert_fell_back();
                self.plain_inserts().failed();
                fell_back.store(true, Ordering::Relaxed);
                self.write_once(votes, &vec![false; votes.len()]).await
            }
            Err(error) => Err(error),
        }
    }

    async fn write_once<V: AsRef<Vote>>(&self, votes: &[V], unseen: &[bool]) -> Result<BatchOutcome, StoreError> {
        let mut params = BatchColumns::new(votes, unseen, self.rule);
        let mut client = self.pool.get().await.map_err(|e| StoreError::Unavailable(e.to_string()))?;
        let count_votes = client.prepare_cached(COUNT_VOTES).await?;
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
        if !params.pending.is_empty() {
            let newcomers = record_duplicates(&tx, self.rule, &params.pending, &mut outcome).await?;
            if !newcomers.is_empty() {
                outcome.merge(replace::replace(&tx, self.rule, &newcomers).await?);
            }
        }
        tx.commit().await?;
        Ok(outcome)
    }
}

/// Compares the votes not counted with the counted votes they conflict with; records those a
/// counted vote holds off (the usual case: a resend, a later revote) and returns the others,
/// which rank before every counted vote they conflict with.
async fn record_duplicates<'v>(
    tx: &deadpool_postgres::Transaction<'_>,
    rule: RevoteRule,
    pending: &[&'v Vote],
    outcome: &mut BatchOutcome,
) -> Result<Vec<&'v Vote>, StoreError> {
    let keys = [
        pending.iter().map(|v| v.vote_hash.as_str()).collect(),
        pending.iter().map(|v| v.law_id.as_str()).collect(),
        pending.iter().map(|v| v.citizen_id.as_str()).collect(),
    ];
    let counted: Vec<Vote> =
        tx.query_typed(CONFLICTING_VOTES, &replace::key_params(&keys)).await?.iter().map(replace::vote_of).collect();
    let counted_hashes: HashSet<&str> = counted.iter().map(|v| v.vote_hash.as_str()).collect();
    let (held, newcomers): (Vec<&Vote>, Vec<&Vote>) = pending
        .iter()
        .copied()
        .partition(|v| counted.iter().any(|c| crate::rule::conflict(c, v) && rule.holds_against(c, v)));
    if !held.is_empty() {
        let c = replace::VoteColumns::new(&held);
        let reasons: Vec<&str> = held.iter().map(|v| reason(v, &counted_hashes)).collect();
        let record = tx.prepare_cached(RECORD_DUPLICATES).await?;
        let rows = tx.query(&record, &[&c.hashes, &c.citizens, &c.laws, &c.choices, &c.timestamps, &reasons]).await?;
        outcome.duplicates = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }
    Ok(newcomers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_from_the_first_with_jitter_up_to_the_cap() {
        let policy = WriteRetryPolicy { initial_delay: Duration::from_secs(1), max_attempts: 3 };
        let delays: Vec<Duration> = policy.delays().take(12).collect();
        for (i, delay) in delays.iter().enumerate() {
            let nominal = Duration::from_secs(1 << i.min(5)).min(MAX_BACKOFF);
            let most = (nominal * 2).min(MAX_BACKOFF);
            assert!(*delay >= nominal && *delay <= most, "delay {i}: {delay:?} outside {nominal:?}..={most:?}");
        }
        assert_eq!(delays.len(), 12, "the waits never run out");
    }
}
