//! The pipeline's decisions as a pure state machine: events in (a delivery decoded, a batch
//! written, a dead letter confirmed or not, a session opened or lost, shutdown asked), actions
//! out (write a batch, dead-letter a message, ack, requeue). No sockets, no clock of its own:
//! the shell in [`super`] performs the actions and feeds back what came of them.
//!
//! Invariants it keeps:
//! - an ack (`multiple=true`) never covers a delivery with a vote not yet committed or
//!   dead-lettered, and names only tags of the current session: work finished for an earlier
//!   session is dropped, since its messages are redelivered on the new one (and deduplicated by
//!   the database);
//! - a vote the database refused even alone is dead-lettered once, and only while its session
//!   lives; a dead letter that was not confirmed sends its delivery back to the queue, once per
//!   delivery however many of its votes were refused;
//! - after shutdown is asked, every pending vote is written whatever its age, and the machine
//!   is done once nothing is pending or in flight.

use std::collections::HashMap;

use tokio::time::Instant;

use crate::ack::AckTracker;
use crate::batch::{BatchPolicy, Batcher};
use crate::decode::{Decoded, RejectReason, Rejection, Vote, decode_message};

/// A decoded vote with what is needed to ack or dead-letter it, kept together from the batcher
/// through the write until it is settled.
#[derive(Debug)]
pub struct Pending {
    /// The delivery it came in.
    pub tag: u64,
    /// The vote.
    pub vote: Vote,
    /// Its own bytes: the dead letter's body if it is refused.
    pub body: Vec<u8>,
}

impl AsRef<Vote> for Pending {
    fn as_ref(&self) -> &Vote {
        &self.vote
    }
}

/// A delivery's message as decoded, owning its bytes.
#[derive(Debug)]
pub enum Message {
    /// One vote, and the message's bytes.
    Vote(Vote, Vec<u8>),
    /// The votes of a `vote.batch`: each one, or why it is refused, with its own bytes.
    Votes(Vec<(Result<Vote, Rejection>, Vec<u8>)>),
    /// Refused whole, and the message's bytes.
    Refused(Rejection, Vec<u8>),
}

impl Message {
    /// Decodes and validates a message body.
    pub fn decode(body: Vec<u8>) -> Self {
        match decode_message(&body) {
            Ok(Decoded::One(vote)) => Self::Vote(vote, body),
            Ok(Decoded::Many(parts)) => Self::Votes(parts.into_iter().map(|p| (p.vote, p.body.to_vec())).collect()),
            Err(rejection) => Self::Refused(rejection, body),
        }
    }
}

/// What the shell is to do.
#[derive(Debug)]
pub enum Action {
    /// Write these votes in one transaction, then report [`Machine::batch_written`].
    Write {
        /// The session the votes were read in.
        epoch: u64,
        /// The votes.
        batch: Vec<Pending>,
    },
    /// Publish `body` to the dead-letter queue, then report [`Machine::dead_lettered`].
    DeadLetter {
        /// The session the message was read in.
        epoch: u64,
        /// The delivery.
        tag: u64,
        /// The message (or, for a vote of a `vote.batch`, the vote's own bytes).
        body: Vec<u8>,
        /// Why.
        rejection: Rejection,
    },
    /// Ack every delivery of the current session up to `up_to` (`multiple=true`).
    Ack {
        /// Highest tag acked.
        up_to: u64,
    },
    /// Send delivery `tag` of the current session back to the queue.
    Requeue {
        /// The delivery.
        tag: u64,
    },
}

/// The unsettled votes of a delivery that carries several.
#[derive(Debug)]
struct Parts {
    remaining: usize,
    /// The delivery went back to the queue already: it is not requeued twice.
    requeued: bool,
}

/// What the machine knows of the live broker session.
#[derive(Debug)]
struct Session {
    tracker: AckTracker,
    /// Deliveries carrying several votes, by tag.
    parts: HashMap<u64, Parts>,
}

/// The pipeline's state: pending votes, the live session's deliveries, work in flight.
#[derive(Debug)]
pub struct Machine {
    batcher: Batcher<Pending>,
    max_inflight_batches: usize,
    writes_in_flight: usize,
    dead_letters_in_flight: usize,
    epoch: u64,
    session: Option<Session>,
    stopping: bool,
    actions: Vec<Action>,
}

impl Machine {
    /// A machine with no session, nothing pending.
    pub fn new(policy: BatchPolicy, max_inflight_batches: usize) -> Self {
        Self {
            batcher: Batcher::new(policy),
            max_inflight_batches: max_inflight_batches.max(1),
            writes_in_flight: 0,
            dead_letters_in_flight: 0,
            epoch: 0,
            session: None,
            stopping: false,
            actions: Vec::new(),
        }
    }

    /// The actions decided since the last call, oldest first.
    pub fn actions(&mut self) -> std::vec::Drain<'_, Action> {
        self.actions.drain(..)
    }

    /// A new session is consuming: returns its epoch. Work of earlier sessions still in flight
    /// finishes, but settles nothing.
    pub fn session_opened(&mut self) -> u64 {
        self.epoch += 1;
        self.session = Some(Session { tracker: AckTracker::new(), parts: HashMap::new() });
        self.epoch
    }

    /// The session is gone (connection lost, an ack or requeue failed): its tags are void and
    /// its pending votes will be redelivered. Returns how many pending votes were dropped; 0
    /// when there was no session.
    pub fn session_lost(&mut self) -> usize {
        if self.session.take().is_none() {
            return 0;
        }
        let dropped = self.batcher.len();
        self.batcher.clear();
        dropped
    }

    /// Whether deliveries should be read: a session is live and shutdown was not asked.
    pub fn wants_deliveries(&self) -> bool {
        self.session.is_some() && !self.stopping
    }

    /// A delivery of the current session arrived at `now`.
    pub fn delivered(&mut self, tag: u64, message: Message, now: Instant) {
        let Some(session) = self.session.as_mut() else { return };
        session.tracker.delivered(tag);
        match message {
            Message::Vote(vote, body) => self.batcher.push(Pending { tag, vote, body }, now),
            Message::Votes(votes) => {
                if votes.len() > 1 {
                    session.parts.insert(tag, Parts { remaining: votes.len(), requeued: false });
                }
                // Each vote goes its own way, with its own bytes as its body; the delivery is
                // acked once all of them are committed or dead-lettered.
                for (vote, body) in votes {
                    match vote {
                        Ok(vote) => self.batcher.push(Pending { tag, vote, body }, now),
                        Err(rejection) => self.dead_letter(tag, body, rejection),
                    }
                }
            }
            Message::Refused(rejection, body) => self.dead_letter(tag, body, rejection),
        }
    }

    /// Shutdown was asked: from now on every pending vote is written whatever its age.
    pub fn stop(&mut self) {
        self.stopping = true;
    }

    /// Whether shutdown was asked.
    pub fn is_stopping(&self) -> bool {
        self.stopping
    }

    /// Shutdown was asked and nothing is pending or in flight.
    pub fn is_done(&self) -> bool {
        self.stopping && self.batcher.is_empty() && self.writes_in_flight == 0 && self.dead_letters_in_flight == 0
    }

    /// Votes waiting for a batch.
    pub fn pending(&self) -> usize {
        self.batcher.len()
    }

    /// Writes and dead-letter publishes in flight.
    pub fn in_flight(&self) -> usize {
        self.writes_in_flight + self.dead_letters_in_flight
    }

    /// Deliveries of the current session not yet acked.
    pub fn unacked(&self) -> usize {
        self.session.as_ref().map_or(0, |s| s.tracker.outstanding())
    }

    /// Starts the writes that are due at `now`: while a write slot is free and the pending
    /// votes make a ready batch (any batch at all once stopping).
    pub fn flush(&mut self, now: Instant) {
        while self.writes_in_flight < self.max_inflight_batches
            && !self.batcher.is_empty()
            && (self.stopping || self.batcher.is_ready(now, self.writes_in_flight > 0))
        {
            self.writes_in_flight += 1;
            self.actions.push(Action::Write { epoch: self.epoch, batch: self.batcher.take() });
        }
    }

    /// When the pending votes make a batch due, if a write slot is free to take it.
    pub fn flush_deadline(&self) -> Option<Instant> {
        if self.writes_in_flight < self.max_inflight_batches {
            self.batcher.deadline(self.writes_in_flight > 0)
        } else {
            None
        }
    }

    /// A write finished: every vote of `batch` committed but those at the indices `poisoned`,
    /// which the database refused even alone.
    pub fn batch_written(&mut self, epoch: u64, batch: Vec<Pending>, poisoned: &[usize]) {
        self.writes_in_flight -= 1;
        if epoch != self.epoch {
            return;
        }
        let mut committed = Vec::with_capacity(batch.len());
        for (i, pending) in batch.into_iter().enumerate() {
            if poisoned.contains(&i) {
                let rejection = Rejection { reason: RejectReason::DbRejected, detail: "refused by the database" };
                self.dead_letter(pending.tag, pending.body, rejection);
            } else {
                committed.push(pending.tag);
            }
        }
        self.settle(committed);
    }

    /// A dead-letter publish finished; `confirmed` says whether the broker confirmed it.
    pub fn dead_lettered(&mut self, epoch: u64, tag: u64, confirmed: bool) {
        self.dead_letters_in_flight -= 1;
        if epoch != self.epoch {
            return;
        }
        if confirmed {
            self.settle([tag]);
        } else {
            self.requeue(tag);
        }
    }

    fn dead_letter(&mut self, tag: u64, body: Vec<u8>, rejection: Rejection) {
        self.dead_letters_in_flight += 1;
        self.actions.push(Action::DeadLetter { epoch: self.epoch, tag, body, rejection });
    }

    /// Marks votes done (a tag once per vote it carries) and acks the newly contiguous prefix.
    fn settle(&mut self, tags: impl IntoIterator<Item = u64>) {
        let Some(session) = self.session.as_mut() else { return };
        for tag in tags {
            if session.part_done(tag) {
                session.tracker.settle(tag);
            }
        }
        if let Some(up_to) = session.tracker.take_ack() {
            self.actions.push(Action::Ack { up_to });
        }
    }

    /// Sends delivery `tag` back to the queue, counting it as done so that no later ack covers
    /// it. For a delivery of several votes this counts one of them; the delivery goes back once
    /// (its votes already counted are deduplicated when it comes again).
    fn requeue(&mut self, tag: u64) {
        let Some(session) = self.session.as_mut() else { return };
        if let Some(parts) = session.parts.get_mut(&tag) {
            let again = std::mem::replace(&mut parts.requeued, true);
            session.part_done(tag);
            if again {
                return self.settle([]);
            }
        }
        session.tracker.rejected(tag);
        self.actions.push(Action::Requeue { tag });
        self.settle([]);
    }
}

impl Session {
    /// Counts one vote of delivery `tag` as done; true when the delivery is done.
    fn part_done(&mut self, tag: u64) -> bool {
        // Most deliveries carry one vote: no lookup while no multi-vote delivery is pending.
        if self.parts.is_empty() {
            return true;
        }
        let Some(parts) = self.parts.get_mut(&tag) else { return true };
        parts.remaining -= 1;
        if parts.remaining > 0 {
            return false;
        }
        self.parts.remove(&tag);
        true
    }
}

#[cfg(test)]
mod tests;
