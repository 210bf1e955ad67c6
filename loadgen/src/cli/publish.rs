//! `loadgen publish`: what to publish and how fast, and the report of a publish run.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;
use vote_mq::config::BrokerArgs;
use vote_runtime::config::Validate;

use super::{Outcome, QueueArgs};
use crate::Error;
use crate::contract::RevoteRule;
use crate::duration::parse_duration;
use crate::generate::{GeneratorConfig, random_law_prefix};
use crate::publish::{PublishConfig, PublishReport, publish};

/// What to publish and how fast.
#[derive(Debug, Clone, Args)]
pub struct LoadArgs {
    /// Messages to publish, duplicates and garbage included [default: 10000 unless --duration].
    #[arg(long)]
    pub count: Option<u64>,
    /// Publish for this long (`30s`, `2m`, `500ms`, or seconds); with --count, whichever ends first.
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Target rate in messages per second over all connections [default: flat out].
    #[arg(long)]
    pub rate: Option<f64>,
    /// Connections, each a confirming publisher.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Unconfirmed messages allowed per connection.
    #[arg(long, default_value_t = 1000)]
    pub window: usize,
    /// Votes per message: above 1, consecutive votes travel together in `vote.batch` envelopes
    /// (garbage still alone); --count and --rate still count votes and messages of the stream.
    #[arg(long, default_value_t = 1)]
    pub votes_per_message: usize,
    /// Number of laws (ids `<law-prefix>00001`...).
    #[arg(long, default_value_t = 100)]
    pub laws: u32,
    /// Number of distinct citizens; each votes at most once per law (duplicates aside).
    #[arg(long, default_value_t = 1_000_000)]
    pub citizens: u32,
    /// Zipf exponent of law popularity: 0 uniform, 1 classic skew, higher hotter.
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// Fraction of messages that are duplicates: half resends (same vote_hash), half revotes
    /// (same citizen and law, new vote_hash, same choice).
    #[arg(long, default_value_t = 0.05)]
    pub duplicate_ratio: f64,
    /// Fraction of messages that are garbage the engine must dead-letter (bad JSON, missing or
    /// empty fields, wrong types, bad choice or timestamp, over-long strings, NUL, invalid
    /// UTF-8, wrong envelopes, bodies over 64 KiB).
    #[arg(long, default_value_t = 0.01)]
    pub invalid_ratio: f64,
    /// Fraction of votes wrapped in a `vote.cast` event envelope.
    #[arg(long, default_value_t = 0.1)]
    pub envelope_ratio: f64,
    /// Fraction of messages that are conflicting votes: a citizen's second vote on a law with
    /// the other choice and a timestamp a day before or after the first (so end-to-end latency
    /// is meaningless for them); half are published before the vote they conflict with.
    #[arg(long, default_value_t = 0.0)]
    pub conflict_ratio: f64,
    /// The engine's REVOTE_RULE: which of two conflicting votes the expected totals count.
    #[arg(long, value_enum, default_value_t = RevoteRule::First)]
    pub revote_rule: RevoteRule,
    /// Seed of the message stream [default: random, printed].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Prefix of this run's law ids, so verification only looks at this run [default: a random
    /// `law-xxxxxx-`].
    #[arg(long)]
    pub law_prefix: Option<String>,
    /// Where to write the expected totals (JSON).
    #[arg(long, default_value = "loadgen.expected.json")]
    pub expected: PathBuf,
    /// Give up when nothing was confirmed for this long.
    #[arg(long, default_value = "120s", value_parser = parse_duration)]
    pub stall_timeout: Duration,
    /// Never draw the progress bar (it is only drawn on a terminal anyway).
    #[arg(long)]
    pub no_progress: bool,
}

impl LoadArgs {
    /// The publish settings these flags describe.
    pub fn to_config(&self, queue: &QueueArgs) -> PublishConfig {
        let generator = GeneratorConfig {
            law_prefix: self.law_prefix.clone().unwrap_or_else(random_law_prefix),
            laws: self.laws,
            citizens: self.citizens,
            zipf: self.zipf,
            duplicate_ratio: self.duplicate_ratio,
            invalid_ratio: self.invalid_ratio,
            envelope_ratio: self.envelope_ratio,
            conflict_ratio: self.conflict_ratio,
            revote_rule: self.revote_rule,
            seed: self.seed.unwrap_or_else(rand::random),
        };
        let count = match (self.count, self.duration) {
            (None, None) => Some(10_000),
            (count, _) => count,
        };
        PublishConfig {
            queue: queue.queue.clone(),
            exchange: queue.exchange.clone(),
            votes_per_message: self.votes_per_message,
            queue_type: queue.queue_type,
            count,
            duration: self.duration,
            rate: self.rate,
            connections: self.connections,
            window: self.window,
            generator,
            stall_timeout: self.stall_timeout,
            progress: !self.no_progress,
            record_confirm_times: false,
        }
    }
}

/// `loadgen publish`.
#[derive(Debug, Clone, Args)]
pub struct PublishArgs {
    /// Broker.
    #[command(flatten)]
    pub broker: BrokerArgs,
    /// The vote queue.
    #[command(flatten)]
    pub queue: QueueArgs,
    /// Load.
    #[command(flatten)]
    pub load: LoadArgs,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn publish_command(args: PublishArgs) -> Result<Outcome, Error> {
    let url = args.broker.validate()?;
    let config = args.load.to_config(&args.queue);
    let report = publish(&url, &config).await?;
    report.expected.write(&args.load.expected)?;
    if args.json {
        say!("{}", json!({ "publish": publish_json(&report, &config), "expected_file": args.load.expected }));
    } else {
        print_publish(&report, &config, &args.load.expected);
    }
    Ok(Outcome::Done)
}

pub(super) fn publish_json(report: &PublishReport, config: &PublishConfig) -> serde_json::Value {
    let e = &report.expected;
    json!({
        "queue": config.queue,
        "law_prefix": e.law_prefix,
        "seed": e.seed,
        "connections": config.connections,
        "window": config.window,
        "target_rate": config.rate,
        "messages": e.messages_sent,
        "seconds": report.elapsed.as_secs_f64(),
        "rate": report.rate(),
        "unique_votes": e.total,
        "oui": e.oui,
        "non": e.non,
        "duplicates_sent": e.duplicates_sent,
        "conflicting_sent": e.conflicting_sent,
        "revote_rule": e.revote_rule,
        "invalid_sent": e.invalid_sent,
        "envelopes_sent": e.envelopes_sent,
        "republished": e.republished,
        "confirm_latency_us": report.confirm_summary(),
    })
}

pub(super) fn print_publish(report: &PublishReport, config: &PublishConfig, path: &std::path::Path) {
    let e = &report.expected;
    say!(
        "published {} messages to {} in {:.2} s: {:.0} msg/s ({} connections, window {})",
        e.messages_sent,
        config.queue,
        report.elapsed.as_secs_f64(),
        report.rate(),
        config.connections,
        config.window
    );
    say!(
        "  unique votes {} (oui {}, non {}), duplicates {} ({} resends, {} revotes, {} conflicting, REVOTE_RULE={}), invalid {}, envelopes {}, republished {}",
        e.total,
        e.oui,
        e.non,
        e.duplicates_sent,
        e.resends_sent,
        e.revotes_sent,
        e.conflicting_sent,
        match e.revote_rule {
            RevoteRule::First => "first",
            RevoteRule::Last => "last",
        },
        e.invalid_sent,
        e.envelopes_sent,
        e.republished
    );
    say!("  confirm latency: {}", report.confirm_summary());
    say!("  expected totals written to {} (law prefix {}, seed {})", path.display(), e.law_prefix, e.seed);
}
