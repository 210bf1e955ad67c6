//! SQL of the ballot path (queries in `sql/poll/queries/`). The caller holds the transaction.

use deadpool_postgres::GenericClient;
use uuid::Uuid;

use crate::Error;
use crate::domain::Poll;

/// A poll locked for the rest of the transaction, with its row id.
#[derive(Debug, Clone)]
pub struct LockedPoll {
    /// `polls.id`.
    pub id: i64,
    /// The poll.
    pub poll: Poll,
}

/// The poll, share-locked so that a close waits for this ballot (and this ballot for a close).
pub async fn lock_poll_for_ballot(db: &impl GenericClient, uuid: Uuid) -> Result<Option<LockedPoll>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("lock_poll_for_ballot")).await?, &[&uuid])
        .await?
        .map(|row| LockedPoll { id: row.get("id"), poll: super::poll_from_row(&row) }))
}

/// The voter's ballot on the poll, if any: its id and option positions.
pub async fn find_ballot(
    db: &impl GenericClient,
    poll_id: i64,
    voter_id: &str,
) -> Result<Option<(Uuid, Vec<i16>)>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("find_ballot")).await?, &[&poll_id, &voter_id])
        .await?
        .map(|row| (row.get(0), row.get(1))))
}

/// Stores the ballot; `false` when the voter has one on this poll already (the unique key
/// (poll, voter) decides, also between concurrent requests).
pub async fn insert_ballot(
    db: &impl GenericClient,
    ballot_id: Uuid,
    poll_id: i64,
    voter_id: &str,
    ranking: &[i16],
) -> Result<bool, Error> {
    Ok(db
        .execute(&db.prepare_cached(query!("insert_ballot")).await?, &[&ballot_id, &poll_id, &voter_id, &ranking])
        .await?
        == 1)
}
