//! Waiting between attempts, for every loop that tries again (reconnects to the broker and the
//! database, confirmed publishes, batch writes, the satellites' message redeliveries):
//! exponential, capped, and jittered so that clients that failed together do not all come back
//! in the same instant. The jittered schedule is `backon`'s; this module fixes its shape once.

use std::time::Duration;

use backon::{BackoffBuilder, ExponentialBackoff, ExponentialBuilder};

/// Delays starting at `initial`, doubling, never longer than `max`; with jitter (the default)
/// each delay is drawn from `[d, 2d)` of the plain schedule's `d`, then capped at `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exponential {
    initial: Duration,
    max: Duration,
    jitter: bool,
}

impl Exponential {
    /// The jittered schedule from `initial` up to `max`.
    pub const fn new(initial: Duration, max: Duration) -> Self {
        Self { initial, max, jitter: true }
    }

    /// The same schedule without jitter: `initial`, `2 * initial`, ... up to `max`.
    pub const fn without_jitter(mut self) -> Self {
        self.jitter = false;
        self
    }

    /// The `n`th delay of the schedule without jitter (`n` from 0): `initial * 2^n`, at most
    /// `max`, in exact integer arithmetic (for delays computed afresh from a count).
    pub fn plain_delay(&self, n: u32) -> Duration {
        self.initial.saturating_mul(1u32 << n.min(31)).min(self.max)
    }
}

impl BackoffBuilder for Exponential {
    type Backoff = Delays;

    fn build(self) -> Delays {
        let mut schedule =
            ExponentialBuilder::default().with_min_delay(self.initial).with_max_delay(self.max).without_max_times();
        if self.jitter {
            schedule = schedule.with_jitter();
        }
        Delays { delays: schedule.build(), max: self.max }
    }
}

/// The delays of one run of an [`Exponential`] schedule; endless.
#[derive(Debug)]
pub struct Delays {
    delays: ExponentialBackoff,
    max: Duration,
}

impl Iterator for Delays {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        Some(self.delays.next().unwrap_or(self.max).min(self.max))
    }
}

/// A reconnect loop's backoff: [`Backoff::next_delay`] after each failure, [`Backoff::reset`]
/// after a success.
#[derive(Debug)]
pub struct Backoff {
    schedule: Exponential,
    delays: Delays,
}

impl Backoff {
    /// A jittered backoff starting at `initial` and never waiting longer than `max`.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self::from(Exponential::new(initial, max))
    }

    /// The delay to wait now; the following ones grow (up to the cap).
    pub fn next_delay(&mut self) -> Duration {
        self.delays.next().unwrap_or(self.schedule.max)
    }

    /// Starts again from the initial delay.
    pub fn reset(&mut self) {
        self.delays = self.schedule.build();
    }
}

impl From<Exponential> for Backoff {
    fn from(schedule: Exponential) -> Self {
        Self { schedule, delays: schedule.build() }
    }
}

impl Default for Backoff {
    /// 100 ms doubling to 10 s: quick first retry, gentle on a broker that is restarting.
    fn default() -> Self {
        Self::from(RECONNECT)
    }
}

/// The schedule of reconnects and publish retries.
pub const RECONNECT: Exponential = Exponential::new(Duration::from_millis(100), Duration::from_secs(10));

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Exponential = Exponential::new(Duration::from_millis(100), Duration::from_millis(350));

    #[test]
    fn backoff_doubles_caps_and_resets() {
        let mut b = Backoff::from(BASE.without_jitter());
        let seen: Vec<_> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay().as_millis(), 100);
        let plain: Vec<_> = (0..4).map(|n| BASE.plain_delay(n)).collect();
        assert_eq!(plain, [100, 200, 350, 350].map(Duration::from_millis));
        assert_eq!(BASE.plain_delay(u32::MAX), BASE.max, "no overflow");
    }

    #[test]
    fn jitter_stays_between_the_delay_and_its_double_and_under_the_cap() {
        let plain: Vec<_> = BASE.without_jitter().build().take(6).collect();
        for _ in 0..200 {
            let jittered: Vec<_> = BASE.build().take(6).collect();
            for (d, j) in plain.iter().zip(&jittered) {
                assert!(*d <= *j && *j < (*d * 2).min(BASE.max + Duration::from_nanos(1)), "{j:?} from {d:?}");
            }
        }
        let spread: std::collections::HashSet<_> = (0..50).map(|_| BASE.build().next()).collect();
        assert!(spread.len() > 1, "jitter spreads the first retry");
    }
}
