//! The loop that moves votes through the pipeline: source -> decode -> batch -> store -> ack.
//!
//! One task owns the session, the batcher and the ack tracker, so no locks are needed; writes
//! to the database and dead-letter publishes run as futures it polls (at most
//! MAX_INFLIGHT_BATCHES batches at once), so the next batch fills while one commits.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use time::OffsetDateTime;
use tokio::time::Instant;
use vote_mq::{Backoff, BulkDelivery};
use vote_runtime::CancellationToken;

use crate::batch::{BatchPolicy, Batcher};
use crate::dead_letter::DeadLetters;
use crate::decode::{Decoded, RejectReason, Rejection, Vote, decode_message};
use crate::metrics::Metrics;
use crate::source::{Session, SourceConfig};
use crate::store::{Store, WriteResult};

/// Pause before a message whose dead letter was not confirmed goes back to the queue.
const DEAD_LETTER_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Deliveries taken from the buffer per wake-up before looking at timers and completions.
const RECV_BURST: usize = 512;

/// A decoded vote with what is needed to ack or dead-letter it, kept together from the batcher
/// through the write until it is settled.
struct Pending {
    tag: u64,
    vote: Vote,
    body: Vec<u8>,
}

impl AsRef<Vote> for Pending {
    fn as_ref(&self) -> &Vote {
        &self.vote
    }
}

/// Work the loop waits on.
enum Completion {
    Batch { epoch: u64, batch: Vec<Pending>, result: WriteResult, started: Instant },
    DeadLettered { epoch: u64, tag: u64, reason: RejectReason, confirmed: bool },
}

/// Everything the loop needs.
pub struct Pipeline {
    /// Where to consume from.
    pub source: SourceConfig,
    /// Flush policy.
    pub policy: BatchPolicy,
    /// Concurrent batch writes.
    pub max_inflight_batches: usize,
    /// Database writer.
    pub store: Store,
    /// Dead-letter publisher.
    pub dead_letters: DeadLetters,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Set while a broker session is live (readiness).
    pub broker_up: Arc<AtomicBool>,
    /// Grace period for in-flight work after shutdown.
    pub shutdown_timeout: Duration,
}

impl Pipeline {
    /// Runs until `shutdown` is cancelled, then stops consuming, flushes, commits, acks and
    /// returns. Returns an error only for what no retry can fix: the vote queue exists with
    /// another type than configured (nothing was consumed then).
    pub async fn run(self, shutdown: CancellationToken) -> Result<(), vote_mq::Error> {
        let mut state = LoopState {
            batcher: Batcher::new(self.policy),
            inflight: FuturesUnordered::new(),
            inflight_batches: 0,
            session: None,
            epoch: 0,
            reconnect_at: Instant::now(),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
            unacked_reported: 0,
        };
        let mut stopping = false;
        let mut deadline_for_exit: Option<Instant> = None;
        let mut outcome = Ok(());
        loop {
            if state.session.is_none() && !stopping && Instant::now() >= state.reconnect_at {
                outcome = self.connect(&mut state).await;
                if outcome.is_err() {
                    break;
                }
            }
            self.flush_ready(&mut state, stopping);
            if stopping && state.batcher.is_empty() && state.inflight.is_empty() {
                break;
            }
            let flush_at = if state.inflight_batches < self.max_inflight_batches {
                state.batcher.deadline(state.inflight_batches > 0)
            } else {
                None
            };
            let can_read = !stopping && state.session.is_some();
            tokio::select! {
                biased;
                _ = shutdown.cancelled(), if !stopping => {
                    tracing::info!(pending = state.batcher.len(), inflight = state.inflight.len(), "stopping: flushing pending votes");
                    stopping = true;
                    deadline_for_exit = Some(Instant::now() + self.shutdown_timeout);
                }
                Some(done) = state.inflight.next(), if !state.inflight.is_empty() => {
                    self.complete(&mut state, done);
                }
                delivery = recv(&mut state.session), if can_read => match delivery {
                    Some(first) => self.receive(&mut state, first),
                    None => self.lose_session(&mut state, "connection to the broker lost"),
                },
                _ = sleep_until(flush_at), if flush_at.is_some() => {}
                _ = tokio::time::sleep_until(state.reconnect_at), if state.session.is_none() && !stopping => {}
                _ = sleep_until(deadline_for_exit), if deadline_for_exit.is_some() => {
                    tracing::warn!(
                        inflight = state.inflight.len(),
                        "shutdown timeout: leaving unacked deliveries to be redelivered (duplicates are absorbed)"
                    );
                    break;
                }
            }
            let unacked = state.session.as_ref().map_or(0, |s| s.tracker.outstanding()) as i64;
            state.report_unacked(&self.metrics, unacked);
        }
        state.report_unacked(&self.metrics, 0);
        if let Some(session) = state.session.take() {
            session.close().await;
        }
        self.dead_letters.close().await;
        self.broker_up.store(false, Ordering::Relaxed);
        tracing::info!("pipeline stopped");
        outcome
    }

    /// Opens a session, or schedules the next attempt; fails only when the queue exists with
    /// other settings (no retry can fix that).
    async fn connect(&self, state: &mut LoopState) -> Result<(), vote_mq::Error> {
        match Session::open(&self.source, state.epoch + 1).await {
            Ok(session) => {
                if state.epoch > 0 {
                    self.metrics.broker_reconnects.inc();
                }
                state.epoch = session.epoch;
                state.backoff.reset();
                state.session = Some(session);
                self.broker_up.store(true, Ordering::Relaxed);
                tracing::info!(broker = %self.source.url, queue = %self.source.topology.queue, prefetch = self.source.prefetch, "consuming");
            }
            Err(e @ vote_mq::Error::TopologyMismatch(_)) => return Err(e),
            Err(e) => {
                self.metrics.broker_connection_failed();
                let delay = state.backoff.next_delay();
                state.reconnect_at = Instant::now() + delay;
                tracing::warn!(error = %e, broker = %self.source.url, queue = %self.source.topology.queue, ?delay, "cannot consume; retrying");
            }
        }
        Ok(())
    }

    /// Drops the session: its tags are void, its pending (unwritten) votes will be redelivered.
    fn lose_session(&self, state: &mut LoopState, why: &str) {
        if state.session.take().is_some() {
            self.broker_up.store(false, Ordering::Relaxed);
            let dropped = state.batcher.len();
            state.batcher.clear();
            let delay = state.backoff.next_delay();
            state.reconnect_at = Instant::now() + delay;
            self.metrics.broker_connection_failed();
            tracing::warn!(queue = %self.source.topology.queue, dropped_pending = dropped, ?delay, "{why}; reconnecting");
        }
    }

    fn receive(&self, state: &mut LoopState, first: BulkDelivery) {
        let now = Instant::now();
        self.accept(state, first, now);
        for _ in 0..RECV_BURST {
            let Some(delivery) = state.session.as_mut().and_then(Session::try_recv) else { break };
            self.accept(state, delivery, now);
        }
    }

    fn accept(&self, state: &mut LoopState, delivery: BulkDelivery, now: Instant) {
        let tag = delivery.tag;
        match decode_message(&delivery.body) {
            Ok(Decoded::One(vote)) => state.batcher.push(Pending { tag, vote, body: delivery.body }, now),
            Ok(Decoded::Many(parts)) => {
                if let Some(session) = state.session.as_mut() {
                    session.expect_parts(tag, parts.len());
                }
                // Each vote goes its own way, with its own bytes as its body; the delivery is
                // acked once all of them are committed or dead-lettered.
                for part in parts {
                    let body = part.body.to_vec();
                    match part.vote {
                        Ok(vote) => state.batcher.push(Pending { tag, vote, body }, now),
                        Err(rejection) => self.dead_letter(state, tag, body, rejection),
                    }
                }
            }
            Err(rejection) => self.dead_letter(state, tag, delivery.body, rejection),
        }
    }

    fn dead_letter(&self, state: &mut LoopState, tag: u64, body: Vec<u8>, rejection: Rejection) {
        let dead_letters = self.dead_letters.clone();
        let epoch = state.epoch;
        state.inflight.push(Box::pin(async move {
            let confirmed = match dead_letters.send(body, &rejection).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "dead-letter publish not confirmed; the message goes back to the queue");
                    // Paces the retries of a dead-letter queue that keeps refusing.
                    tokio::time::sleep(DEAD_LETTER_RETRY_PAUSE).await;
                    false
                }
            };
            Completion::DeadLettered { epoch, tag, reason: rejection.reason, confirmed }
        }));
    }

    fn flush_ready(&self, state: &mut LoopState, stopping: bool) {
        let now = Instant::now();
        while state.inflight_batches < self.max_inflight_batches
            && !state.batcher.is_empty()
            && (stopping || state.batcher.is_ready(now, state.inflight_batches > 0))
        {
            let batch = state.batcher.take();
            let store = self.store.clone();
            let epoch = state.epoch;
            state.inflight_batches += 1;
            state.inflight.push(Box::pin(async move {
                let started = Instant::now();
                let result = store.write(&batch).await;
                Completion::Batch { epoch, batch, result, started }
            }));
        }
    }

    fn complete(&self, state: &mut LoopState, done: Completion) {
        match done {
            Completion::Batch { epoch, batch, result, started } => {
                state.inflight_batches -= 1;
                let is_poison = |i: &usize| result.poisoned.contains(i);
                self.metrics.record_batch(
                    &result.outcome,
                    batch.len() - result.poisoned.len(),
                    started.elapsed().as_secs_f64(),
                    OffsetDateTime::now_utc(),
                    batch.iter().enumerate().filter(|(i, _)| !is_poison(i)).map(|(_, p)| p.vote.timestamp),
                );
                let mut settled = Vec::with_capacity(batch.len());
                for (i, pending) in batch.into_iter().enumerate() {
                    if !is_poison(&i) {
                        settled.push(pending.tag);
                    } else if epoch == state.epoch {
                        let rejection =
                            Rejection { reason: RejectReason::DbRejected, detail: "refused by the database" };
                        self.dead_letter(state, pending.tag, pending.body, rejection);
                    }
                }
                self.settle(state, epoch, settled);
            }
            Completion::DeadLettered { epoch, tag, reason, confirmed } => {
                if confirmed {
                    self.metrics.rejected.with_label_values(&[reason.as_str()]).inc();
                    self.settle(state, epoch, vec![tag]);
                } else if epoch == state.epoch
                    && let Some(session) = state.session.as_mut()
                    && let Err(e) = session.requeue(tag)
                {
                    self.lose_session(state, &format!("requeue failed: {e}"));
                }
            }
        }
    }

    fn settle(&self, state: &mut LoopState, epoch: u64, tags: Vec<u64>) {
        // Tags of an earlier session are void: those messages are redelivered on the new one
        // and deduplicated by the database.
        if epoch != state.epoch {
            return;
        }
        if let Some(session) = state.session.as_mut()
            && let Err(e) = session.settle(tags)
        {
            self.lose_session(state, &format!("ack failed: {e}"));
        }
    }
}

struct LoopState {
    batcher: Batcher<Pending>,
    inflight: FuturesUnordered<BoxFuture<'static, Completion>>,
    inflight_batches: usize,
    session: Option<Session>,
    epoch: u64,
    reconnect_at: Instant,
    backoff: Backoff,
    /// This pipeline's share of the unacked gauge, which sums every pipeline's.
    unacked_reported: i64,
}

impl LoopState {
    fn report_unacked(&mut self, metrics: &Metrics, unacked: i64) {
        metrics.unacked.add(unacked - self.unacked_reported);
        self.unacked_reported = unacked;
    }
}

async fn recv(session: &mut Option<Session>) -> Option<BulkDelivery> {
    match session {
        Some(s) => s.recv().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
