//! The baseline the engine is compared with: a consumer written the way simple services are —
//! one message, one transaction, one ack. Same validation, same counting rule, same durability.
//! Stops when the queue stays empty for `--idle-ms` or after `--max-seconds`, prints msg/s.
//! Broker and database settings are the runtime's, as for every binary.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use clap::{CommandFactory, Parser};
use vote_engine::decode::decode;
use vote_mq::config::BrokerArgs;
use vote_mq::{AmqpUrl, QueueTopology, QueueType, Subscription, SubscriptionConfig};
use vote_runtime::config::{self, ConfigError, DatabaseArgs, Validate};
use vote_runtime::postgres::DbTarget;

const COUNT_VOTE: &str = include_str!("../../../sql/bench/naive_count_vote.sql");

/// One message, one transaction, one ack: the baseline the engine is compared with.
#[derive(Debug, Parser)]
#[command(name = "naive-consumer")]
struct Cli {
    #[command(flatten)]
    broker: BrokerArgs,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Queue to consume.
    #[arg(long, env = "RABBITMQ_QUEUE", default_value = "votes.aggregation")]
    queue: String,
    /// Its type, if it has to be declared.
    #[arg(long, env = "RABBITMQ_QUEUE_TYPE", default_value = "quorum")]
    queue_type: QueueType,
    /// Stop once the queue stayed empty this many milliseconds.
    #[arg(long, default_value_t = 2000)]
    idle_ms: u64,
    /// Stop after this many seconds of consuming.
    #[arg(long, default_value_t = 86_400.0)]
    max_seconds: f64,
}

struct Settings {
    url: AmqpUrl,
    db: DbTarget,
    queue: String,
    queue_type: QueueType,
    idle: Duration,
    max: Duration,
}

impl Validate for Cli {
    type Settings = Settings;

    fn validate(self) -> Result<Settings, ConfigError> {
        Ok(Settings {
            url: self.broker.validate()?,
            db: self.database.validate()?.target,
            queue: config::non_empty("RABBITMQ_QUEUE", &self.queue)?,
            queue_type: self.queue_type,
            idle: Duration::from_millis(self.idle_ms),
            max: Duration::try_from_secs_f64(self.max_seconds)
                .map_err(|_| ConfigError::new("--max-seconds", "must be a number of seconds, 0 or more"))?,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let settings = match config::parse::<Cli, _, _>(Cli::command(), std::env::args_os()) {
        Ok(settings) => settings,
        Err(exit) => return exit.report(),
    };
    match consume(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("naive-consumer: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn consume(settings: Settings) -> anyhow::Result<()> {
    let Settings { url, db, queue, queue_type, idle, max } = settings;
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
