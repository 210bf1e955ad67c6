//! `loadgen send`: publish hand-written bodies as they are.

use std::time::Duration;

use clap::Args;
use vote_mq::config::BrokerArgs;
use vote_runtime::config::Validate;

use super::{Outcome, QueueArgs};
use crate::Error;

/// `loadgen send`.
#[derive(Debug, Clone, Args)]
pub struct SendArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The vote queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Message bodies, e.g. a seed-format vote; read one per line from stdin when none given.
    pub bodies: Vec<String>,
}

pub(super) async fn send_command(args: SendArgs) -> Result<Outcome, Error> {
    let url = args.broker.validate()?;
    let bodies = if args.bodies.is_empty() {
        std::io::stdin()
            .lines()
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| Error::Config(format!("reading bodies from stdin: {e}")))?
    } else {
        args.bodies
    };
    crate::declare_queue(&url, &args.queue.queue, args.queue.queue_type).await?;
    let publisher = vote_mq::Publisher::connect(&url, "loadgen-send").await?;
    let mut sent = 0;
    for body in bodies.into_iter().filter(|b| !b.trim().is_empty()) {
        let message = vote_mq::OutgoingMessage::json("", &args.queue.queue, body.into_bytes());
        tokio::time::timeout(Duration::from_secs(30), publisher.publish(&message))
            .await
            .map_err(|_| Error::Stalled("no confirm within 30 s".to_owned()))??;
        sent += 1;
    }
    publisher.close().await;
    say!("sent {sent} message(s) to {}, confirmed", args.queue.queue);
    Ok(Outcome::Done)
}
