//! `loadgen run`: publish, verify, and report end-to-end latency.

use clap::Args;
use serde_json::json;
use vote_mq::config::BrokerArgs;
use vote_runtime::config::{DatabaseArgs, Validate};

use super::publish::{LoadArgs, print_publish, publish_json};
use super::verify::{WaitArgs, verify_with_progress};
use super::{Outcome, QueueArgs};
use crate::Error;
use crate::latency::{LatencySummary, end_to_end};
use crate::publish::{PublishConfig, publish};

/// `loadgen run`.
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The vote queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Database.
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Load.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Waiting.
    #[command(flatten)]
    pub wait: WaitArgs,
    /// Print a JSON summary on stdout (rate, counts, latency, verify result) instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn run_command(args: RunArgs) -> Result<Outcome, Error> {
    let url = args.broker.validate()?;
    let db = args.database.validate()?.target;
    // Reach the database before publishing anything, so a typo fails fast.
    let client = db.connect().await?;
    let config = PublishConfig { record_confirm_times: true, ..args.load.to_config(&args.queue) };
    let published = publish(&url, &config).await?;
    published.expected.write(&args.load.expected)?;
    if !args.json {
        print_publish(&published, &config, &args.load.expected);
    }
    let report = verify_with_progress(&client, &published.expected, &args.wait.options(), !args.json).await?;
    let latency = end_to_end(&client, &published.expected, &published.confirm_times).await?;
    let (total, after_confirm) = (LatencySummary::of(&latency.total), LatencySummary::of(&latency.after_confirm));
    if args.json {
        let summary = json!({
            "exact": report.is_exact(),
            "law_prefix": published.expected.law_prefix,
            "seed": published.expected.seed,
            "expected_file": args.load.expected,
            "publish": publish_json(&published, &config),
            "verify": report,
            "end_to_end_latency_us": total,
            "after_confirm_latency_us": after_confirm,
        });
        say!("{summary}");
    } else {
        say!("{report}");
        say!("end-to-end latency (vote_audit.recorded_at - timestamp): {total}");
        say!("  of which after the broker's confirm (delivery, batching, write): {after_confirm}");
    }
    Ok(if report.is_exact() { Outcome::Done } else { Outcome::Mismatch })
}
