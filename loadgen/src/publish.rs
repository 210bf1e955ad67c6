//! Step 2 of a run: publish the generated stream to the engine's queue, persistent and with
//! publisher confirms, over several connections.
//!
//! Each connection keeps up to `window` messages unconfirmed; a message whose confirm fails
//! (nack, lost connection) is published again until the broker confirms it, so nothing is lost.
//! A republished copy may duplicate one that did arrive: the engine deduplicates it by
//! `vote_hash`, and the tally records each message once, at its first confirm, so the expected
//! totals stay exact.

use std::collections::VecDeque;
use std::io::IsTerminal;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hdrhistogram::Histogram;
use indicatif::{ProgressBar, ProgressStyle};
use tokio::task::JoinSet;
use tokio::time::Instant;
use vote_mq::{AmqpUrl, Confirmation, OutgoingMessage, Publisher, QueueType};
use vote_runtime::backoff::Backoff;

use crate::Error;
use crate::expected::Expected;
use crate::generate::Tally;
use crate::generate::{Generator, GeneratorConfig, Message, Stamp};
use crate::latency::{ConfirmTimes, LatencySummary, new_histogram};

/// Messages a connection takes from the generator at once when publishing flat out.
const CHUNK: usize = 256;
/// Confirms a connection counts locally before adding them to the shared progress counter.
const PROGRESS_EVERY: u64 = 256;

/// How much to publish, how fast, and over how many connections.
#[derive(Debug, Clone)]
pub struct PublishConfig {
    /// Queue to publish to (default exchange, routing key = queue name).
    pub queue: String,
    /// Publish to this consistent-hash exchange instead (the sharded intake, declared by the
    /// engine), with each vote's law id as routing key.
    pub exchange: Option<String>,
    /// Votes per AMQP message: above 1, consecutive votes go together in `vote.batch`
    /// envelopes (garbage is still sent alone).
    pub votes_per_message: usize,
    /// Its type, if it has to be declared.
    pub queue_type: QueueType,
    /// Stop after this many messages (duplicates and garbage included).
    pub count: Option<u64>,
    /// Stop taking new messages after this long.
    pub duration: Option<Duration>,
    /// Target rate in messages per second over all connections; `None` is flat out.
    pub rate: Option<f64>,
    /// Connections, each a confirming publisher of its own.
    pub connections: usize,
    /// Unconfirmed messages allowed per connection.
    pub window: usize,
    /// What to publish.
    pub generator: GeneratorConfig,
    /// Give up when no message got confirmed for this long.
    pub stall_timeout: Duration,
    /// Draw a progress bar on stderr (only when it is a terminal).
    pub progress: bool,
    /// Keep each confirmed message's publish time and confirm latency
    /// ([`PublishReport::confirm_times`], 16 bytes a message), to split its votes' end-to-end
    /// latency at the confirm.
    pub record_confirm_times: bool,
}

impl PublishConfig {
    /// `count` messages of `generator` to `queue`, flat out, 4 connections of 1000 unconfirmed
    /// messages each (more buys nothing: the queue process is the limit), no progress bar.
    pub fn new(queue: &str, count: u64, generator: GeneratorConfig) -> Self {
        Self {
            queue: queue.to_owned(),
            exchange: None,
            votes_per_message: 1,
            queue_type: crate::DEFAULT_QUEUE_TYPE,
            count: Some(count),
            duration: None,
            rate: None,
            connections: 4,
            window: 1000,
            generator,
            stall_timeout: Duration::from_secs(120),
            progress: false,
            record_confirm_times: false,
        }
    }

    fn validate(&self) -> Result<(), Error> {
        let bad = |why: &str| Err(Error::Config(why.to_owned()));
        if self.count.is_none() && self.duration.is_none() {
            return bad("give --count or --duration");
        }
        if self.connections == 0 || self.connections > 1024 {
            return bad("--connections must be between 1 and 1024");
        }
        if self.window == 0 {
            return bad("--window must be at least 1");
        }
        if self.votes_per_message == 0 || self.votes_per_message > 300 {
            return bad("--votes-per-message must be between 1 and 300 (a message is at most 64 KiB)");
        }
        if self.votes_per_message > 1 && self.exchange.is_some() {
            return bad(
                "--votes-per-message above 1 mixes laws in a message: not with --exchange, which routes by law",
            );
        }
        if self.rate.is_some_and(|r| !(r.is_finite() && r > 0.0)) {
            return bad("--rate must be a positive number");
        }
        self.generator.validate()
    }
}

/// What a publish did.
#[derive(Debug, Clone)]
pub struct PublishReport {
    /// The exact totals the engine must reach, with the message counters.
    pub expected: Expected,
    /// From the first send to the last confirm.
    pub elapsed: Duration,
    /// Send-to-confirm latency of every confirmed message, in microseconds.
    pub confirm_latency: Histogram<u64>,
    /// Each confirmed message's publish time and confirm latency, if
    /// [`PublishConfig::record_confirm_times`] was set.
    pub confirm_times: ConfirmTimes,
}

impl PublishReport {
    /// Distinct messages confirmed per second.
    pub fn rate(&self) -> f64 {
        self.expected.messages_sent as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Percentiles of the confirm latency.
    pub fn confirm_summary(&self) -> LatencySummary {
        LatencySummary::of(&self.confirm_latency)
    }
}

/// Declares the queue (as the engine does), publishes, and returns the expected totals of
/// everything confirmed.
pub async fn publish(url: &AmqpUrl, config: &PublishConfig) -> Result<PublishReport, Error> {
    config.validate()?;
    match &config.exchange {
        Some(exchange) => {
            if !vote_mq::admin::exchange_exists(url, exchange).await? {
                return Err(Error::Config(format!(
                    "exchange {exchange:?} does not exist: start the engine with VOTE_SHARDS first (it declares \
                     the sharded intake)"
                )));
            }
        }
        None => crate::declare_queue(url, &config.queue, config.queue_type).await?,
    }
    let law_ids = Arc::new(config.generator.law_ids());
    let mut publishers = Vec::with_capacity(config.connections);
    for i in 0..config.connections {
        publishers.push(Publisher::connect(url, &format!("loadgen-publish-{i}")).await?);
    }
    let start = Instant::now();
    let shared = Arc::new(Shared {
        source: Mutex::new(Source { generator: Generator::new(config.generator.clone())?, remaining: config.count }),
        deadline: config.duration.map(|d| start + d),
        confirmed: AtomicU64::new(0),
    });
    let progress = progress_bar(config);
    let ticker = {
        let (shared, bar) = (shared.clone(), progress.clone());
        tokio::spawn(async move {
            loop {
                let confirmed = shared.confirmed.load(Ordering::Relaxed);
                bar.set_position(confirmed);
                bar.set_message(format!("{:.0} msg/s", confirmed as f64 / start.elapsed().as_secs_f64().max(1e-3)));
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let per_connection_rate = config.rate.map(|r| r / config.connections as f64);
    let chunk = per_connection_rate.map_or(CHUNK, |r| ((r / 20.0) as usize).clamp(1, CHUNK));
    let mut tasks = JoinSet::new();
    for publisher in publishers {
        let worker = Worker {
            shared: shared.clone(),
            publisher,
            route: Route { exchange: config.exchange.clone(), queue: config.queue.clone(), law_ids: law_ids.clone() },
            window: config.window,
            chunk,
            votes_per_message: config.votes_per_message,
            pacer: Pacer { start, per_second: per_connection_rate, sent: 0 },
            stall_timeout: config.stall_timeout,
            record_confirm_times: config.record_confirm_times,
        };
        tasks.spawn(worker.run());
    }
    let mut tally = Tally::default();
    let mut latency = new_histogram();
    let mut confirm_times = Vec::new();
    let mut last_confirm = start;
    let mut failure = None;
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok(Ok(done)) => {
                tally.merge(&done.tally);
                latency.add(&done.latency).map_err(|e| Error::Task(format!("merging latency histograms: {e}")))?;
                last_confirm = last_confirm.max(done.last_confirm);
                confirm_times.extend(done.confirm_times);
            }
            Ok(Err(e)) => {
                failure.get_or_insert(e);
                tasks.abort_all();
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => {
                failure.get_or_insert(Error::Task(e.to_string()));
                tasks.abort_all();
            }
        }
    }
    ticker.abort();
    progress.set_position(shared.confirmed.load(Ordering::Relaxed));
    progress.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    let source = shared.source.lock().unwrap_or_else(|p| p.into_inner());
    let expected = source.generator.expected(&tally, &config.queue);
    Ok(PublishReport {
        expected,
        elapsed: last_confirm - start,
        confirm_latency: latency,
        confirm_times: ConfirmTimes::new(confirm_times),
    })
}

fn progress_bar(config: &PublishConfig) -> ProgressBar {
    if !config.progress || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    match config.count {
        Some(count) => {
            let bar = ProgressBar::new(count);
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{bar:30}] {human_pos}/{human_len} confirmed, {msg}, eta {eta}",
            );
            if let Ok(style) = style {
                bar.set_style(style);
            }
            bar
        }
        None => {
            let bar = ProgressBar::new_spinner();
            if let Ok(style) = ProgressStyle::with_template("{elapsed_precise} {spinner} {human_pos} confirmed, {msg}")
            {
                bar.set_style(style);
            }
            bar
        }
    }
}

/// What the connections share: the generator and the progress counter.
struct Shared {
    source: Mutex<Source>,
    deadline: Option<Instant>,
    confirmed: AtomicU64,
}

struct Source {
    generator: Generator,
    remaining: Option<u64>,
}

impl Shared {
    /// Up to `max` new messages; empty once the count or the duration is used up.
    fn take(&self, max: usize, out: &mut VecDeque<Message>) {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return;
        }
        let mut source = self.source.lock().unwrap_or_else(|p| p.into_inner());
        let n = source.remaining.map_or(max, |r| r.min(max as u64) as usize);
        if let Some(remaining) = &mut source.remaining {
            *remaining -= n as u64;
        }
        let mut chunk = Vec::with_capacity(n);
        source.generator.fill(n, &mut chunk);
        drop(source);
        out.extend(chunk);
    }

    fn past_deadline(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// Spreads sends evenly: message `n` of a connection is due at `start + n / per_second`.
struct Pacer {
    start: Instant,
    per_second: Option<f64>,
    sent: u64,
}

impl Pacer {
    /// When the next send is due; `None` when it is due now.
    fn next_slot(&self) -> Option<Instant> {
        let per_second = self.per_second?;
        let due = self.start + Duration::from_secs_f64(self.sent as f64 / per_second);
        (due > Instant::now()).then_some(due)
    }
}

struct InFlight {
    confirmation: Confirmation,
    /// What the AMQP message carried: one message of the stream, or several votes in a
    /// `vote.batch`.
    messages: Vec<Message>,
    sent_at: Instant,
    /// The publish time written into the message, in Unix microseconds.
    stamped_us: i64,
}

/// What one connection did.
struct Done {
    tally: Tally,
    latency: Histogram<u64>,
    confirm_times: Vec<(i64, u64)>,
    last_confirm: Instant,
}

/// Where a connection's messages go.
struct Route {
    /// The sharded intake's exchange, if publishing there.
    exchange: Option<String>,
    /// Otherwise the engine's queue, through the default exchange.
    queue: String,
    /// Law ids by index: the routing keys on the exchange.
    law_ids: Arc<Vec<String>>,
}

impl Route {
    /// An empty message for this route.
    fn message(&self) -> OutgoingMessage {
        match &self.exchange {
            Some(exchange) => OutgoingMessage::json(exchange, "", Vec::new()),
            None => OutgoingMessage::json("", &self.queue, Vec::new()),
        }
    }

    /// Sets `outgoing`'s routing key for `message`: on the exchange, its law id (garbage, which
    /// has none, goes wherever the empty key hashes).
    fn address(&self, message: &Message, outgoing: &mut OutgoingMessage) {
        if self.exchange.is_some() {
            outgoing.routing_key.clear();
            if let Some(law) = message.law {
                outgoing.routing_key.push_str(&self.law_ids[law as usize]);
            }
        }
    }
}

/// The next AMQP message's worth of the stream (retries first): one message, or with
/// `votes_per_message` > 1 up to that many consecutive votes (garbage always goes alone).
fn next_group(
    retries: &mut VecDeque<Message>,
    fresh: &mut VecDeque<Message>,
    votes_per_message: usize,
) -> Vec<Message> {
    let mut group = Vec::with_capacity(votes_per_message.min(1024));
    while group.len() < votes_per_message {
        let source = if retries.is_empty() { &mut *fresh } else { &mut *retries };
        let Some(next) = source.front() else { break };
        let vote = next.kind.vote().is_some();
        if !group.is_empty() && !vote {
            break;
        }
        group.extend(source.pop_front());
        if !vote {
            break;
        }
    }
    group
}

/// A `vote.batch` envelope of `messages` (votes, bare or `vote.cast` envelopes) into `out`.
fn render_batch(messages: &[Message], stamp: &Stamp, out: &mut Vec<u8>) {
    let mut vote = Vec::with_capacity(320);
    out.clear();
    out.extend_from_slice(br#"{"event_type":"vote.batch","data":["#);
    for (i, message) in messages.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        message.render_into(stamp, &mut vote);
        out.extend_from_slice(&vote);
    }
    out.extend_from_slice(b"]}");
}

/// One connection's publishing loop.
struct Worker {
    shared: Arc<Shared>,
    publisher: Publisher,
    route: Route,
    window: usize,
    chunk: usize,
    votes_per_message: usize,
    pacer: Pacer,
    stall_timeout: Duration,
    record_confirm_times: bool,
}

impl Worker {
    async fn run(mut self) -> Result<Done, Error> {
        let mut tally = Tally::default();
        let mut latency = new_histogram();
        let mut confirm_times = Vec::new();
        let mut inflight: VecDeque<InFlight> = VecDeque::with_capacity(self.window);
        let mut retries: VecDeque<Message> = VecDeque::new();
        let mut fresh: VecDeque<Message> = VecDeque::new();
        let mut exhausted = false;
        let mut outgoing = self.route.message();
        let mut backoff = Backoff::default();
        let mut last_progress = Instant::now();
        let mut last_confirm = Instant::now();
        let mut unreported = 0u64;
        let stall = tokio::time::sleep(self.stall_timeout);
        tokio::pin!(stall);
        loop {
            if fresh.is_empty() && !exhausted {
                self.shared.take(self.chunk, &mut fresh);
                exhausted = fresh.is_empty();
            }
            if self.shared.past_deadline() {
                // Never sent, so never tallied: dropping them keeps the totals exact.
                fresh.clear();
                exhausted = true;
            }
            let want_send = inflight.len() < self.window && !(retries.is_empty() && fresh.is_empty());
            if !want_send && inflight.is_empty() {
                break;
            }
            let slot = if want_send { self.pacer.next_slot() } else { None };
            tokio::select! {
                biased;
                outcome = front(&mut inflight) => {
                    let Some(done) = inflight.pop_front() else { continue };
                    match outcome {
                        Ok(()) => {
                            let now = Instant::now();
                            let micros = (now - done.sent_at).as_micros().max(1) as u64;
                            latency.saturating_record(micros);
                            for message in &done.messages {
                                if self.record_confirm_times {
                                    confirm_times.push((done.stamped_us, micros));
                                }
                                tally.record(message);
                            }
                            last_progress = now;
                            last_confirm = now;
                            unreported += done.messages.len() as u64;
                            if unreported >= PROGRESS_EVERY {
                                self.shared.confirmed.fetch_add(unreported, Ordering::Relaxed);
                                unreported = 0;
                            }
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "confirm failed, publishing again");
                            tally.republished += done.messages.len() as u64;
                            retries.extend(done.messages);
                        }
                    }
                }
                () = pace(slot), if want_send => {
                    let messages = next_group(&mut retries, &mut fresh, self.votes_per_message);
                    let Some(first) = messages.first() else { continue };
                    let (stamp, stamped_us) = Stamp::now_with_unix_micros();
                    if self.votes_per_message > 1 && first.kind.vote().is_some() {
                        render_batch(&messages, &stamp, &mut outgoing.body);
                    } else {
                        first.render_into(&stamp, &mut outgoing.body);
                    }
                    self.route.address(first, &mut outgoing);
                    let carried = messages.len() as u64;
                    match self.publisher.send(&outgoing).await {
                        Ok(confirmation) => {
                            self.pacer.sent += carried;
                            backoff.reset();
                            inflight.push_back(InFlight { confirmation, messages, sent_at: Instant::now(), stamped_us });
                        }
                        Err(e) => {
                            for message in messages.into_iter().rev() {
                                retries.push_front(message);
                            }
                            if last_progress.elapsed() >= self.stall_timeout {
                                return Err(Error::Stalled(format!("nothing confirmed for {:?}: {e}", self.stall_timeout)));
                            }
                            let delay = backoff.next_delay();
                            tracing::warn!(error = %e, ?delay, "publish failed, retrying");
                            tokio::time::sleep(delay).await;
                        }
                    }
                }
                () = &mut stall => {
                    if inflight.is_empty() && retries.is_empty() {
                        // Waiting for the pacer is not a stall.
                        last_progress = Instant::now();
                    }
                    let due = last_progress + self.stall_timeout;
                    if due <= Instant::now() {
                        return Err(Error::Stalled(format!(
                            "nothing confirmed for {:?} ({} messages unconfirmed)",
                            self.stall_timeout,
                            inflight.len()
                        )));
                    }
                    stall.as_mut().reset(due);
                }
            }
        }
        self.shared.confirmed.fetch_add(unreported, Ordering::Relaxed);
        self.publisher.close().await;
        Ok(Done { tally, latency, confirm_times, last_confirm })
    }
}

/// Resolves with the oldest unconfirmed message's outcome; never while nothing is in flight.
async fn front(inflight: &mut VecDeque<InFlight>) -> Result<(), vote_mq::Error> {
    match inflight.front_mut() {
        Some(oldest) => (&mut oldest.confirmation).await,
        None => std::future::pending().await,
    }
}

async fn pace(slot: Option<Instant>) {
    if let Some(at) = slot {
        tokio::time::sleep_until(at).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::generate::MessageKind;

    fn stream(seed: u64, n: usize) -> Vec<Message> {
        let config = GeneratorConfig { seed, invalid_ratio: 0.2, ..GeneratorConfig::default() };
        let mut generator = Generator::new(config).unwrap();
        (0..n).map(|_| generator.next_message()).collect()
    }

    #[test]
    fn votes_travel_in_groups_and_garbage_alone_in_stream_order() {
        let messages = stream(7, 400);
        let mut fresh: VecDeque<Message> = messages.iter().cloned().collect();
        let mut retries = VecDeque::new();
        let mut groups = Vec::new();
        loop {
            let group = next_group(&mut retries, &mut fresh, 5);
            if group.is_empty() {
                break;
            }
            groups.push(group);
        }
        for group in &groups {
            assert!(!group.is_empty() && group.len() <= 5);
            if group.iter().any(|m| matches!(m.kind, MessageKind::Invalid(_))) {
                assert_eq!(group.len(), 1, "garbage goes alone");
            }
        }
        assert!(groups.iter().any(|g| g.len() == 5), "votes fill groups");
        let flattened: Vec<&[u8]> = groups.iter().flatten().map(|m| m.body.as_slice()).collect();
        let original: Vec<&[u8]> = messages.iter().map(|m| m.body.as_slice()).collect();
        assert_eq!(flattened, original, "nothing lost, duplicated or reordered");

        // Retries go first.
        let mut retries: VecDeque<Message> =
            messages.iter().filter(|m| m.kind.vote().is_some()).take(2).cloned().collect();
        let mut fresh: VecDeque<Message> =
            messages.iter().filter(|m| m.kind.vote().is_some()).skip(2).cloned().collect();
        let group = next_group(&mut retries, &mut fresh, 5);
        assert_eq!(group.len(), 5);
        assert!(retries.is_empty());
        assert_eq!(next_group(&mut VecDeque::new(), &mut fresh.clone(), 1).len(), 1);
    }

    #[test]
    fn a_batch_envelope_holds_each_vote_as_rendered_alone() {
        let votes: Vec<Message> = stream(9, 100).into_iter().filter(|m| m.kind.vote().is_some()).take(4).collect();
        let stamp = Stamp::now();
        let mut body = Vec::new();
        render_batch(&votes, &stamp, &mut body);
        let parsed: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(parsed["event_type"], "vote.batch");
        let data = parsed["data"].as_array().expect("an array");
        assert_eq!(data.len(), 4);
        for (element, vote) in data.iter().zip(&votes) {
            let mut alone = Vec::new();
            vote.render_into(&stamp, &mut alone);
            assert_eq!(element, &serde_json::from_slice::<serde_json::Value>(&alone).unwrap());
        }
    }
}
