//! All SQL of the meeting and election services (queries in `sql/election/queries/`).
//! Functions take any client or transaction; the callers decide the transaction boundaries.

use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use uuid::Uuid;

use crate::Error;
use crate::domain::{AgendaItem, Election, ElectionCreate, ElectionStatus, Meeting};

pub mod results;

vote_satellite_kit::sql_schema!(schema: "election", migrations: "../../sql/election");

/// Records that `consumer` applied the event; `false` when it had already (a redelivery).
/// Concurrent deliveries of one event serialize on the primary key.
pub async fn mark_event(
    db: &impl GenericClient,
    consumer: &str,
    event_id: Uuid,
    event_type: &str,
) -> Result<bool, Error> {
    Ok(db.execute(&db.prepare_cached(query!("mark_event")).await?, &[&consumer, &event_id, &event_type]).await? == 1)
}

/// Inserts a meeting.
pub async fn insert_meeting(db: &impl GenericClient, id: Uuid, title: &str, created_by: &str) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("insert_meeting")).await?, &[&id, &title, &created_by]).await?;
    Ok(())
}

/// The meeting with its agenda and managers.
pub async fn get_meeting(db: &impl GenericClient, id: Uuid) -> Result<Option<Meeting>, Error> {
    let Some(row) = db.query_opt(&db.prepare_cached(query!("get_meeting")).await?, &[&id]).await? else {
        return Ok(None);
    };
    let agenda =
        db.query(&db.prepare_cached(query!("list_agenda")).await?, &[&id]).await?.iter().map(agenda_item).collect();
    let managers =
        db.query(&db.prepare_cached(query!("list_managers")).await?, &[&id]).await?.iter().map(|r| r.get(0)).collect();
    Ok(Some(Meeting { id: row.get(0), title: row.get(1), created_by: row.get(2), agenda, managers }))
}

/// Locks the meeting row for the rest of the transaction; `false` when there is none.
pub async fn lock_meeting(db: &impl GenericClient, id: Uuid) -> Result<bool, Error> {
    Ok(db.query_opt(&db.prepare_cached(query!("lock_meeting")).await?, &[&id]).await?.is_some())
}

/// Appends an election item to the meeting's agenda (lock the meeting first).
pub async fn insert_agenda_item(
    db: &impl GenericClient,
    id: Uuid,
    meeting_id: Uuid,
    title: &str,
) -> Result<AgendaItem, Error> {
    Ok(agenda_item(
        &db.query_one(&db.prepare_cached(query!("insert_agenda_item")).await?, &[&id, &meeting_id, &title]).await?,
    ))
}

/// Marks the item started; `None` when it does not exist or was started already.
pub async fn start_agenda_item(
    db: &impl GenericClient,
    id: Uuid,
    meeting_id: Uuid,
) -> Result<Option<AgendaItem>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("start_agenda_item")).await?, &[&id, &meeting_id])
        .await?
        .as_ref()
        .map(agenda_item))
}

/// The agenda item of that meeting, locked for the rest of the transaction.
pub async fn lock_agenda_item(
    db: &impl GenericClient,
    id: Uuid,
    meeting_id: Uuid,
) -> Result<Option<AgendaItem>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("lock_agenda_item")).await?, &[&id, &meeting_id])
        .await?
        .as_ref()
        .map(agenda_item))
}

/// Grants `role` on the meeting to `user_id` (a no-op when held already).
pub async fn grant_role(db: &impl GenericClient, meeting_id: Uuid, user_id: &str, role: &str) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("grant_role")).await?, &[&meeting_id, &user_id, &role]).await?;
    Ok(())
}

/// Whether `user_id` manages the meeting by the platform's record: granted the role (by
/// `meeting.created`), or its creator (so that the creator need not wait for the grant).
pub async fn is_manager(db: &impl GenericClient, meeting_id: Uuid, user_id: &str) -> Result<bool, Error> {
    Ok(db.query_one(&db.prepare_cached(query!("is_manager")).await?, &[&meeting_id, &user_id]).await?.get(0))
}

/// Creates the election in `nominating` (a no-op when it exists).
pub async fn insert_election(db: &impl GenericClient, e: &ElectionCreate) -> Result<(), Error> {
    let seats = i32::try_from(e.seats).unwrap_or(1);
    db.execute(
        &db.prepare_cached(query!("insert_election")).await?,
        &[&e.agenda_item_id, &e.meeting_id, &e.title, &seats],
    )
    .await?;
    Ok(())
}

/// The election, locked for the rest of the transaction.
pub async fn lock_election(db: &impl GenericClient, id: Uuid) -> Result<Option<Election>, Error> {
    match db.query_opt(&db.prepare_cached(query!("lock_election")).await?, &[&id]).await? {
        Some(row) => Ok(Some(election(db, &row).await?)),
        None => Ok(None),
    }
}

/// The election voting (or once voting) on `poll_uuid`, locked for the rest of the transaction.
pub async fn lock_election_by_poll(db: &impl GenericClient, poll_uuid: Uuid) -> Result<Option<Election>, Error> {
    match db.query_opt(&db.prepare_cached(query!("lock_election_by_poll")).await?, &[&poll_uuid]).await? {
        Some(row) => Ok(Some(election(db, &row).await?)),
        None => Ok(None),
    }
}

/// The election.
pub async fn get_election(db: &impl GenericClient, id: Uuid) -> Result<Option<Election>, Error> {
    match db.query_opt(&db.prepare_cached(query!("get_election")).await?, &[&id]).await? {
        Some(row) => Ok(Some(election(db, &row).await?)),
        None => Ok(None),
    }
}

/// Adds a nominee (a no-op when nominated already).
pub async fn insert_nomination(db: &impl GenericClient, id: Uuid, nominee: &str) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("insert_nomination")).await?, &[&id, &nominee]).await?;
    Ok(())
}

/// Moves the election to `voting` with its poll id.
pub async fn start_voting(db: &impl GenericClient, id: Uuid, poll_uuid: Uuid) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("start_voting")).await?, &[&id, &poll_uuid]).await?;
    Ok(())
}

/// Moves the election to `cancelled`.
pub async fn cancel_election(db: &impl GenericClient, id: Uuid, reason: &str) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("cancel_election")).await?, &[&id, &reason]).await?;
    Ok(())
}

/// Moves the election to `failed`, saying why.
pub async fn fail_election(db: &impl GenericClient, id: Uuid, reason: &str) -> Result<(), Error> {
    db.execute(&db.prepare_cached(query!("fail_election")).await?, &[&id, &reason]).await?;
    Ok(())
}

/// Marks the agenda item cancelled; `None` when it does not exist or was cancelled already.
pub async fn cancel_agenda_item(
    db: &impl GenericClient,
    id: Uuid,
    meeting_id: Uuid,
) -> Result<Option<AgendaItem>, Error> {
    Ok(db
        .query_opt(&db.prepare_cached(query!("cancel_agenda_item")).await?, &[&id, &meeting_id])
        .await?
        .as_ref()
        .map(agenda_item))
}

/// Finalizes the election voting on `poll_uuid`; `None` when no election is voting on it.
pub async fn finalize_election(db: &impl GenericClient, poll_uuid: Uuid) -> Result<Option<Uuid>, Error> {
    Ok(db.query_opt(&db.prepare_cached(query!("finalize_election")).await?, &[&poll_uuid]).await?.map(|r| r.get(0)))
}

fn agenda_item(row: &Row) -> AgendaItem {
    AgendaItem { id: row.get(0), meeting_id: row.get(1), kind: row.get(2), title: row.get(3), status: row.get(4) }
}

async fn election(db: &impl GenericClient, row: &Row) -> Result<Election, Error> {
    let id: Uuid = row.get(0);
    let nominees =
        db.query(&db.prepare_cached(query!("list_nominees")).await?, &[&id]).await?.iter().map(|r| r.get(0)).collect();
    let status: &str = row.get(3);
    Ok(Election {
        agenda_item_id: id,
        meeting_id: row.get(1),
        title: row.get(2),
        // The table's CHECK constraint admits only known statuses.
        status: ElectionStatus::parse(status).unwrap_or(ElectionStatus::Cancelled),
        seats: u32::try_from(row.get::<_, i32>(6)).unwrap_or(1),
        nominees,
        poll_uuid: row.get(4),
        reason: row.get(5),
        results: results::election_results(db, id).await?,
    })
}
