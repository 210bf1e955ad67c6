//! The baseline the engine is compared with: a consumer written the way simple services are —
//! one message, one transaction, one ack. Same validation, same counting rule, same durability.
//! Usage: `naive-consumer --queue Q [--queue-type quorum] --database-url URL [--idle-ms 2000] [--max-seconds S]`;
//! stops when the queue stays empty for `--idle-ms` or after `--max-seconds`, prints msg/s.

use std::time::{Duration, Instant};

use anyhow::Context;
use vote_engine::decode::decode;
use vote_mq::{AmqpUrl, QueueTopology, QueueType, Subscription, SubscriptionConfig};
use vote_runtime::postgres::DbTarget;

const COUNT_VOTE: &str = include_str!("../../../sql/bench/naive_count_vote.sql");

fn arg(name: &str, default: &str) -> String {
    let args: Vec<String> = std::env::args().collect();
    args.iter().position(|a| a == name).and_then(|i| args.get(i + 1).cloned()).unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let url = AmqpUrl::parse(&arg("--amqp-url", "amqp://guest:guest@127.0.0.1:5672/%2f"))?;
    let queue = arg("--queue", "votes.aggregation");
    let queue_type: QueueType = arg("--queue-type", "quorum").parse().map_err(anyhow::Error::msg)?;
    let db = DbTarget::parse(&arg("--database-url", "postgres://postgres@127.0.0.1:5432/election_votes"))?;
    let idle = Duration::from_millis(arg("--idle-ms", "2000").parse().context("--idle-ms")?);
    let max = Duration::from_secs_f64(arg("--max-seconds", "86400").parse().context("--max-seconds")?);
    let client = db.connect().await?;
    let statement = client.prepare(COUNT_VOTE).await?;
    let config = SubscriptionConfig {
        topology: QueueTopology::new(&queue, "votes.dlx", &format!("{queue}.dlq")).with_queue_type(queue_type),
        bindings: None,
        prefetch: 10,
        name: "naive-consumer".to_owned(),
    };
    let mut subscription = Subscription::open(&url, &config).await?;
    let acker = subscription.acker();
    let mut handled = 0u64;
    let mut started = None;
    let mut last = Instant::now();
    while let Ok(Some(delivery)) = tokio::time::timeout(idle, subscription.recv()).await {
        started.get_or_insert_with(Instant::now);
        match decode(&delivery.body) {
            Ok(v) => {
                client
                    .execute(&statement, &[&v.vote_hash, &v.citizen_id, &v.law_id, &v.choice.as_str(), &v.timestamp])
                    .await?;
                acker.ack(delivery.tag, false).await?;
            }
            Err(_) => acker.reject(delivery.tag, false).await?,
        }
        handled += 1;
        last = Instant::now();
        if started.is_some_and(|s| s.elapsed() >= max) {
            break;
        }
    }
    let seconds = started.map(|s| (last - s).as_secs_f64()).unwrap_or(0.0);
    println!("naive-consumer: {handled} messages in {seconds:.2} s = {:.0} msg/s", handled as f64 / seconds.max(1e-9));
    subscription.close().await;
    Ok(())
}
