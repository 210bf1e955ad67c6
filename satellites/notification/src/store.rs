//! All SQL of the notification-service (queries in `sql/notification/queries/`).

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vote_satellite_kit::Error;

use crate::domain::{DedupKey, Notification, StoredNotification};

macro_rules! query {
    ($name:literal) => {
        include_str!(concat!("../../../sql/notification/queries/", $name, ".sql"))
    };
}

mod embedded {
    refinery::embed_migrations!("../../sql/notification");
}

/// A runner for the migrations in `sql/notification/`.
pub fn migrations() -> refinery::Runner {
    embedded::migrations::runner()
}

/// Table recording which migrations ran (its own, so services can share a database).
pub const MIGRATION_TABLE: &str = "notification_schema_history";

/// Stores a notification; `false` when one with the same key is stored already (a
/// redelivery). Concurrent copies serialize on the unique key.
pub async fn insert_notification(db: &impl GenericClient, n: &Notification, key: &DedupKey) -> Result<bool, Error> {
    let (stored_key, hashed) = (key.key(), key.hashed_body());
    let inserted = db
        .execute(
            query!("insert_notification"),
            &[&n.user_id, &n.kind, &n.title, &n.body, &n.related_user_id, &stored_key, &hashed],
        )
        .await?;
    Ok(inserted == 1)
}

/// The newest `limit` notifications, of one user when given.
pub async fn list_notifications(
    db: &impl GenericClient,
    user_id: Option<&str>,
    limit: i64,
) -> Result<Vec<StoredNotification>, Error> {
    let rows = db.query(query!("list_notifications"), &[&user_id, &limit]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let created_at: OffsetDateTime = row.get(6);
            StoredNotification {
                id: row.get(0),
                notification: Notification {
                    user_id: row.get(1),
                    kind: row.get(2),
                    title: row.get(3),
                    body: row.get(4),
                    related_user_id: row.get(5),
                },
                // Any timestamp PostgreSQL stores formats as RFC 3339.
                created_at: created_at.format(&Rfc3339).unwrap_or_default(),
            }
        })
        .collect())
}
