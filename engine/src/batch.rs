//! Pipeline step 3: votes wait here until a batch is worth writing. Pure logic, no I/O.
//!
//! A batch is ready when it is full (`max_size`), or when its oldest vote has waited a short
//! `linger` while no other batch is being written, or `max_age` (BATCH_TIMEOUT_MS) in any
//! case. The linger is only for company that is coming: a vote that arrived more than `linger`
//! after the one before it (low load) is ready at once, because waiting would most likely only
//! add `linger` to its latency. The pipeline only flushes a ready batch when a write slot is
//! free, which is what sizes batches: at low load a lone vote is written within milliseconds;
//! under load the writes are busy, votes pile up while the previous batches commit, and the next
//! batch takes up to `max_size` of them (group commit). Lingering only while idle keeps extra
//! write slots (MAX_INFLIGHT_BATCHES > 1) for full batches instead of a stream of small ones.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// When to flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchPolicy {
    /// Flush as soon as this many items are pending; also the largest batch.
    pub max_size: usize,
    /// Flush once the oldest pending item has waited this long.
    pub max_age: Duration,
    /// Short wait for more items before flushing a non-full batch.
    pub linger: Duration,
}

/// Items waiting to be flushed, oldest first.
#[derive(Debug)]
pub struct Batcher<T> {
    policy: BatchPolicy,
    items: VecDeque<(Instant, T)>,
    /// When the last item arrived.
    last_arrival: Option<Instant>,
    /// Whether the oldest pending item came within `linger` of the item before it, so that more
    /// are likely on their way: only then does a non-full batch linger.
    company_expected: bool,
}

impl<T> Batcher<T> {
    /// An empty batcher.
    pub fn new(policy: BatchPolicy) -> Self {
        Self {
            policy,
            items: VecDeque::with_capacity(policy.max_size * 2),
            last_arrival: None,
            company_expected: false,
        }
    }

    /// Adds an item that arrived at `now`.
    pub fn push(&mut self, item: T, now: Instant) {
        if self.items.is_empty() {
            self.company_expected =
                self.last_arrival.is_some_and(|last| now.saturating_duration_since(last) < self.policy.linger);
        }
        self.last_arrival = Some(now);
        self.items.push_back((now, item));
    }

    /// Number of pending items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// `true` when nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Whether a batch should be flushed now (given a free write slot); `writing`: whether
    /// another batch is being written.
    pub fn is_ready(&self, now: Instant, writing: bool) -> bool {
        self.deadline(writing).is_some_and(|d| d <= now)
    }

    /// The instant at which the pending items become ready, if any are pending; `writing`:
    /// whether another batch is being written (then only a full or timed-out batch is ready).
    pub fn deadline(&self, writing: bool) -> Option<Instant> {
        let (oldest, _) = self.items.front()?;
        if self.items.len() >= self.policy.max_size {
            return Some(*oldest);
        }
        let wait = if writing {
            self.policy.max_age
        } else if self.company_expected {
            self.policy.linger.min(self.policy.max_age)
        } else {
            Duration::ZERO
        };
        Some(*oldest + wait)
    }

    /// Removes and returns the oldest items, at most `max_size`.
    pub fn take(&mut self) -> Vec<T> {
        let n = self.items.len().min(self.policy.max_size);
        let batch = self.items.drain(..n).map(|(_, item)| item).collect();
        // What is left came in the crowd that filled this batch.
        self.company_expected = !self.items.is_empty();
        batch
    }

    /// Removes everything pending (on reconnect: those deliveries will be redelivered).
    pub fn clear(&mut self) {
        self.items.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: BatchPolicy =
        BatchPolicy { max_size: 3, max_age: Duration::from_millis(1000), linger: Duration::from_millis(5) };

    #[tokio::test(start_paused = true)]
    async fn full_batch_is_ready_at_once() {
        let mut b = Batcher::new(POLICY);
        let now = Instant::now();
        for i in 0..4 {
            b.push(i, now);
        }
        assert!(b.is_ready(now, false));
        assert_eq!(b.take(), [0, 1, 2]);
        assert_eq!(b.len(), 1);
    }

    /// A batcher that has just flushed one item, as under steady load.
    fn warm(policy: BatchPolicy) -> Batcher<i32> {
        let mut b = Batcher::new(policy);
        b.push(0, Instant::now());
        assert_eq!(b.take(), [0]);
        b
    }

    #[tokio::test(start_paused = true)]
    async fn a_vote_right_after_another_waits_only_the_linger() {
        let mut b = warm(POLICY);
        tokio::time::advance(Duration::from_millis(1)).await;
        b.push(1, Instant::now());
        assert!(!b.is_ready(Instant::now(), false));
        tokio::time::advance(Duration::from_millis(4)).await;
        assert!(!b.is_ready(Instant::now(), false));
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.is_ready(Instant::now(), false));
    }

    #[tokio::test(start_paused = true)]
    async fn a_vote_after_a_quiet_spell_is_ready_at_once() {
        let mut b = Batcher::new(POLICY);
        b.push(1, Instant::now());
        assert!(b.is_ready(Instant::now(), false), "the first vote ever");
        b.take();
        tokio::time::advance(POLICY.linger).await;
        b.push(2, Instant::now());
        assert!(b.is_ready(Instant::now(), false), "a linger after the last one");
        assert!(!b.is_ready(Instant::now(), true), "but not while another batch is written");
        b.push(3, Instant::now());
        assert_eq!(b.take(), [2, 3], "a vote arriving before the flush joins the batch");
    }

    #[tokio::test(start_paused = true)]
    async fn steady_arrivals_do_not_delay_the_oldest_vote() {
        let mut b = warm(BatchPolicy { max_size: 1000, ..POLICY });
        tokio::time::advance(Duration::from_millis(1)).await;
        let first = Instant::now();
        // A vote every millisecond: the batch is ready once the first one has lingered.
        for i in 0..5 {
            b.push(i, Instant::now());
            assert!(!b.is_ready(Instant::now(), false), "ready early at {i}");
            tokio::time::advance(Duration::from_millis(1)).await;
        }
        assert!(b.is_ready(Instant::now(), false));
        assert_eq!(b.deadline(false), Some(first + POLICY.linger));
    }

    #[tokio::test(start_paused = true)]
    async fn while_another_batch_is_written_only_full_or_timed_out_batches_are_ready() {
        let mut b = Batcher::new(POLICY);
        let t0 = Instant::now();
        b.push(1, t0);
        assert_eq!(b.deadline(true), Some(t0 + POLICY.max_age));
        tokio::time::advance(POLICY.linger).await;
        assert!(b.is_ready(Instant::now(), false));
        assert!(!b.is_ready(Instant::now(), true), "lingered, but a write is in progress");
        b.push(2, Instant::now());
        b.push(3, Instant::now());
        assert!(b.is_ready(Instant::now(), true), "full");
    }

    #[tokio::test(start_paused = true)]
    async fn the_timeout_bounds_a_long_linger() {
        let policy = BatchPolicy { max_size: 10, max_age: Duration::from_millis(50), linger: Duration::from_secs(5) };
        let mut b = warm(policy);
        let t0 = Instant::now();
        b.push(1, t0);
        assert_eq!(b.deadline(false), Some(t0 + Duration::from_millis(50)));
    }

    #[tokio::test(start_paused = true)]
    async fn remaining_items_keep_their_arrival_time() {
        let mut b = Batcher::new(POLICY);
        let t0 = Instant::now();
        for i in 0..5 {
            b.push(i, t0);
        }
        b.take();
        assert_eq!(b.deadline(false), Some(t0 + POLICY.linger));
        b.clear();
        assert_eq!(b.deadline(false), None);
    }

    #[tokio::test(start_paused = true)]
    async fn len_and_is_empty_follow_the_pending_items() {
        let mut b = Batcher::new(POLICY);
        assert_eq!((b.len(), b.is_empty()), (0, true));
        let now = Instant::now();
        for i in 0..5 {
            b.push(i, now);
        }
        assert_eq!((b.len(), b.is_empty()), (5, false));
        b.take();
        assert_eq!((b.len(), b.is_empty()), (2, false));
        b.take();
        assert_eq!((b.len(), b.is_empty()), (0, true));
    }
}
