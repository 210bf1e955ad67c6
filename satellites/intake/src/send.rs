//! The publishing shell around [`Batch`] and [`Link`]: requests hand their vote to the
//! batcher and wait for its outcome; the batcher groups votes ([`Batch`], at most
//! INTAKE_BATCH_SIZE or INTAKE_BATCH_LINGER_MS) and settles each batch in a task of its own,
//! so that many batches are in flight at once:
//!
//! 1. the [`Link`] admits it, or it is refused at once (503);
//! 2. the engine's database says which of its votes, or of their other choice, are counted: a
//!    counted other choice is a 409, the vote itself counted is accepted without a resend (a
//!    failed lookup skips this: the engine then records such a vote as a duplicate);
//! 3. the rest is published as one `vote.batch` message and accepted **only when the broker
//!    confirmed it**, within the earliest deadline of its requests; otherwise every vote in it
//!    is unavailable (503), the broker connection is dropped and the link goes down.
//!
//! A request never waits past its deadline (INTAKE_CONFIRM_TIMEOUT_MS after it arrived).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool_postgres::Pool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep_until, timeout_at};
use tokio_postgres::types::Type;
use vote_mq::{OutgoingMessage, Publisher};

use crate::batch::{self, Batch};
use crate::config::Batching;
use crate::link::{Admit, Link, Ticket};
use crate::metrics::Metrics;
use crate::vote::Prepared;

/// SQL: which of the given vote hashes are counted.
const COUNTED: &str = include_str!("../../../sql/intake/queries/counted.sql");
/// Name of the intake as a producer (envelope and broker connection).
pub const PRODUCER: &str = "vote-intake";
/// Votes waiting for the batcher at most; beyond, requests are answered 503 at once.
const QUEUE_CAPACITY: usize = 100_000;
/// Longest lookup of counted votes.
const LOOKUP_TIMEOUT: Duration = Duration::from_millis(250);
/// Time of a request kept for publishing after the lookup.
const PUBLISH_RESERVE: Duration = Duration::from_millis(200);
/// How long the link stays down before a trial batch.
pub const RETRY_INTERVAL: Duration = Duration::from_millis(500);

/// What became of a vote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The broker confirmed it (or the engine had counted it already).
    Accepted,
    /// The citizen's other choice on this law is counted.
    Conflict,
    /// Not confirmed in time: the broker is down, blocked or slow.
    Unavailable,
}

struct Waiter {
    other_receipt: String,
    receipt: String,
    reply: oneshot::Sender<Outcome>,
    deadline: Instant,
}

/// What every batch task shares.
struct Shared {
    publisher: Arc<Publisher>,
    queue: String,
    pool: Pool,
    link: Mutex<Link>,
    metrics: Metrics,
}

impl Shared {
    fn link(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Hands votes to the batcher; cheap to clone.
#[derive(Clone)]
pub struct Sender {
    tx: mpsc::Sender<(Vec<u8>, Waiter)>,
    shared: Arc<Shared>,
    confirm_timeout: Duration,
}

/// The batcher task: runs until every [`Sender`] is dropped, then publishes what is left and
/// waits for the batches in flight.
pub struct Batcher {
    rx: mpsc::Receiver<(Vec<u8>, Waiter)>,
    shared: Arc<Shared>,
    batching: Batching,
}

/// A sender and its batcher, publishing to `queue` through `publisher`, checking counted votes
/// in `pool`.
pub fn channel(
    publisher: Arc<Publisher>,
    queue: &str,
    pool: Pool,
    batching: Batching,
    confirm_timeout: Duration,
    metrics: Metrics,
) -> (Sender, Batcher) {
    let (tx, rx) = mpsc::channel(QUEUE_CAPACITY);
    let shared = Arc::new(Shared {
        publisher,
        queue: queue.to_owned(),
        pool,
        link: Mutex::new(Link::new(RETRY_INTERVAL)),
        metrics,
    });
    (Sender { tx, shared: shared.clone(), confirm_timeout }, Batcher { rx, shared, batching })
}

impl Sender {
    /// Whether votes are being sent to the broker (not refused with 503).
    pub fn is_up(&self) -> bool {
        self.shared.link().is_up()
    }

    /// Publishes `vote` with others and says what became of it, within the confirm timeout.
    pub async fn submit(&self, vote: Prepared) -> Outcome {
        let deadline = Instant::now() + self.confirm_timeout;
        let (reply, outcome) = oneshot::channel();
        let waiter = Waiter { other_receipt: vote.other_receipt, receipt: vote.receipt, reply, deadline };
        if self.tx.try_send((vote.json, waiter)).is_err() {
            return Outcome::Unavailable;
        }
        // The batch task answers by the deadline; the margin only covers scheduling.
        match timeout_at(deadline + Duration::from_millis(50), outcome).await {
            Ok(Ok(outcome)) => outcome,
            _ => Outcome::Unavailable,
        }
    }
}

impl Batcher {
    /// Groups and publishes until every sender is gone.
    pub async fn run(mut self) {
        let mut batch = Batch::new(self.batching.max_votes);
        let mut carry = None;
        let mut in_flight = JoinSet::new();
        loop {
            let first = match carry.take() {
                Some(item) => item,
                None => match self.rx.recv().await {
                    Some(item) => item,
                    None => break,
                },
            };
            let linger_until = Instant::now() + self.batching.linger;
            batch.push(first.0, first.1);
            while !batch.is_full() {
                tokio::select! {
                    biased;
                    item = self.rx.recv() => match item {
                        Some((json, waiter)) if batch.fits(&json) => batch.push(json, waiter),
                        Some(item) => {
                            carry = Some(item);
                            break;
                        }
                        None => break,
                    },
                    () = sleep_until(linger_until) => break,
                }
            }
            in_flight.spawn(settle(batch.take(), self.shared.clone()));
            while in_flight.try_join_next().is_some() {}
        }
        while in_flight.join_next().await.is_some() {}
    }
}

/// Settles one batch (steps 1-3 of the module's description).
async fn settle(items: Vec<(Vec<u8>, Waiter)>, shared: Arc<Shared>) {
    let metrics = &shared.metrics;
    let ticket = match shared.link().admit(Instant::now()) {
        Admit::Send(ticket) => ticket,
        Admit::Refuse => return answer(items, Outcome::Unavailable, metrics),
    };
    let deadline = items.iter().map(|(_, w)| w.deadline).min().unwrap_or_else(Instant::now);
    let counted = counted(&shared, &items, deadline).await;
    let mut to_send = Vec::with_capacity(items.len());
    for (json, waiter) in items {
        if counted.contains(&waiter.other_receipt) {
            answer_one(waiter, Outcome::Conflict, metrics);
        } else if counted.contains(&waiter.receipt) {
            answer_one(waiter, Outcome::Accepted, metrics);
        } else {
            to_send.push((json, waiter));
        }
    }
    if to_send.is_empty() {
        shared.link().abandoned(ticket);
        return;
    }
    let body = batch::encode(to_send.iter().map(|(json, _)| json.as_slice()), PRODUCER);
    let message = OutgoingMessage::json("", &shared.queue, body);
    let sent_at = Instant::now();
    let confirmed = timeout_at(deadline, async { shared.publisher.send(&message).await?.await }).await;
    match confirmed {
        Ok(Ok(())) => {
            metrics.confirm_seconds.observe(sent_at.elapsed().as_secs_f64());
            metrics.batch_votes.observe(to_send.len() as f64);
            finish(&shared, ticket, true);
            answer(to_send, Outcome::Accepted, metrics);
        }
        failure => {
            let reason = match failure {
                Ok(Err(e)) => e.to_string(),
                _ => "no confirm in time".to_owned(),
            };
            tracing::warn!(votes = to_send.len(), %reason, "a batch was not confirmed: its votes are answered 503");
            finish(&shared, ticket, false);
            answer(to_send, Outcome::Unavailable, metrics);
            // A link that did not confirm is not trusted again: the next batch connects afresh.
            shared.publisher.reset().await;
        }
    }
}

/// Tells the link how a sent batch ended and mirrors its state in the gauge.
fn finish(shared: &Shared, ticket: Ticket, confirmed: bool) {
    let mut link = shared.link();
    if confirmed {
        link.confirmed(ticket);
    } else {
        link.failed(ticket, Instant::now());
    }
    shared.metrics.broker_up.set(i64::from(link.is_up()));
}

/// The receipts among the batch's own and other-choice receipts that the engine has counted;
/// empty when the database does not answer before `deadline` (minus the time a publish needs).
async fn counted(shared: &Shared, items: &[(Vec<u8>, Waiter)], deadline: Instant) -> HashSet<String> {
    let receipts: Vec<&str> = items.iter().flat_map(|(_, w)| [w.receipt.as_str(), w.other_receipt.as_str()]).collect();
    let lookup = async {
        let client = shared.pool.get().await.map_err(|e| e.to_string())?;
        // Unnamed, so planned for each batch: a named statement's cached plan was caught
        // scanning all of vote_audit (docs/decisions/031).
        let rows = client.query_typed(COUNTED, &[(&receipts, Type::TEXT_ARRAY)]).await.map_err(|e| e.to_string())?;
        Ok::<_, String>(rows.iter().map(|row| row.get::<_, String>(0)).collect::<HashSet<_>>())
    };
    // Leave the publish most of the request's time; a database that does not answer costs a
    // batch a quarter of a second at most.
    let budget = (Instant::now() + LOOKUP_TIMEOUT).min(deadline.checked_sub(PUBLISH_RESERVE).unwrap_or(deadline));
    match timeout_at(budget, lookup).await {
        Ok(Ok(found)) => {
            shared.metrics.conflict_checks.with_label_values(&["ok"]).inc();
            found
        }
        outcome => {
            let error = match outcome {
                Ok(Err(e)) => e,
                _ => "timed out".to_owned(),
            };
            tracing::warn!(%error, "could not look up counted votes; a changed vote is then recorded as a duplicate");
            shared.metrics.conflict_checks.with_label_values(&["failed"]).inc();
            HashSet::new()
        }
    }
}

fn answer(items: Vec<(Vec<u8>, Waiter)>, outcome: Outcome, metrics: &Metrics) {
    for (_, waiter) in items {
        answer_one(waiter, outcome, metrics);
    }
}

fn answer_one(waiter: Waiter, outcome: Outcome, metrics: &Metrics) {
    metrics.count(
        match outcome {
            Outcome::Accepted => "accepted",
            Outcome::Conflict => "conflict",
            Outcome::Unavailable => "unavailable",
        },
        1,
    );
    // The request may have given up (its client went away); the outcome stands.
    let _ = waiter.reply.send(outcome);
}
