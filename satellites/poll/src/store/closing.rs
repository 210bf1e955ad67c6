//! SQL of closing a poll (queries in `sql/poll/queries/`): the lock, the ballots to count, the
//! stored results, the poll's new status, and the outbox that publishes `voting.completed`.
//! The caller holds the transaction.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use tokio_postgres::types::Json;
use uuid::Uuid;

use super::ballots::LockedPoll;
use crate::Error;
use crate::results::{Method, PollResults, Votes};
use crate::tally::OptionIndex;

/// The poll, locked exclusively: ballots already in are committed, later ones wait and then
/// find it closed.
pub async fn lock_poll_for_close(db: &impl GenericClient, uuid: Uuid) -> Result<Option<LockedPoll>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("lock_poll_for_close")).await?, &[&uuid])
        .await?
        .map(|row| LockedPoll { id: row.get("id"), poll: super::poll_from_row(&row) }))
}

/// Every distinct ranking of the poll's ballots (option indexes, most preferred first; empty:
/// a blank ballot) with its number of ballots, in no particular order.
pub async fn rankings(db: &impl GenericClient, poll_id: i64) -> Result<Vec<(Vec<OptionIndex>, u64)>, Error> {
    Ok(grouped(&db.query(&db.prepare_cached(query!("list_rankings")).await?, &[&poll_id]).await?))
}

/// The distinct rankings of the poll with this uuid and their ballots, as [`rankings`].
pub async fn rankings_of(db: &impl GenericClient, uuid: Uuid) -> Result<Vec<(Vec<OptionIndex>, u64)>, Error> {
    Ok(grouped(&db.query(&db.prepare_cached(query!("export_rankings")).await?, &[&uuid]).await?))
}

fn grouped(rows: &[Row]) -> Vec<(Vec<OptionIndex>, u64)> {
    rows.iter()
        .map(|row| {
            let ranking: Vec<i16> = row.get(0);
            let ballots: i64 = row.get(1);
            // Positions were checked against the options when the ballot was stored.
            let ranking = ranking.into_iter().map(|p| OptionIndex::try_from(p).unwrap_or(OptionIndex::MAX)).collect();
            (ranking, u64::try_from(ballots).unwrap_or(0))
        })
        .collect()
}

/// Stores the poll's results.
pub async fn insert_results(db: &impl GenericClient, poll_id: i64, results: &PollResults) -> Result<(), Error> {
    let count = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
    db.execute(
        &db.prepare_cached(query!("insert_results")).await?,
        &[
            &poll_id,
            &results.method.as_str(),
            &results.winner,
            &results.tied,
            &count(results.ballots),
            &count(results.exhausted.floor()),
            &Json(&results.tallies),
            &Json(&results.rounds),
            &Json(results),
        ],
    )
    .await?;
    Ok(())
}

/// The results of the poll, once it was counted.
pub async fn results(db: &impl GenericClient, uuid: Uuid) -> Result<Option<PollResults>, Error> {
    db.query_opt(&db.prepare_cached(query!("get_results")).await?, &[&uuid])
        .await?
        .map(|row| results_from_row(&row))
        .transpose()
}

/// Marks the poll closed, with the id of the `voting.completed` event that announces it.
pub async fn mark_closed(db: &impl GenericClient, poll_id: i64, event_id: Uuid) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("mark_closed")).await?, &[&poll_id, &event_id]).await?;
    Ok(())
}

fn results_from_row(row: &Row) -> Result<PollResults, Error> {
    if let Some(Json(report)) = row.try_get::<_, Option<Json<PollResults>>>("report")? {
        return Ok(report);
    }
    // Counted before reports were stored: plurality or instant runoff, one seat.
    let method: &str = row.try_get("method")?;
    let count = |column: &str| -> Result<u64, Error> { Ok(u64::try_from(row.try_get::<_, i32>(column)?).unwrap_or(0)) };
    let Json(tallies) = row.try_get("tallies")?;
    let Json(rounds) = row.try_get("rounds")?;
    let winner: Option<String> = row.try_get("winner")?;
    Ok(PollResults {
        method: Method::parse(method).unwrap_or(Method::Plurality),
        seats: 1,
        ballots: count("ballots")?,
        elected: winner.iter().cloned().collect(),
        winner,
        tied: row.try_get("tied")?,
        exhausted: Votes::whole(count("exhausted")?),
        tallies,
        rounds,
    })
}
