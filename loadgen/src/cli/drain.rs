//! `loadgen drain`: the broker ceiling, consuming and acking as fast as possible.

use std::time::Duration;

use clap::Args;
use serde_json::json;
use vote_mq::config::BrokerArgs;
use vote_runtime::config::Validate;

use super::{Outcome, QueueArgs};
use crate::Error;
use crate::drain::{DrainConfig, DrainReport, drain};

/// `loadgen drain`.
#[derive(Debug, Clone, Args)]
pub struct DrainArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The vote queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Drain these queues together instead of --queue, comma-separated (e.g. the shards
    /// `votes.aggregation.0,votes.aggregation.1`), --consumers on each.
    #[arg(long, value_delimiter = ',')]
    pub queues: Vec<String>,
    /// Unacked deliveries in flight per consumer.
    #[arg(long, default_value_t = 1000)]
    pub prefetch: u16,
    /// Consumers per queue, each on its own connection.
    #[arg(long, default_value_t = 2)]
    pub consumers: usize,
    /// Ack with multiple=true every this many messages.
    #[arg(long, default_value_t = 250)]
    pub ack_every: u64,
    /// Stop once the queue stayed empty this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    pub idle_ms: u64,
    /// Stop after this many messages.
    #[arg(long)]
    pub count: Option<u64>,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn drain_command(args: DrainArgs) -> Result<Outcome, Error> {
    let url = args.broker.validate()?;
    let config = DrainConfig {
        queues: if args.queues.is_empty() { vec![args.queue.queue.clone()] } else { args.queues.clone() },
        queue_type: args.queue.queue_type,
        prefetch: args.prefetch,
        consumers: args.consumers,
        ack_every: args.ack_every,
        idle: Duration::from_millis(args.idle_ms),
        limit: args.count,
        keep_bodies: false,
    };
    let report = drain(&url, &config).await?;
    if args.json {
        say!("{}", drain_json(&report, &config));
    } else {
        say!(
            "drained {} messages from {} in {:.2} s: {:.0} msg/s ({} consumers per queue, prefetch {}, ack every {})",
            report.messages,
            config.queues.join(", "),
            report.elapsed.as_secs_f64(),
            report.rate(),
            config.consumers,
            config.prefetch,
            config.ack_every
        );
    }
    Ok(Outcome::Done)
}

fn drain_json(report: &DrainReport, config: &DrainConfig) -> serde_json::Value {
    json!({
        "queues": config.queues,
        "messages": report.messages,
        "seconds": report.elapsed.as_secs_f64(),
        "rate": report.rate(),
        "consumers": config.consumers,
        "prefetch": config.prefetch,
        "ack_every": config.ack_every,
    })
}
