//! SQL of an election's results (queries in `sql/election/queries/`).

use deadpool_postgres::GenericClient;
use tokio_postgres::types::Json;
use uuid::Uuid;

use crate::Error;
use crate::domain::ElectionResults;

macro_rules! query {
    ($name:literal) => {
        include_str!(concat!("../../../../sql/election/queries/", $name, ".sql"))
    };
}

/// Finalizes the election voting on `poll_uuid` with the poll's results; `None` when no
/// election is voting on it (none, or finalized already).
pub async fn finalize_with_results(
    db: &impl GenericClient,
    poll_uuid: Uuid,
    results: &ElectionResults,
) -> Result<Option<Uuid>, Error> {
    let ballots = i32::try_from(results.ballots).unwrap_or(i32::MAX);
    // Results without `elected` (a VotingService older than several seats): the winner is.
    let elected: Vec<String> =
        if results.elected.is_empty() { results.winner.iter().cloned().collect() } else { results.elected.clone() };
    let row = db
        .query_opt(
            &db.prepare_cached(query!("finalize_election_with_results")).await?,
            &[&poll_uuid, &results.winner, &results.tied, &ballots, &Json(&results.tallies), &elected],
        )
        .await?;
    Ok(row.map(|r| r.get(0)))
}

/// The stored results of the election, once finalized with them.
pub async fn election_results(db: &impl GenericClient, id: Uuid) -> Result<Option<ElectionResults>, Error> {
    let Some(row) = db.query_opt(&db.prepare_cached(query!("get_election_results")).await?, &[&id]).await? else {
        return Ok(None);
    };
    let ballots: i32 = row.try_get("ballots")?;
    let Json(tallies) = row.try_get("tallies")?;
    let winner: Option<String> = row.try_get("winner")?;
    let elected: Option<Vec<String>> = row.try_get("elected")?;
    Ok(Some(ElectionResults {
        elected: elected.unwrap_or_else(|| winner.iter().cloned().collect()),
        winner,
        tied: row.try_get::<_, Option<Vec<String>>>("tied")?.unwrap_or_default(),
        ballots: u64::try_from(ballots).unwrap_or(0),
        tallies,
    }))
}
