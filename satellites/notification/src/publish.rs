//! The publisher side: how any service sends a notification. The message is the plain JSON
//! notification on the durable notifications queue (default exchange, routing key = the
//! queue), persistent, with a fresh message id the NotificationService deduplicates on. The
//! [`Publisher`] reconnects and retries until the broker confirms; the wait is bounded here.

use std::time::Duration;

use uuid::Uuid;
use vote_mq::{OutgoingMessage, Publisher};
use vote_satellite_kit::Error;

use crate::domain::Notification;

/// Longest wait for the broker to confirm a notification.
pub const PUBLISH_TIMEOUT: Duration = Duration::from_secs(10);

/// Checks `notification`, publishes it to `queue` and waits for the broker's confirm; returns
/// the message id. Declare the queue first (the consumer's arguments, see
/// [`crate::config::notifications_queue`]): the default exchange drops what no queue takes.
pub async fn publish_notification(
    publisher: &Publisher,
    queue: &str,
    notification: &Notification,
) -> Result<Uuid, Error> {
    notification.validate()?;
    let message_id = Uuid::new_v4();
    let body = serde_json::to_vec(notification).map_err(|e| Error::Invalid(format!("notification: {e}")))?;
    let mut message = OutgoingMessage::json("", queue, body);
    message.message_id = Some(message_id.to_string());
    match tokio::time::timeout(PUBLISH_TIMEOUT, publisher.publish(&message)).await {
        Ok(result) => result?,
        Err(_) => return Err(Error::PublishTimeout(format!("the notification for {}", notification.user_id))),
    }
    tracing::info!(%message_id, user_id = %notification.user_id, kind = %notification.kind, "notification published");
    Ok(message_id)
}
