//! The change feed: one task reads what changed in `vote_results` once per tick, for every
//! client at once, keeps the [`Snapshot`] the API serves, and broadcasts one stream event per
//! change, serialized once, to every `/api/stream` listener.
//!
//! The engine stamps a law's `updated_at` with its transaction's start time, so a transaction
//! that commits after a read can carry a time before that read's newest one. Each tick
//! therefore looks back [`LOOKBACK`] before the newest `updated_at` seen and keeps only rows that
//! differ from what it holds; every [`FULL_READ_EVERY`] ticks it reads every law, which also
//! catches anything slower than the look-back, and removed rows.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use deadpool_postgres::Pool;
use serde_json::json;
use time::OffsetDateTime;
use tokio::sync::{broadcast, watch};
use tokio_postgres::Row;
use vote_runtime::CancellationToken;
use vote_runtime::postgres::describe;

use crate::metrics::Metrics;
use crate::snapshot::{Law, Laws, RecountRun, Snapshot, rfc3339};

const ALL_TOTALS: &str = include_str!("../../../sql/results/queries/all_totals.sql");
const CHANGED_TOTALS: &str = include_str!("../../../sql/results/queries/changed_totals.sql");
const LAST_RECOUNT: &str = include_str!("../../../sql/results/queries/last_recount.sql");

/// How far before the newest `updated_at` seen each tick reads again.
pub const LOOKBACK: Duration = Duration::from_secs(10);
/// Ticks between two reads of every law.
pub const FULL_READ_EVERY: u64 = 120;
/// A tick changing more laws than this sends `resync` (clients read the API again) instead of
/// the laws themselves.
pub const MAX_LAWS_PER_EVENT: usize = 2_000;
/// A comment line is sent when nothing else was for this long, so proxies keep the stream open.
const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Stream messages buffered per listener; one that falls further behind gets `resync`.
const BROADCAST_CAPACITY: usize = 64;

/// The `resync` event: read the results again (sent first on every stream, and to a listener
/// that fell behind).
pub const RESYNC_EVENT: &[u8] = b"retry: 2000\nevent: resync\ndata: {}\n\n";
const KEEP_ALIVE_COMMENT: &[u8] = b": keep-alive\n\n";

/// The feed's outputs: the snapshot and the stream events.
#[derive(Clone)]
pub struct FeedHandle {
    snapshot: watch::Receiver<Arc<Snapshot>>,
    events: broadcast::Sender<Bytes>,
}

impl FeedHandle {
    /// The latest snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.snapshot.borrow().clone()
    }

    /// A new listener's receiver of stream messages.
    pub fn subscribe(&self) -> broadcast::Receiver<Bytes> {
        self.events.subscribe()
    }
}

/// The polling task and what it keeps between ticks.
pub struct Feed {
    pool: Pool,
    interval: Duration,
    metrics: Metrics,
    snapshot: watch::Sender<Arc<Snapshot>>,
    events: broadcast::Sender<Bytes>,
    laws: BTreeMap<String, Arc<Law>>,
    newest: Option<OffsetDateTime>,
    ticks: u64,
}

impl Feed {
    /// A feed reading `pool` every `interval`, and the handle the API reads it through.
    pub fn new(pool: Pool, interval: Duration, metrics: Metrics) -> (Self, FeedHandle) {
        let (snapshot, receiver) = watch::channel(Arc::new(Snapshot::default()));
        let (events, _) = broadcast::channel(BROADCAST_CAPACITY);
        let handle = FeedHandle { snapshot: receiver, events: events.clone() };
        let feed = Self { pool, interval, metrics, snapshot, events, laws: BTreeMap::new(), newest: None, ticks: 0 };
        (feed, handle)
    }

    /// Ticks until `stop` is cancelled. A failed read is logged and tried again next tick; the
    /// snapshot stays as it was (its `as_of` says how old it is).
    pub async fn run(mut self, stop: CancellationToken) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_sent = tokio::time::Instant::now();
        let mut failing = false;
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = stop.cancelled() => return,
            }
            match self.tick().await {
                Ok(sent) => {
                    if failing {
                        tracing::info!("reading the totals again");
                        failing = false;
                    }
                    self.metrics.feed_reads.with_label_values(&["ok"]).inc();
                    if sent {
                        last_sent = tokio::time::Instant::now();
                    }
                }
                Err(e) => {
                    self.metrics.feed_reads.with_label_values(&["error"]).inc();
                    if !failing {
                        tracing::warn!(error = %e, "cannot read the totals; retrying every tick");
                        failing = true;
                    }
                }
            }
            if last_sent.elapsed() >= KEEP_ALIVE {
                let _ = self.events.send(Bytes::from_static(KEEP_ALIVE_COMMENT));
                last_sent = tokio::time::Instant::now();
            }
        }
    }

    /// One read; publishes a new snapshot and, when something changed, one event. Returns
    /// whether an event was sent.
    async fn tick(&mut self) -> Result<bool, String> {
        let client = self.pool.get().await.map_err(|e| format!("database: {e}"))?;
        let full = self.ticks.is_multiple_of(FULL_READ_EVERY);
        let since = self.newest.map(|t| t - LOOKBACK);
        let rows = async {
            match since {
                Some(since) if !full => client.query(CHANGED_TOTALS, &[&since]).await,
                _ => client.query(ALL_TOTALS, &[]).await,
            }
        };
        let (rows, recount) = tokio::join!(rows, client.query_opt(LAST_RECOUNT, &[]));
        let rows = rows.map_err(|e| describe(&e))?;
        let read_at = OffsetDateTime::now_utc();
        drop(client);
        self.ticks += 1;
        let last_recount = match recount {
            Ok(row) => row.map(|r| recount_run(&r)),
            // No recount table yet, or a role that may not read it: no recount to show.
            Err(e) => {
                tracing::debug!(error = %describe(&e), "no recount to show");
                None
            }
        };

        let mut changed: Vec<Arc<Law>> = Vec::new();
        let mut seen = full.then(std::collections::BTreeSet::new);
        for row in &rows {
            let law = Law { law_id: row.get(0), oui: row.get(1), non: row.get(2), updated_at: row.get(3) };
            self.newest = Some(self.newest.map_or(law.updated_at, |t| t.max(law.updated_at)));
            if let Some(seen) = seen.as_mut() {
                seen.insert(law.law_id.clone());
            }
            if self.laws.get(&law.law_id).is_some_and(|held| **held == law) {
                continue;
            }
            let law = Arc::new(law);
            self.laws.insert(law.law_id.clone(), law.clone());
            changed.push(law);
        }
        let mut removed = false;
        if let Some(seen) = seen {
            let before = self.laws.len();
            self.laws.retain(|id, _| seen.contains(id));
            removed = self.laws.len() != before;
        }

        let previous = self.snapshot.borrow().clone();
        let recount_changed = previous.last_recount != last_recount;
        let laws_changed = !changed.is_empty() || removed;
        let laws =
            if laws_changed || !previous.loaded { Arc::new(Laws::build(&self.laws)) } else { previous.laws.clone() };
        let snapshot = Arc::new(Snapshot { loaded: true, as_of: read_at, laws, last_recount });
        self.snapshot.send_replace(snapshot.clone());
        self.metrics.laws.set(self.laws.len() as i64);
        self.metrics.laws_changed.inc_by(changed.len() as u64);
        if !previous.loaded || !(laws_changed || recount_changed) {
            return Ok(false);
        }
        let message = if removed || changed.len() > MAX_LAWS_PER_EVENT {
            Bytes::from_static(RESYNC_EVENT)
        } else {
            update_event(&snapshot, &changed)
        };
        // No listener is not an error.
        let _ = self.events.send(message);
        self.metrics.stream_events.inc();
        Ok(true)
    }
}

fn recount_run(row: &Row) -> RecountRun {
    RecountRun {
        finished_at: rfc3339(row.get(0)),
        law_id: row.get(1),
        laws_checked: row.get(2),
        votes_checked: row.get(3),
        differences: row.get(4),
        agreed: row.get(5),
    }
}

/// The `update` event: the laws that changed, the grand totals, the latest recount.
pub fn update_event(snapshot: &Snapshot, changed: &[Arc<Law>]) -> Bytes {
    let laws: Vec<_> = changed.iter().map(|law| law.view()).collect();
    let data = json!({
        "as_of": rfc3339(snapshot.as_of),
        "total_votes": snapshot.total_votes(),
        "total_oui": snapshot.laws.oui,
        "total_non": snapshot.laws.non,
        "laws_count": snapshot.laws.by_id.len(),
        "laws": laws,
        "last_recount": snapshot.last_recount,
    });
    Bytes::from(format!("event: update\ndata: {data}\n\n"))
}
