//! Pipeline step 5: which deliveries may be acked. Pure logic, no I/O.
//!
//! Deliveries on one channel have consecutive tags. A tag is *settled* once its vote is in a
//! committed transaction (or its message was dead-lettered). The tracker acks with
//! `multiple=true` up to the highest tag below which everything is settled, so a single ack
//! never covers a vote that is still in flight. Tags already *rejected* count as done but are
//! never the tag an ack names (the broker no longer knows them).

use std::collections::VecDeque;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    InFlight,
    Settled,
    Rejected,
}

/// Settled/unsettled state of one channel's outstanding deliveries.
#[derive(Debug)]
pub struct AckTracker {
    /// Tag of `states[0]`: the lowest delivery not yet acked.
    base: u64,
    states: VecDeque<State>,
}

impl Default for AckTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl AckTracker {
    /// A tracker for a fresh channel (tags start at 1).
    pub fn new() -> Self {
        Self { base: 1, states: VecDeque::new() }
    }

    /// Records a delivery. Tags arrive in order; a gap (never expected) is treated as already
    /// finished so it cannot block acks forever.
    pub fn delivered(&mut self, tag: u64) {
        let next = self.base + self.states.len() as u64;
        if tag < next {
            return;
        }
        for _ in next..tag {
            self.states.push_back(State::Rejected);
        }
        self.states.push_back(State::InFlight);
    }

    /// Marks `tag` settled: it will be covered by the next ack.
    pub fn settle(&mut self, tag: u64) {
        self.set(tag, State::Settled);
    }

    /// Marks `tag` as rejected on the channel: done, but never named by an ack.
    pub fn rejected(&mut self, tag: u64) {
        self.set(tag, State::Rejected);
    }

    fn set(&mut self, tag: u64, state: State) {
        if let Some(i) = tag.checked_sub(self.base)
            && let Some(slot) = self.states.get_mut(i as usize)
            && *slot == State::InFlight
        {
            *slot = state;
        }
    }

    /// If the finished prefix grew and holds a settled tag, returns the tag to ack with
    /// multiple=true (the highest settled one in the prefix).
    pub fn take_ack(&mut self) -> Option<u64> {
        let mut ack = None;
        while let Some(&state) = self.states.front() {
            if state == State::InFlight {
                break;
            }
            if state == State::Settled {
                ack = Some(self.base);
            }
            self.states.pop_front();
            self.base += 1;
        }
        ack
    }

    /// Deliveries recorded but not yet acked.
    pub fn outstanding(&self) -> usize {
        self.states.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_only_the_contiguous_settled_prefix() {
        let mut t = AckTracker::new();
        for tag in 1..=6 {
            t.delivered(tag);
        }
        t.settle(2);
        t.settle(3);
        assert_eq!(t.take_ack(), None, "tag 1 is still in flight");
        t.settle(1);
        assert_eq!(t.take_ack(), Some(3));
        assert_eq!(t.take_ack(), None);
        t.settle(6);
        t.settle(5);
        assert_eq!(t.take_ack(), None);
        t.settle(4);
        assert_eq!(t.take_ack(), Some(6));
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn a_rejected_tag_is_never_the_acked_one() {
        let mut t = AckTracker::new();
        for tag in 1..=3 {
            t.delivered(tag);
        }
        t.settle(1);
        t.rejected(2);
        assert_eq!(t.take_ack(), Some(1));
        t.rejected(3);
        assert_eq!(t.take_ack(), None, "only rejected tags finished: nothing to ack");
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn unknown_and_repeated_tags_are_harmless() {
        let mut t = AckTracker::new();
        t.delivered(1);
        t.settle(1);
        t.settle(1);
        t.settle(99);
        assert_eq!(t.take_ack(), Some(1));
        t.settle(1);
        assert_eq!(t.take_ack(), None);
    }

    #[test]
    fn a_gap_in_the_tags_does_not_block_the_acks_after_it() {
        let mut t = AckTracker::new();
        t.delivered(1);
        t.delivered(3);
        assert_eq!(t.outstanding(), 3, "tag 2 is held as finished, never acked by name");
        t.settle(1);
        t.settle(3);
        assert_eq!(t.take_ack(), Some(3));
        assert_eq!(t.outstanding(), 0);
    }

    #[test]
    fn a_tag_delivered_again_is_tracked_once() {
        let mut t = AckTracker::new();
        t.delivered(1);
        t.delivered(2);
        t.delivered(1);
        assert_eq!(t.outstanding(), 2);
        t.settle(1);
        assert_eq!(t.take_ack(), Some(1));
        assert_eq!(t.outstanding(), 1, "tag 2 is still in flight");
    }
}
