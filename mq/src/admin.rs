//! Short-lived broker operations for tools and tests: queue depth, delete.

use amqprs::channel::QueueDeleteArguments;

use crate::connection::connect;
use crate::{AmqpUrl, Error};

/// Messages ready in `queue` (not counting unacked ones), via a passive declare.
pub async fn message_count(url: &AmqpUrl, queue: &str) -> Result<u32, Error> {
    let connection = connect(url, "vote-mq-admin").await?;
    let channel = connection.open_channel(None).await?;
    let declared = crate::topology::declare_passive(&channel, queue).await;
    crate::connection::close(channel, connection).await;
    declared
}

/// Deletes `queue` (and its messages), if it exists.
pub async fn delete_queue(url: &AmqpUrl, queue: &str) -> Result<(), Error> {
    let connection = connect(url, "vote-mq-admin").await?;
    let channel = connection.open_channel(None).await?;
    let result = channel.queue_delete(QueueDeleteArguments::new(queue)).await;
    crate::connection::close(channel, connection).await;
    result?;
    Ok(())
}
