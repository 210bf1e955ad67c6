//! The settling rules as a pure decision: from what came of an attempt and how many attempts
//! failed before, whether to ack, retry later or dead-letter (and why).

use std::time::Duration;

use vote_runtime::backoff::Exponential;

/// Longest `x-reject-reason` kept; handler errors can quote input.
const MAX_REASON_BYTES: usize = 1024;

/// How often a message that failed is delivered again: bounded attempts, exponential delays
/// without jitter (the count travels in the message, so each delay is computed afresh).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedeliveryPolicy {
    /// Attempts in all, the first one included, before a message is dead-lettered (at least 1).
    pub max_attempts: u32,
    /// Delay before the second attempt; doubles for each one after.
    pub initial_delay: Duration,
    /// Longest delay between two attempts.
    pub max_delay: Duration,
}

impl Default for RedeliveryPolicy {
    /// 5 attempts, 200 ms doubling up to 5 s: rides out a database failover of a few seconds
    /// without keeping a poison message around for long.
    fn default() -> Self {
        Self { max_attempts: 5, initial_delay: Duration::from_millis(200), max_delay: Duration::from_secs(5) }
    }
}

impl RedeliveryPolicy {
    /// The delay before the attempt that follows `failed` failed attempts (`failed >= 1`).
    pub fn delay_after(&self, failed: u32) -> Duration {
        Exponential::new(self.initial_delay, self.max_delay).plain_delay(failed.saturating_sub(1))
    }
}

/// Why a message went to the dead-letter queue; the label of [`EVENTS_DEAD_LETTERED_TOTAL`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeadLetterCause {
    /// The body is not an event envelope.
    Malformed,
    /// The handler said the event can never be handled.
    Rejected,
    /// Every allowed attempt failed with a retriable error.
    RetriesExhausted,
}

impl DeadLetterCause {
    /// Metric label.
    pub fn label(self) -> &'static str {
        match self {
            Self::Malformed => "malformed",
            Self::Rejected => "rejected",
            Self::RetriesExhausted => "retries_exhausted",
        }
    }
}

/// What came of one attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Outcome {
    Handled,
    Malformed(String),
    Failed { retriable: bool, reason: String },
}

/// What to do with the delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Settlement {
    Ack,
    Retry { failed: u32, delay: Duration },
    DeadLetter { cause: DeadLetterCause, reason: String, failed: u32 },
}

/// Pure decision: `previously_failed` comes from [`ATTEMPTS_HEADER`].
pub(super) fn settle(outcome: Outcome, previously_failed: u32, policy: &RedeliveryPolicy) -> Settlement {
    match outcome {
        Outcome::Handled => Settlement::Ack,
        Outcome::Malformed(why) => Settlement::DeadLetter {
            cause: DeadLetterCause::Malformed,
            reason: clip(&format!("malformed: {why}")),
            failed: previously_failed,
        },
        Outcome::Failed { retriable: false, reason } => Settlement::DeadLetter {
            cause: DeadLetterCause::Rejected,
            reason: clip(&format!("rejected: {reason}")),
            failed: previously_failed + 1,
        },
        Outcome::Failed { retriable: true, reason } => {
            let failed = previously_failed.saturating_add(1);
            if failed >= policy.max_attempts.max(1) {
                Settlement::DeadLetter {
                    cause: DeadLetterCause::RetriesExhausted,
                    reason: clip(&format!("retries exhausted after {failed} attempts: {reason}")),
                    failed,
                }
            } else {
                Settlement::Retry { failed, delay: policy.delay_after(failed) }
            }
        }
    }
}

/// Failed attempts recorded on a message; a missing or garbled header counts as none.
pub(super) fn failed_attempts(header: Option<String>) -> u32 {
    header.and_then(|v| v.trim().parse().ok()).unwrap_or(0)
}

/// Cuts `reason` to [`MAX_REASON_BYTES`] on a character boundary.
pub(super) fn clip(reason: &str) -> String {
    if reason.len() <= MAX_REASON_BYTES {
        return reason.to_owned();
    }
    let mut end = MAX_REASON_BYTES;
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(max_attempts: u32) -> RedeliveryPolicy {
        RedeliveryPolicy {
            max_attempts,
            initial_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
        }
    }

    fn failed(retriable: bool) -> Outcome {
        Outcome::Failed { retriable, reason: "db down".to_owned() }
    }

    #[test]
    fn success_acks() {
        assert_eq!(settle(Outcome::Handled, 2, &policy(3)), Settlement::Ack);
    }

    #[test]
    fn retriable_failures_retry_then_dead_letter() {
        let p = policy(3);
        assert_eq!(settle(failed(true), 0, &p), Settlement::Retry { failed: 1, delay: Duration::from_millis(100) });
        assert_eq!(settle(failed(true), 1, &p), Settlement::Retry { failed: 2, delay: Duration::from_millis(200) });
        match settle(failed(true), 2, &p) {
            Settlement::DeadLetter { cause: DeadLetterCause::RetriesExhausted, reason, failed: 3 } => {
                assert_eq!(reason, "retries exhausted after 3 attempts: db down");
            }
            other => panic!("unexpected {other:?}"),
        }
        // A count beyond the bound (policy lowered since) still dead-letters.
        assert!(matches!(settle(failed(true), 9, &p), Settlement::DeadLetter { .. }));
    }

    #[test]
    fn one_attempt_means_no_retry() {
        assert!(matches!(settle(failed(true), 0, &policy(1)), Settlement::DeadLetter { failed: 1, .. }));
        assert!(matches!(settle(failed(true), 0, &policy(0)), Settlement::DeadLetter { failed: 1, .. }));
    }

    #[test]
    fn permanent_failures_and_malformed_input_dead_letter_at_once() {
        assert!(matches!(
            settle(failed(false), 0, &policy(5)),
            Settlement::DeadLetter { cause: DeadLetterCause::Rejected, failed: 1, .. }
        ));
        match settle(Outcome::Malformed("no".to_owned()), 0, &policy(5)) {
            Settlement::DeadLetter { cause: DeadLetterCause::Malformed, reason, failed: 0 } => {
                assert_eq!(reason, "malformed: no");
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn delays_double_and_cap() {
        let p = policy(10);
        let seen: Vec<_> = (1..=4).map(|n| p.delay_after(n).as_millis()).collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        assert_eq!(p.delay_after(u32::MAX), Duration::from_millis(350));
    }

    #[test]
    fn attempts_header_is_parsed_leniently() {
        assert_eq!(failed_attempts(None), 0);
        assert_eq!(failed_attempts(Some("3".to_owned())), 3);
        assert_eq!(failed_attempts(Some(" 2 ".to_owned())), 2);
        assert_eq!(failed_attempts(Some("x".to_owned())), 0);
    }

    #[test]
    fn reasons_are_clipped_on_char_boundaries() {
        let long = "é".repeat(MAX_REASON_BYTES);
        let clipped = clip(&long);
        assert!(clipped.len() <= MAX_REASON_BYTES);
        assert!(clipped.chars().all(|c| c == 'é'));
        assert_eq!(clip("short"), "short");
    }
}
