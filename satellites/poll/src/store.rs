//! The VotingService's SQL (queries in `sql/poll/queries/`). Each function is one transaction
//! or one statement.

use deadpool_postgres::Client;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::Error;
use crate::domain::{NewPoll, Poll, PollStatus, PollType};

vote_satellite_kit::sql_schema!(schema: "poll", migrations: "../../sql/poll");

pub mod ballots;
pub mod closing;

const MARK_EVENT: &str = query!("mark_event");
const INSERT_POLL: &str = query!("insert_poll");
const INSERT_OPTIONS: &str = query!("insert_options");
const GET_POLL: &str = query!("get_poll");

/// The event that asked for a poll, for idempotency.
#[derive(Debug, Clone, Copy)]
pub struct SourceEvent<'a> {
    /// The envelope's `event_id`.
    pub event_id: Uuid,
    /// The envelope's `event_type`.
    pub event_type: &'a str,
}

/// What [`create_poll`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Creation {
    /// A new poll.
    Created(Poll),
    /// The event was applied before; nothing changed.
    DuplicateEvent,
    /// The requested uuid holds this very poll already; nothing changed but the event's mark.
    Exists(Poll),
    /// The requested uuid holds another poll; nothing changed, not even the event's mark.
    Collision {
        /// The requested uuid.
        uuid: Uuid,
        /// How the existing poll differs.
        reason: String,
    },
}

/// Creates a poll and its options in one transaction. With `source`, the event is recorded in
/// the same transaction, so a redelivered event finds its mark and creates nothing.
pub async fn create_poll(
    client: &mut Client,
    poll: &NewPoll,
    source: Option<SourceEvent<'_>>,
) -> Result<Creation, Error> {
    let tx = client.transaction().await?;
    if let Some(event) = source {
        // Concurrent deliveries of one event serialize on the primary key: the second waits
        // for the first to commit, then finds the mark.
        if tx.execute(&tx.prepare_cached(MARK_EVENT).await?, &[&event.event_id, &event.event_type]).await? == 0 {
            return Ok(Creation::DuplicateEvent);
        }
    }
    let uuid = poll.uuid.unwrap_or_else(Uuid::new_v4);
    let seats = i32::try_from(poll.seats).unwrap_or(1);
    let Some(row) = tx
        .query_opt(
            &tx.prepare_cached(INSERT_POLL).await?,
            &[&uuid, &poll.meeting_id, &poll.poll_type.as_str(), &seats, &poll.title],
        )
        .await?
    else {
        let existing =
            tx.query_opt(&tx.prepare_cached(GET_POLL).await?, &[&uuid]).await?.map(|row| poll_from_row(&row));
        return match existing.map(|e| (poll.mismatch(&e), e)) {
            Some((None, existing)) => {
                // Keep the event mark: the event is handled (its poll exists).
                tx.commit().await?;
                Ok(Creation::Exists(existing))
            }
            Some((Some(reason), _)) => Ok(Creation::Collision { uuid, reason }),
            // Inserted by a transaction that rolled back since: the event is retried.
            None => Err(Error::NotYetKnown(format!("poll {uuid} being created"))),
        };
    };
    let id: i64 = row.get(0);
    tx.execute(&tx.prepare_cached(INSERT_OPTIONS).await?, &[&id, &poll.options]).await?;
    tx.commit().await?;
    Ok(Creation::Created(Poll {
        uuid,
        meeting_id: poll.meeting_id.clone(),
        title: poll.title.clone(),
        poll_type: poll.poll_type,
        options: poll.options.clone(),
        seats: poll.seats,
        status: PollStatus::Open,
    }))
}

/// Records that the event was handled by refusing it; `false` when it was recorded before.
pub async fn mark_event(client: &impl deadpool_postgres::GenericClient, event: SourceEvent<'_>) -> Result<bool, Error> {
    Ok(client.execute(&client.prepare_cached(MARK_EVENT).await?, &[&event.event_id, &event.event_type]).await? == 1)
}

/// The poll with this id, if any.
pub async fn get_poll(client: &Client, uuid: Uuid) -> Result<Option<Poll>, Error> {
    Ok(client.query_opt(&client.prepare_cached(GET_POLL).await?, &[&uuid]).await?.map(|row| poll_from_row(&row)))
}

/// Ballots cast on the poll so far.
pub async fn count_ballots(client: &Client, uuid: Uuid) -> Result<u64, Error> {
    let n: i64 = client.query_one(&client.prepare_cached(query!("count_ballots")).await?, &[&uuid]).await?.get(0);
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Records that `user_id` manages `meeting_id` (a no-op when recorded already).
pub async fn grant_manager(client: &Client, meeting_id: &str, user_id: &str) -> Result<(), Error> {
    client.execute(&client.prepare_cached(query!("grant_manager")).await?, &[&meeting_id, &user_id]).await?;
    Ok(())
}

/// Whether `user_id` is a recorded manager of `meeting_id`.
pub async fn is_manager(client: &Client, meeting_id: &str, user_id: &str) -> Result<bool, Error> {
    Ok(client.query_one(&client.prepare_cached(query!("is_manager")).await?, &[&meeting_id, &user_id]).await?.get(0))
}

/// A [`Poll`] from a row with its columns (`uuid`, `meeting_id`, `title`, `poll_type`, `options`,
/// `seats`, `status`).
pub(crate) fn poll_from_row(row: &Row) -> Poll {
    let poll_type: &str = row.get("poll_type");
    let status: &str = row.get("status");
    Poll {
        uuid: row.get("uuid"),
        meeting_id: row.get("meeting_id"),
        title: row.get("title"),
        // The table's CHECK constraints admit only these values.
        poll_type: PollType::parse(poll_type).unwrap_or(PollType::Single),
        options: row.get("options"),
        seats: u32::try_from(row.get::<_, i32>("seats")).unwrap_or(1),
        status: if status == "closed" { PollStatus::Closed } else { PollStatus::Open },
    }
}
