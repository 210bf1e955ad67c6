//! The loop that moves votes through the pipeline: source -> decode -> batch -> store -> ack.
//!
//! What to do is decided by [`Machine`], a pure state machine (pending votes, which deliveries
//! may be acked, what goes back to the queue, when the shutdown drain is over). This module is
//! its shell: one task owns the broker session and the machine, reads deliveries, and runs the
//! machine's writes and dead-letter publishes as futures it polls (at most
//! MAX_INFLIGHT_BATCHES batches at once), so the next batch fills while one commits.

mod machine;
mod stall;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use time::OffsetDateTime;
use tokio::time::Instant;
use vote_mq::admin::DepthProbe;
use vote_mq::{BulkDelivery, DeadLetterPublisher};
use vote_runtime::CancellationToken;
use vote_runtime::backoff::Backoff;

use crate::batch::BatchPolicy;
use crate::decode::{RejectReason, Rejection};
use crate::metrics::Metrics;
use crate::source::{Session, SourceConfig};
use crate::store::{Store, WriteResult};
use machine::{Action, Machine, Message, Pending};
use stall::StallWatch;

/// Pause before a message whose dead letter was not confirmed goes back to the queue.
const DEAD_LETTER_RETRY_PAUSE: Duration = Duration::from_millis(200);

/// Deliveries taken from the buffer per wake-up before looking at timers and completions.
const RECV_BURST: usize = 512;

/// Silence, with room in the prefetch window, after which the broker is asked whether messages
/// wait (see [`stall`]). Longer than a quorum queue's leader election.
const STALL_QUIET: Duration = Duration::from_secs(15);

/// Longest wait for the broker to say how many messages are ready.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

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
    pub dead_letters: DeadLetterPublisher,
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
            machine: Machine::new(self.policy, self.max_inflight_batches),
            inflight: FuturesUnordered::new(),
            session: None,
            reconnect_at: Instant::now(),
            backoff: Backoff::new(Duration::from_millis(100), Duration::from_secs(10)),
            unacked_reported: 0,
            stall: StallWatch::new(STALL_QUIET, Instant::now()),
            probe: None,
            depth: None,
        };
        let mut deadline_for_exit: Option<Instant> = None;
        let mut outcome = Ok(());
        loop {
            let stopping = state.machine.is_stopping();
            if state.session.is_none() && !stopping && Instant::now() >= state.reconnect_at {
                outcome = self.connect(&mut state).await;
                if outcome.is_err() {
                    break;
                }
            }
            state.machine.flush(Instant::now());
            self.perform(&mut state);
            if state.machine.is_done() {
                break;
            }
            let flush_at = state.machine.flush_deadline();
            let can_read = state.machine.wants_deliveries();
            let stall_check = state.session.as_ref().and(state.stall.check_at()).filter(|_| can_read);
            tokio::select! {
                biased;
                _ = shutdown.cancelled(), if !stopping => {
                    tracing::info!(pending = state.machine.pending(), inflight = state.machine.in_flight(), "stopping: flushing pending votes");
                    state.machine.stop();
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
                _ = sleep_until(stall_check), if stall_check.is_some() => self.check_stall(&mut state),
                ready = probe_answer(&mut state.probe), if state.probe.is_some() => self.probed(&mut state, ready),
                _ = tokio::time::sleep_until(state.reconnect_at), if state.session.is_none() && !stopping => {}
                _ = sleep_until(deadline_for_exit), if deadline_for_exit.is_some() => {
                    tracing::warn!(
                        inflight = state.machine.in_flight(),
                        "shutdown timeout: leaving unacked deliveries to be redelivered (duplicates are absorbed)"
                    );
                    break;
                }
            }
            self.perform(&mut state);
            let unacked = state.machine.unacked() as i64;
            state.report_unacked(&self.metrics, unacked);
        }
        state.report_unacked(&self.metrics, 0);
        if let Some(session) = state.session.take() {
            session.close().await;
        }
        if let Some(depth) = state.depth.take() {
            depth.close().await;
        }
        self.dead_letters.close().await;
        self.broker_up.store(false, Ordering::Relaxed);
        tracing::info!("pipeline stopped");
        outcome
    }

    /// Opens a session, or schedules the next attempt; fails only when the queue exists with
    /// other settings (no retry can fix that).
    async fn connect(&self, state: &mut LoopState) -> Result<(), vote_mq::Error> {
        match Session::open(&self.source).await {
            Ok(session) => {
                if state.machine.session_opened() > 1 {
                    self.metrics.broker_reconnects.inc();
                }
                state.backoff.reset();
                state.session = Some(session);
                state.stall.session_opened(Instant::now());
                state.probe = None;
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
            state.probe = None;
            self.broker_up.store(false, Ordering::Relaxed);
            let dropped = state.machine.session_lost();
            let delay = state.backoff.next_delay();
            state.reconnect_at = Instant::now() + delay;
            self.metrics.broker_connection_failed();
            tracing::warn!(queue = %self.source.topology.queue, dropped_pending = dropped, ?delay, "{why}; reconnecting");
        }
    }

    fn receive(&self, state: &mut LoopState, first: BulkDelivery) {
        let now = Instant::now();
        state.stall.delivered(now);
        accept(state, first, now);
        for _ in 0..RECV_BURST {
            let Some(delivery) = state.session.as_mut().and_then(Session::try_recv) else { break };
            accept(state, delivery, now);
        }
    }

    /// The session has been silent for [`STALL_QUIET`]: asks the broker how many messages are
    /// ready, if the prefetch window has room (a full window is silent by design).
    fn check_stall(&self, state: &mut LoopState) {
        let has_room = state.machine.unacked() < usize::from(self.source.prefetch);
        if !state.stall.start_probe(Instant::now(), has_room) {
            return;
        }
        let mut depth = state.depth.take().unwrap_or_else(|| {
            DepthProbe::new(&self.source.url, &self.source.topology.queue, &self.source.connection_name("-probe"))
        });
        state.probe = Some(Box::pin(async move {
            let ready = match tokio::time::timeout(PROBE_TIMEOUT, depth.ready()).await {
                Ok(Ok(ready)) => Some(ready),
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "cannot ask the broker how many votes wait in the queue");
                    None
                }
                Err(_) => {
                    tracing::warn!(timeout = ?PROBE_TIMEOUT, "the broker did not say how many votes wait in the queue");
                    None
                }
            };
            (ready, depth)
        }));
    }

    /// The broker said how many messages are ready: a silent session with messages waiting is
    /// dropped and opened again.
    fn probed(&self, state: &mut LoopState, (ready, depth): (Option<u32>, DepthProbe)) {
        state.probe = None;
        state.depth = Some(depth);
        if let Some(silent) = state.stall.probed(ready, Instant::now()) {
            self.metrics.consumer_stalls.inc();
            let why = format!(
                "the broker delivered nothing for {:.0} s while {} messages were ready",
                silent.as_secs_f64(),
                ready.unwrap_or_default()
            );
            self.lose_session(state, &why);
        }
    }

    /// Carries out the machine's actions: writes and dead letters become futures the loop polls;
    /// acks and requeues go to the session, whose failure loses it.
    fn perform(&self, state: &mut LoopState) {
        let LoopState { machine, inflight, session, .. } = state;
        let mut failed = None;
        for action in machine.actions() {
            match action {
                Action::Write { epoch, batch } => {
                    let store = self.store.clone();
                    inflight.push(Box::pin(async move {
                        let started = Instant::now();
                        let result = store.write(&batch).await;
                        Completion::Batch { epoch, batch, result, started }
                    }));
                }
                Action::DeadLetter { epoch, tag, body, rejection } => {
                    inflight.push(self.dead_letter(epoch, tag, body, rejection));
                }
                Action::Ack { up_to } => {
                    if let Some(Err(e)) = session.as_ref().map(|s| s.ack(up_to)) {
                        failed.get_or_insert(format!("ack failed: {e}"));
                    }
                }
                Action::Requeue { tag } => {
                    if let Some(Err(e)) = session.as_ref().map(|s| s.requeue(tag)) {
                        failed.get_or_insert(format!("requeue failed: {e}"));
                    }
                }
            }
        }
        if let Some(why) = failed {
            self.lose_session(state, &why);
        }
    }

    fn dead_letter(&self, epoch: u64, tag: u64, body: Vec<u8>, rejection: Rejection) -> BoxFuture<'static, Completion> {
        let dead_letters = self.dead_letters.clone();
        Box::pin(async move {
            let confirmed = match dead_letters.send(body, rejection.reason.as_str(), rejection.detail).await {
                Ok(()) => true,
                Err(e) => {
                    tracing::warn!(error = %e, "dead-letter publish not confirmed; the message goes back to the queue");
                    // Paces the retries of a dead-letter queue that keeps refusing.
                    tokio::time::sleep(DEAD_LETTER_RETRY_PAUSE).await;
                    false
                }
            };
            Completion::DeadLettered { epoch, tag, reason: rejection.reason, confirmed }
        })
    }

    fn complete(&self, state: &mut LoopState, done: Completion) {
        match done {
            Completion::Batch { epoch, batch, result, started } => {
                let is_poison = |i: &usize| result.poisoned.contains(i);
                self.metrics.record_batch(
                    &result.outcome,
                    batch.len() - result.poisoned.len(),
                    started.elapsed().as_secs_f64(),
                    OffsetDateTime::now_utc(),
                    batch.iter().enumerate().filter(|(i, _)| !is_poison(i)).map(|(_, p)| p.vote.timestamp),
                );
                state.machine.batch_written(epoch, batch, &result.poisoned);
            }
            Completion::DeadLettered { epoch, tag, reason, confirmed } => {
                if confirmed {
                    self.metrics.rejected.with_label_values(&[reason.as_str()]).inc();
                }
                state.machine.dead_lettered(epoch, tag, confirmed);
            }
        }
    }
}

fn accept(state: &mut LoopState, delivery: BulkDelivery, now: Instant) {
    state.machine.delivered(delivery.tag, Message::decode(delivery.body), now);
}

struct LoopState {
    machine: Machine,
    inflight: FuturesUnordered<BoxFuture<'static, Completion>>,
    session: Option<Session>,
    reconnect_at: Instant,
    backoff: Backoff,
    /// This pipeline's share of the unacked gauge, which sums every pipeline's.
    unacked_reported: i64,
    /// Watches the session's silence.
    stall: StallWatch,
    /// The broker's answer to "how many messages are ready", while one is awaited.
    probe: Option<BoxFuture<'static, (Option<u32>, DepthProbe)>>,
    /// The connection probes use, between probes.
    depth: Option<DepthProbe>,
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

async fn probe_answer(probe: &mut Option<BoxFuture<'static, (Option<u32>, DepthProbe)>>) -> (Option<u32>, DepthProbe) {
    match probe {
        Some(answer) => answer.await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}
