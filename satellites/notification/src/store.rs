//! All SQL of the notification-service (queries in `sql/notification/queries/`).

use deadpool_postgres::GenericClient;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vote_satellite_kit::Error;

use crate::domain::{DedupKey, Notification, StoredNotification};

vote_satellite_kit::sql_schema!(schema: "notification", migrations: "../../sql/notification");

/// Stores a notification; `false` when one with the same key is stored already (a
/// redelivery). Concurrent copies serialize on the unique key.
pub async fn insert_notification(db: &impl GenericClient, n: &Notification, key: &DedupKey) -> Result<bool, Error> {
    let (stored_key, hashed) = (key.key(), key.hashed_body());
    let inserted = db
        .execute(
            &db.prepare_cached(query!("insert_notification")).await?,
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
    let rows = db.query(&db.prepare_cached(query!("list_notifications")).await?, &[&user_id, &limit]).await?;
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
