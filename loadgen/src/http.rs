//! `loadgen http`: citizens voting through `vote-intake` over HTTP, each with their own bearer
//! token (signed with the development key), on keep-alive connections.
//!
//! Vote `k` of a run is citizen `k mod citizens` on law `k div citizens` (so a citizen's votes
//! are spread over the run, as a rate limit per citizen expects), its choice drawn from the
//! seed. A vote enters the expected totals once it is answered 202; a 503 or 429 is retried
//! after its `Retry-After` (the same vote has the same receipt, so a retry is never counted
//! twice) until it is accepted or `retry_for` has passed. Latency is measured from the moment
//! the vote was due (the rate's schedule, or its first send when unpaced) to its 202, retries
//! included, so a slow answer cannot hide the requests queued behind it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use tokio::time::Instant;
use vote_satellite_kit::auth::token::{claims, sign};

use crate::Error;
use crate::contract::Choice;
use crate::expected::{Expected, LawTotals};
use crate::generate::law_id;
use crate::latency::new_histogram;

/// How tokens are signed.
#[derive(Debug, Clone)]
pub struct Signer {
    /// PEM private key (the development key).
    pub key_pem: Vec<u8>,
    /// `kid` in the header.
    pub kid: String,
    /// `iss`.
    pub issuer: String,
    /// `aud`.
    pub audience: String,
}

/// One HTTP run.
#[derive(Debug, Clone)]
pub struct HttpLoadConfig {
    /// Base URL of the intake (`http://127.0.0.1:5030`).
    pub url: String,
    /// Citizens (each gets a token).
    pub citizens: u32,
    /// Laws of the run.
    pub laws: u32,
    /// Votes per second over all connections; 0 sends as fast as answers come.
    pub rate: f64,
    /// Votes to send at most (`citizens * laws` at most).
    pub count: u64,
    /// Stop starting new votes after this long.
    pub duration: Option<Duration>,
    /// Concurrent keep-alive connections.
    pub connections: usize,
    /// Law ids start with this.
    pub law_prefix: String,
    /// Seed of the choices.
    pub seed: u64,
    /// Token signing.
    pub signer: Signer,
    /// How long a vote is retried before it is given up.
    pub retry_for: Duration,
}

/// What a run did.
#[derive(Debug)]
pub struct HttpReport {
    /// Totals of the accepted votes: what the engine must count.
    pub expected: Expected,
    /// Votes answered 202.
    pub accepted: u64,
    /// Requests answered 503, 429 or not answered, then retried.
    pub retried: u64,
    /// Votes given up after `retry_for` (not in the expected totals; they may still be counted,
    /// so verification is exact only when this is 0).
    pub given_up: u64,
    /// Other answers (a bug or a misconfiguration: 4xx other than 429).
    pub refused: u64,
    /// From the first vote due to the last answer.
    pub elapsed: Duration,
    /// Time spent signing the tokens before the run.
    pub signing: Duration,
    /// Due time to 202, microseconds.
    pub accept_latency: Histogram<u64>,
}

/// The choice of vote `k`: splitmix64 of the seed and `k`.
fn choice(seed: u64, k: u64) -> Choice {
    let mut z = seed.wrapping_add(k.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    if (z ^ (z >> 31)) & 1 == 0 { Choice::Oui } else { Choice::Non }
}

/// The citizen id of citizen `c`.
pub fn citizen_id(c: u32) -> String {
    format!("citizen-{c}")
}

struct Worker {
    laws: Vec<LawTotals>,
    accepted: u64,
    retried: u64,
    given_up: u64,
    refused: u64,
    latency: Histogram<u64>,
}

/// Runs the load and returns what was accepted.
pub async fn run_http(config: &HttpLoadConfig) -> Result<HttpReport, Error> {
    if config.citizens == 0 || config.laws == 0 || config.connections == 0 {
        return Err(Error::Config("--citizens, --laws and --connections must be at least 1".to_owned()));
    }
    let started_signing = std::time::Instant::now();
    let mut tokens = Vec::with_capacity(config.citizens as usize);
    for c in 0..config.citizens {
        let claims = claims(&citizen_id(c), &[], &config.signer.issuer, &config.signer.audience, 24 * 3600);
        tokens.push(
            sign(&claims, &config.signer.key_pem, Some(&config.signer.kid))
                .map_err(|e| Error::Config(format!("AUTH_SIGNING_KEY_FILE: {e}")))?,
        );
    }
    let signing = started_signing.elapsed();
    let tokens = Arc::new(tokens);
    let law_ids: Arc<Vec<String>> = Arc::new((0..config.laws).map(|i| law_id(&config.law_prefix, i)).collect());
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.connections)
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| Error::Config(format!("HTTP client: {e}")))?;
    let total = config.count.min(u64::from(config.citizens) * u64::from(config.laws));
    let next = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let stop_at = config.duration.map(|d| start + d);
    let url = format!("{}/votes", config.url.trim_end_matches('/'));
    let mut handles = Vec::new();
    for _ in 0..config.connections {
        let (client, tokens, law_ids, next, url) =
            (client.clone(), tokens.clone(), law_ids.clone(), next.clone(), url.clone());
        let config = config.clone();
        handles.push(tokio::spawn(async move {
            let mut worker = Worker {
                laws: vec![LawTotals::default(); law_ids.len()],
                accepted: 0,
                retried: 0,
                given_up: 0,
                refused: 0,
                latency: new_histogram(),
            };
            loop {
                let k = next.fetch_add(1, Ordering::Relaxed);
                if k >= total || stop_at.is_some_and(|at| Instant::now() >= at) {
                    break;
                }
                let due = if config.rate > 0.0 {
                    start + Duration::from_secs_f64(k as f64 / config.rate)
                } else {
                    Instant::now()
                };
                tokio::time::sleep_until(due).await;
                let citizen = (k % u64::from(config.citizens)) as usize;
                let law = (k / u64::from(config.citizens)) as usize;
                let choice = choice(config.seed, k);
                let body = serde_json::json!({"law_id": law_ids[law], "choice": choice.as_str()}).to_string();
                loop {
                    let response = client
                        .post(&url)
                        .bearer_auth(&tokens[citizen])
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await;
                    let (status, retry_after) = match &response {
                        Ok(r) => (
                            r.status().as_u16(),
                            r.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok()),
                        ),
                        Err(_) => (0, None),
                    };
                    if let Ok(r) = response {
                        // Read the body so the connection can be reused.
                        let _ = r.bytes().await;
                    }
                    match status {
                        202 => {
                            worker.accepted += 1;
                            let totals = &mut worker.laws[law];
                            match choice {
                                Choice::Oui => totals.oui += 1,
                                Choice::Non => totals.non += 1,
                            }
                            worker.latency.saturating_record(due.elapsed().as_micros().max(1) as u64);
                            break;
                        }
                        0 | 429 | 503 if due.elapsed() < config.retry_for => {
                            worker.retried += 1;
                            let pause = retry_after.map_or(Duration::from_millis(100), Duration::from_secs);
                            tokio::time::sleep(pause.min(Duration::from_secs(1))).await;
                        }
                        0 | 429 | 503 => {
                            worker.given_up += 1;
                            break;
                        }
                        _ => {
                            worker.refused += 1;
                            break;
                        }
                    }
                }
            }
            worker
        }));
    }
    let mut laws = vec![LawTotals::default(); law_ids.len()];
    let mut report = HttpReport {
        expected: Expected::from_laws(&config.law_prefix, config.laws, Default::default()),
        accepted: 0,
        retried: 0,
        given_up: 0,
        refused: 0,
        elapsed: Duration::ZERO,
        signing,
        accept_latency: new_histogram(),
    };
    for handle in handles {
        let worker = handle.await.map_err(|e| Error::Config(format!("a load task failed: {e}")))?;
        for (total, add) in laws.iter_mut().zip(&worker.laws) {
            total.oui += add.oui;
            total.non += add.non;
        }
        report.accepted += worker.accepted;
        report.retried += worker.retried;
        report.given_up += worker.given_up;
        report.refused += worker.refused;
        let _ = report.accept_latency.add(&worker.latency);
    }
    report.elapsed = start.elapsed();
    let laws = law_ids.iter().cloned().zip(laws).filter(|(_, t)| t.total() > 0).collect();
    let mut expected = Expected::from_laws(&config.law_prefix, config.laws, laws);
    expected.seed = config.seed;
    expected.messages_sent = report.accepted;
    report.expected = expected;
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn choices_are_seeded_and_mixed() {
        let ouis = (0..10_000).filter(|&k| choice(7, k) == Choice::Oui).count();
        assert!((4_500..5_500).contains(&ouis), "{ouis}");
        assert!((0..100).all(|k| choice(7, k) == choice(7, k)));
        assert!((0..100).any(|k| choice(7, k) != choice(8, k)));
    }
}
