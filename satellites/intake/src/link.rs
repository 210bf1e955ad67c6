//! Whether the broker is taking votes: a pure state machine (no I/O, time passed in) that the
//! publishing shell asks before each batch and tells how each batch ended.
//!
//! Up: every batch is sent. A batch that is not confirmed in time (the broker down, blocked by
//! a memory or disk alarm, or not confirming) turns the link Down: batches are refused at once
//! (503) instead of waiting, so no request hangs. Every `retry` one batch is let through as a
//! trial; its confirm turns the link Up again, its failure waits another `retry`. Confirms of
//! batches sent before the failure do not count as recovery: only a trial's do.

use std::time::Duration;

use tokio::time::Instant;

/// What to do with a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Send it.
    Send(Ticket),
    /// Refuse it now: the broker is not taking votes.
    Refuse,
}

/// A sent batch's ticket, handed back with its outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ticket {
    trial: bool,
}

/// The link's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Up,
    Down { next_trial: Instant, trial_in_flight: bool },
}

/// The state machine.
#[derive(Debug)]
pub struct Link {
    state: State,
    retry: Duration,
}

impl Link {
    /// A link that is up, trying again every `retry` once down.
    pub fn new(retry: Duration) -> Self {
        Self { state: State::Up, retry }
    }

    /// Whether batches are being sent (what `/readyz` says).
    pub fn is_up(&self) -> bool {
        self.state == State::Up
    }

    /// Whether a batch may be sent at `now`.
    pub fn admit(&mut self, now: Instant) -> Admit {
        match &mut self.state {
            State::Up => Admit::Send(Ticket { trial: false }),
            State::Down { next_trial, trial_in_flight } if !*trial_in_flight && now >= *next_trial => {
                *trial_in_flight = true;
                Admit::Send(Ticket { trial: true })
            }
            State::Down { .. } => Admit::Refuse,
        }
    }

    /// The batch of `ticket` was confirmed.
    pub fn confirmed(&mut self, ticket: Ticket) {
        if ticket.trial {
            self.state = State::Up;
        }
    }

    /// The batch of `ticket` was not sent after all (nothing left to send in it): a trial
    /// may be made by the next batch.
    pub fn abandoned(&mut self, ticket: Ticket) {
        if let State::Down { trial_in_flight, .. } = &mut self.state
            && ticket.trial
        {
            *trial_in_flight = false;
        }
    }

    /// The batch of `ticket` failed at `now` (not confirmed in time, nacked, connection lost).
    pub fn failed(&mut self, ticket: Ticket, now: Instant) {
        match self.state {
            State::Up => self.state = State::Down { next_trial: now + self.retry, trial_in_flight: false },
            State::Down { .. } if ticket.trial => {
                self.state = State::Down { next_trial: now + self.retry, trial_in_flight: false }
            }
            // A batch sent before the link went down: the trial decides.
            State::Down { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RETRY: Duration = Duration::from_millis(500);

    fn sent(admit: Admit) -> Ticket {
        match admit {
            Admit::Send(t) => t,
            Admit::Refuse => panic!("refused"),
        }
    }

    #[test]
    fn up_sends_everything_and_one_failure_takes_it_down() {
        let t0 = Instant::now();
        let mut link = Link::new(RETRY);
        let (a, b) = (sent(link.admit(t0)), sent(link.admit(t0)));
        link.confirmed(a);
        assert!(link.is_up());
        link.failed(b, t0);
        assert!(!link.is_up());
        assert_eq!(link.admit(t0), Admit::Refuse);
        assert_eq!(link.admit(t0 + RETRY - Duration::from_millis(1)), Admit::Refuse);
    }

    #[test]
    fn one_trial_at_a_time_and_its_confirm_brings_it_back() {
        let t0 = Instant::now();
        let mut link = Link::new(RETRY);
        let first = sent(link.admit(t0));
        link.failed(first, t0);
        let trial = sent(link.admit(t0 + RETRY));
        assert_eq!(link.admit(t0 + RETRY), Admit::Refuse, "a second trial waits for the first");
        link.confirmed(trial);
        assert!(link.is_up());
        assert!(matches!(link.admit(t0 + RETRY), Admit::Send(_)));
    }

    #[test]
    fn a_failed_trial_waits_another_retry() {
        let t0 = Instant::now();
        let mut link = Link::new(RETRY);
        let first = sent(link.admit(t0));
        link.failed(first, t0);
        let trial = sent(link.admit(t0 + RETRY));
        link.failed(trial, t0 + RETRY * 2);
        assert_eq!(link.admit(t0 + RETRY * 2), Admit::Refuse);
        assert!(matches!(link.admit(t0 + RETRY * 3), Admit::Send(_)));
    }

    #[test]
    fn an_abandoned_trial_lets_the_next_batch_try() {
        let t0 = Instant::now();
        let mut link = Link::new(RETRY);
        let first = sent(link.admit(t0));
        link.failed(first, t0);
        let trial = sent(link.admit(t0 + RETRY));
        link.abandoned(trial);
        let again = sent(link.admit(t0 + RETRY));
        link.confirmed(again);
        assert!(link.is_up());
    }

    #[test]
    fn late_outcomes_of_batches_sent_while_up_do_not_decide() {
        let t0 = Instant::now();
        let mut link = Link::new(RETRY);
        let (a, b, c) = (sent(link.admit(t0)), sent(link.admit(t0)), sent(link.admit(t0)));
        link.failed(a, t0);
        link.confirmed(b);
        assert!(!link.is_up(), "a confirm from before the failure is no proof of recovery");
        let trial = sent(link.admit(t0 + RETRY));
        link.failed(c, t0 + RETRY);
        assert_eq!(link.admit(t0 + RETRY), Admit::Refuse, "the trial is still in flight");
        link.confirmed(trial);
        assert!(link.is_up());
    }
}
