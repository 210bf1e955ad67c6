//! `loadgen http`: votes through `vote-intake` over HTTP, writing the expected totals like
//! `publish` does, so that `verify` checks the result exactly.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::Outcome;
use crate::Error;
use crate::duration::parse_duration;
use crate::generate::random_law_prefix;
use crate::http::{HttpLoadConfig, Signer, run_http};
use crate::latency::LatencySummary;
use crate::token::SigningArgs;

/// `loadgen http`.
#[derive(Debug, Clone, Args)]
pub struct HttpArgs {
    /// Base URL of vote-intake.
    #[arg(long, env = "INTAKE_URL", default_value = "http://127.0.0.1:5030")]
    pub url: String,
    /// Citizens voting (one token each, minted before the run).
    #[arg(long, default_value_t = 10_000)]
    pub citizens: u32,
    /// Laws they vote on (each citizen votes at most once per law).
    #[arg(long, default_value_t = 10)]
    pub laws: u32,
    /// Votes per second over all connections; 0: as fast as the answers come.
    #[arg(long, default_value_t = 0.0)]
    pub rate: f64,
    /// Votes to send (at most citizens x laws).
    #[arg(long, default_value_t = u64::MAX, hide_default_value = true)]
    pub count: u64,
    /// Stop starting votes after this long (`30s`, `2m`).
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    pub connections: usize,
    /// Law ids start with this (default: a fresh random prefix).
    #[arg(long)]
    pub law_prefix: Option<String>,
    /// Seed of the choices (default: random).
    #[arg(long)]
    pub seed: Option<u64>,
    /// A vote answered 503 or 429 is retried this long before it is given up.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub retry_for: Duration,
    /// Token signing: the development key, the intake's AUTH_ISSUER and AUTH_AUDIENCE.
    #[command(flatten)]
    pub signing: SigningArgs,
    /// Where to write the expected totals.
    #[arg(long, default_value = "loadgen.expected.json")]
    pub expected: PathBuf,
    /// Print a JSON summary on stdout instead of text.
    #[arg(long)]
    pub json: bool,
}

pub(super) async fn http_command(args: HttpArgs) -> Result<Outcome, Error> {
    let key_pem = args.signing.read_key()?;
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return Err(Error::Config("--rate must be 0 or a positive number".to_owned()));
    }
    let config = HttpLoadConfig {
        url: args.url.clone(),
        citizens: args.citizens,
        laws: args.laws,
        rate: args.rate,
        count: args.count,
        duration: args.duration,
        connections: args.connections,
        law_prefix: args.law_prefix.clone().unwrap_or_else(random_law_prefix),
        seed: args.seed.unwrap_or_else(rand::random),
        signer: Signer {
            key_pem,
            kid: args.signing.kid.clone(),
            issuer: args.signing.issuer.clone(),
            audience: args.signing.audience.clone(),
        },
        retry_for: args.retry_for,
    };
    let report = run_http(&config).await?;
    report.expected.write(&args.expected)?;
    let latency = LatencySummary::of(&report.accept_latency);
    let seconds = report.elapsed.as_secs_f64().max(1e-9);
    if args.json {
        say!(
            "{}",
            json!({
                "law_prefix": report.expected.law_prefix,
                "seed": report.expected.seed,
                "expected_file": args.expected,
                "accepted": report.accepted,
                "retried": report.retried,
                "given_up": report.given_up,
                "refused": report.refused,
                "elapsed_s": seconds,
                "accepted_per_s": report.accepted as f64 / seconds,
                "token_signing_s": report.signing.as_secs_f64(),
                "accept_latency_us": latency,
            })
        );
    } else {
        say!(
            "accepted {} votes in {seconds:.2} s ({:.0}/s); {} retries, {} given up, {} refused",
            report.accepted,
            report.accepted as f64 / seconds,
            report.retried,
            report.given_up,
            report.refused
        );
        say!("request -> 202: {latency}");
        say!(
            "  expected totals written to {} (law prefix {}, seed {})",
            args.expected.display(),
            report.expected.law_prefix,
            report.expected.seed
        );
    }
    if report.given_up > 0 || report.refused > 0 {
        eprintln!("loadgen: some votes were not accepted: verify is exact only for a run where every vote was");
        return Ok(Outcome::Mismatch);
    }
    Ok(Outcome::Done)
}
