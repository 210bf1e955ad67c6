//! What the broker confirmed of a run, message by message: the input of the expected totals.

use crate::expected::Expected;

use super::{Garbage, Message, MessageKind};

/// What the broker confirmed, message by message. Merge the tallies of several connections
/// with [`Tally::merge`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Bit `i` set: unique vote `i` was confirmed at least once (in any of its copies).
    votes: Vec<u64>,
    /// Bit `i` set: the conflicting vote of unique vote `i` was confirmed.
    conflicts: Vec<u64>,
    /// Distinct messages confirmed.
    pub messages: u64,
    /// Originals confirmed.
    pub originals: u64,
    /// Resends confirmed.
    pub resends: u64,
    /// Revotes confirmed.
    pub revotes: u64,
    /// Conflicting votes confirmed.
    pub conflicting: u64,
    /// Garbage confirmed, by [`Garbage::index`].
    pub invalid: [u64; Garbage::ALL.len()],
    /// Valid votes confirmed inside an envelope.
    pub envelopes: u64,
    /// Sends beyond the first of a message.
    pub republished: u64,
}

impl Tally {
    /// Records the first confirm of `message`.
    pub fn record(&mut self, message: &Message) {
        self.messages += 1;
        match message.kind {
            MessageKind::Original { .. } => self.originals += 1,
            MessageKind::Resend { .. } => self.resends += 1,
            MessageKind::Revote { .. } => self.revotes += 1,
            MessageKind::Conflicting { .. } => self.conflicting += 1,
            MessageKind::Invalid(kind) => self.invalid[kind.index()] += 1,
        }
        if let Some(vote) = message.kind.vote() {
            if message.envelope {
                self.envelopes += 1;
            }
            let bits = match message.kind {
                MessageKind::Conflicting { .. } => &mut self.conflicts,
                _ => &mut self.votes,
            };
            set_bit(bits, vote);
        }
    }

    /// Whether unique vote `vote` was confirmed (its original, a resend or a revote).
    pub fn has_vote(&self, vote: u32) -> bool {
        has_bit(&self.votes, vote)
    }

    /// Whether the conflicting vote of unique vote `vote` was confirmed.
    pub fn has_conflicting(&self, vote: u32) -> bool {
        has_bit(&self.conflicts, vote)
    }

    /// Adds the message counters into `expected` (not `duplicates_sent`: which votes count is
    /// [`crate::Generator::expected`]'s business).
    pub fn add_to(&self, expected: &mut Expected) {
        expected.messages_sent += self.messages;
        expected.resends_sent += self.resends;
        expected.revotes_sent += self.revotes;
        expected.conflicting_sent += self.conflicting;
        expected.envelopes_sent += self.envelopes;
        expected.republished += self.republished;
        for (kind, n) in Garbage::ALL.iter().zip(self.invalid) {
            if n > 0 {
                expected.invalid_sent += n;
                *expected.invalid_by_kind.entry(kind.as_str().to_owned()).or_default() += n;
            }
        }
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Tally) {
        union(&mut self.votes, &other.votes);
        union(&mut self.conflicts, &other.conflicts);
        self.messages += other.messages;
        self.originals += other.originals;
        self.resends += other.resends;
        self.revotes += other.revotes;
        self.conflicting += other.conflicting;
        for (mine, theirs) in self.invalid.iter_mut().zip(other.invalid) {
            *mine += theirs;
        }
        self.envelopes += other.envelopes;
        self.republished += other.republished;
    }
}

fn set_bit(bits: &mut Vec<u64>, i: u32) {
    let word = i as usize / 64;
    if bits.len() <= word {
        bits.resize(word + 1, 0);
    }
    bits[word] |= 1 << (i % 64);
}

fn has_bit(bits: &[u64], i: u32) -> bool {
    bits.get(i as usize / 64).is_some_and(|w| w & (1 << (i % 64)) != 0)
}

fn union(bits: &mut Vec<u64>, other: &[u64]) {
    if bits.len() < other.len() {
        bits.resize(other.len(), 0);
    }
    for (mine, theirs) in bits.iter_mut().zip(other) {
        *mine |= theirs;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::GeneratorConfig;

    #[test]
    fn a_tally_copies_every_message_counter_and_only_the_garbage_kinds_sent() {
        let mut tally = Tally {
            messages: 20,
            originals: 9,
            resends: 3,
            revotes: 2,
            envelopes: 4,
            republished: 5,
            ..Tally::default()
        };
        tally.invalid[Garbage::NotJson.index()] = 2;
        tally.invalid[Garbage::BadChoice.index()] = 4;
        let mut expected = Expected::from_laws("p-", 1, BTreeMap::new());
        tally.add_to(&mut expected);
        tally.add_to(&mut expected);
        assert_eq!((expected.messages_sent, expected.resends_sent, expected.revotes_sent), (40, 6, 4));
        assert_eq!((expected.envelopes_sent, expected.republished, expected.invalid_sent), (8, 10, 12));
        let by_kind: Vec<(&str, u64)> = expected.invalid_by_kind.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(by_kind, [("bad_choice", 8), ("not_json", 4)]);
    }

    fn messages(n: usize) -> Vec<Message> {
        let mut generator = crate::Generator::new(GeneratorConfig { seed: 5, ..GeneratorConfig::default() }).unwrap();
        let mut messages = Vec::new();
        generator.fill(n, &mut messages);
        messages
    }

    fn tally(messages: &[Message]) -> Tally {
        let mut tally = Tally::default();
        messages.iter().for_each(|m| tally.record(m));
        tally
    }

    #[test]
    fn a_tally_counts_each_kind_of_message_and_every_vote_it_carries() {
        let messages = messages(3_000);
        let tally = tally(&messages);
        let count = |keep: &dyn Fn(&Message) -> bool| messages.iter().filter(|m| keep(m)).count() as u64;
        assert_eq!(tally.messages, 3_000);
        assert_eq!(tally.originals, count(&|m| matches!(m.kind, MessageKind::Original { .. })));
        assert_eq!(tally.resends, count(&|m| matches!(m.kind, MessageKind::Resend { .. })));
        assert_eq!(tally.revotes, count(&|m| matches!(m.kind, MessageKind::Revote { .. })));
        assert_eq!(tally.envelopes, count(&|m| m.envelope && m.kind.vote().is_some()));
        for kind in Garbage::ALL {
            assert_eq!(tally.invalid[kind.index()], count(&|m| m.kind == MessageKind::Invalid(kind)), "{kind:?}");
        }
        assert!(tally.originals > 64 && tally.resends > 0 && tally.revotes > 0 && tally.envelopes > 0);
        let votes: Vec<u32> = messages.iter().filter_map(|m| m.kind.vote()).collect();
        assert!(votes.iter().all(|v| tally.has_vote(*v)));
        let beyond = votes.iter().max().unwrap() + 1;
        assert!(!tally.has_vote(beyond) && !tally.has_vote(beyond + 64));
    }

    #[test]
    fn merged_tallies_equal_the_tally_of_all_messages_in_either_order() {
        let messages = messages(3_000);
        let whole = tally(&messages);
        // The first part holds only low vote numbers: its bit set is the shorter one.
        let (early, late) = messages.split_at(400);
        let mut merged = tally(early);
        merged.merge(&tally(late));
        assert_eq!(merged, whole);
        let mut merged = tally(late);
        merged.merge(&tally(early));
        assert_eq!(merged, whole);
        // Republished sends are counted by the publisher, not by `record`.
        let (mut a, mut b) = (tally(early), tally(late));
        (a.republished, b.republished) = (2, 3);
        a.merge(&b);
        assert_eq!(a.republished, 5);
    }
}
