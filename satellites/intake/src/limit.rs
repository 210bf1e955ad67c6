//! Per-caller request limits: a keyed GCRA limiter (governor) over the token's subject, so one
//! citizen or one gateway cannot crowd out the others. One type behind one method, so that a
//! shared limiter can take its place.

use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::config::RateLimit;

/// Requests per caller.
pub struct CallerLimit {
    limiter: DefaultKeyedRateLimiter<String>,
    clock: DefaultClock,
}

impl CallerLimit {
    /// A limiter allowing `rate`.
    pub fn new(rate: RateLimit) -> Self {
        let per_minute = NonZeroU32::new(rate.per_minute).unwrap_or(NonZeroU32::MIN);
        let burst = NonZeroU32::new(rate.burst).unwrap_or(NonZeroU32::MIN);
        let clock = DefaultClock::default();
        let limiter = RateLimiter::dashmap_with_clock(Quota::per_minute(per_minute).allow_burst(burst), clock.clone());
        Self { limiter, clock }
    }

    /// `Ok` when `caller` may make a request now; otherwise how long until they may.
    pub fn check(&self, caller: &str) -> Result<(), Duration> {
        self.limiter.check_key(&caller.to_owned()).map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Forgets callers whose allowance is full again, so memory follows the active callers.
    pub fn forget_idle(&self) {
        self.limiter.retain_recent();
        self.limiter.shrink_to_fit();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_caller_gets_the_burst_then_waits_and_others_are_not_affected() {
        let limit = CallerLimit::new(RateLimit { per_minute: 60, burst: 3 });
        for _ in 0..3 {
            assert!(limit.check("alice").is_ok());
        }
        let wait = limit.check("alice").unwrap_err();
        assert!(wait > Duration::ZERO && wait <= Duration::from_secs(1), "{wait:?}");
        assert!(limit.check("bob").is_ok());
        limit.forget_idle();
        assert!(limit.check("alice").is_err(), "a caller who is not idle is not forgotten");
    }
}
