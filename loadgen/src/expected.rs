//! The exact totals a run must produce, and the tally they are built from.
//!
//! The publisher records each message in a [`Tally`] once the broker confirmed it (republished
//! copies are not recorded again); [`crate::Generator::expected`] turns the tally into an
//! [`Expected`]. Only confirmed messages count, so stopping a run early (`--duration`) leaves the
//! totals exact: a vote that was generated but never sent is simply not expected.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::contract::{Choice, RevoteRule};
use crate::generate::{Garbage, GeneratorConfig, Message, MessageKind, law_id};

/// Version of the expected-totals file layout.
pub const FORMAT_VERSION: u32 = 1;

/// Counts of one law.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LawTotals {
    /// `oui` votes.
    pub oui: u64,
    /// `non` votes.
    pub non: u64,
}

impl LawTotals {
    /// `oui + non`.
    pub fn total(&self) -> u64 {
        self.oui + self.non
    }
}

/// The expected-totals file: what the engine must have counted for this run's laws.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    /// Layout version ([`FORMAT_VERSION`]).
    pub format_version: u32,
    /// Every law id of the run starts with this; verification only looks at these laws.
    pub law_prefix: String,
    /// Laws of the run: ids `<law_prefix>00001` up to this number.
    pub law_count: u32,
    /// Seed the messages were generated from.
    pub seed: u64,
    /// Queue the messages were published to.
    pub queue: String,
    /// Unique votes: the sum the engine must reach (`oui + non`).
    pub total: u64,
    /// Expected `oui` votes over all laws.
    pub oui: u64,
    /// Expected `non` votes over all laws.
    pub non: u64,
    /// Distinct messages confirmed by the broker (republished copies not included).
    pub messages_sent: u64,
    /// Valid messages confirmed that must not count: resends, revotes, and one of each pair of
    /// conflicting votes of which both were confirmed.
    pub duplicates_sent: u64,
    /// Duplicates with the `vote_hash` of an earlier vote.
    pub resends_sent: u64,
    /// Duplicates by the same citizen on the same law with a new `vote_hash`, same choice.
    pub revotes_sent: u64,
    /// Conflicting votes confirmed: the other choice, a day earlier or later than their vote.
    #[serde(default)]
    pub conflicting_sent: u64,
    /// The rule these totals follow; the engine must count by the same `REVOTE_RULE`.
    #[serde(default)]
    pub revote_rule: RevoteRule,
    /// Garbage messages confirmed; the engine must dead-letter every one.
    pub invalid_sent: u64,
    /// Garbage messages by kind.
    pub invalid_by_kind: BTreeMap<String, u64>,
    /// Valid votes sent inside a `vote.cast` envelope.
    pub envelopes_sent: u64,
    /// Messages published again because their confirm did not arrive; they may or may not
    /// have reached the queue, and the engine deduplicates those that did.
    pub republished: u64,
    /// Per law id, the laws with at least one vote; any other law of the run must stay at 0.
    pub laws: BTreeMap<String, LawTotals>,
}

impl Expected {
    /// Totals with no votes for the run described by `config`.
    pub fn empty(config: &GeneratorConfig, queue: &str) -> Self {
        let mut expected = Self::blank(&config.law_prefix, config.laws, config.seed, queue);
        expected.revote_rule = config.revote_rule;
        expected
    }

    /// Totals made of `laws` alone (the message counters stay 0): for tests and for checking
    /// totals that come from elsewhere.
    pub fn from_laws(law_prefix: &str, law_count: u32, laws: BTreeMap<String, LawTotals>) -> Self {
        let mut expected = Self::blank(law_prefix, law_count, 0, crate::DEFAULT_QUEUE);
        for (law, totals) in laws {
            expected.oui += totals.oui;
            expected.non += totals.non;
            expected.total += totals.total();
            expected.laws.insert(law, totals);
        }
        expected
    }

    fn blank(law_prefix: &str, law_count: u32, seed: u64, queue: &str) -> Self {
        Self {
            format_version: FORMAT_VERSION,
            law_prefix: law_prefix.to_owned(),
            law_count,
            seed,
            queue: queue.to_owned(),
            total: 0,
            oui: 0,
            non: 0,
            messages_sent: 0,
            duplicates_sent: 0,
            resends_sent: 0,
            revotes_sent: 0,
            conflicting_sent: 0,
            revote_rule: RevoteRule::First,
            invalid_sent: 0,
            invalid_by_kind: BTreeMap::new(),
            envelopes_sent: 0,
            republished: 0,
            laws: BTreeMap::new(),
        }
    }

    /// Counts one unique vote.
    pub fn add_vote(&mut self, law_id: &str, choice: Choice) {
        let law = self.laws.entry(law_id.to_owned()).or_default();
        match choice {
            Choice::Oui => {
                law.oui += 1;
                self.oui += 1;
            }
            Choice::Non => {
                law.non += 1;
                self.non += 1;
            }
        }
        self.total += 1;
    }

    /// Copies the message counters of `tally` (not `duplicates_sent`: which votes count is
    /// [`crate::Generator::expected`]'s business).
    pub fn add_tally(&mut self, tally: &Tally) {
        self.messages_sent += tally.messages;
        self.resends_sent += tally.resends;
        self.revotes_sent += tally.revotes;
        self.conflicting_sent += tally.conflicting;
        self.envelopes_sent += tally.envelopes;
        self.republished += tally.republished;
        for (kind, n) in Garbage::ALL.iter().zip(tally.invalid) {
            if n > 0 {
                self.invalid_sent += n;
                *self.invalid_by_kind.entry(kind.as_str().to_owned()).or_default() += n;
            }
        }
    }

    /// Every law id of the run, including those expected to stay at zero.
    pub fn law_ids(&self) -> Vec<String> {
        (0..self.law_count).map(|i| law_id(&self.law_prefix, i)).collect()
    }

    /// Writes the file as pretty JSON.
    pub fn write(&self, path: &Path) -> Result<(), Error> {
        let fail = |reason: String| Error::ExpectedFile { path: path.display().to_string(), reason };
        let json = serde_json::to_vec_pretty(self).map_err(|e| fail(e.to_string()))?;
        std::fs::write(path, json).map_err(|e| fail(e.to_string()))
    }

    /// Reads a file written by [`Expected::write`].
    pub fn read(path: &Path) -> Result<Self, Error> {
        let fail = |reason: String| Error::ExpectedFile { path: path.display().to_string(), reason };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let expected: Self = serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string()))?;
        if expected.format_version != FORMAT_VERSION {
            return Err(fail(format!("format_version {} is not {FORMAT_VERSION}", expected.format_version)));
        }
        Ok(expected)
    }
}

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
            let (word, bit) = (vote as usize / 64, vote % 64);
            if bits.len() <= word {
                bits.resize(word + 1, 0);
            }
            bits[word] |= 1 << bit;
        }
    }

    /// Whether unique vote `vote` was confirmed (its original, a resend or a revote).
    pub fn has_vote(&self, vote: u32) -> bool {
        self.votes.get(vote as usize / 64).is_some_and(|w| w & (1 << (vote % 64)) != 0)
    }

    /// Whether the conflicting vote of unique vote `vote` was confirmed.
    pub fn has_conflicting(&self, vote: u32) -> bool {
        self.conflicts.get(vote as usize / 64).is_some_and(|w| w & (1 << (vote % 64)) != 0)
    }

    /// Adds `other` into `self`.
    pub fn merge(&mut self, other: &Tally) {
        if self.votes.len() < other.votes.len() {
            self.votes.resize(other.votes.len(), 0);
        }
        for (mine, theirs) in self.votes.iter_mut().zip(&other.votes) {
            *mine |= theirs;
        }
        if self.conflicts.len() < other.conflicts.len() {
            self.conflicts.resize(other.conflicts.len(), 0);
        }
        for (mine, theirs) in self.conflicts.iter_mut().zip(&other.conflicts) {
            *mine |= theirs;
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_from_laws_add_up_per_choice() {
        let laws = [("p-00001", LawTotals { oui: 3, non: 4 }), ("p-00002", LawTotals { oui: 5, non: 0 })];
        let expected = Expected::from_laws("p-", 3, laws.iter().map(|(l, t)| (l.to_string(), *t)).collect());
        assert_eq!((expected.oui, expected.non, expected.total), (8, 4, 12));
        assert_eq!(expected.laws.len(), 2);
        assert_eq!(expected.law_ids(), ["p-00001", "p-00002", "p-00003"], "laws without votes included");
    }

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
        expected.add_tally(&tally);
        expected.add_tally(&tally);
        assert_eq!((expected.messages_sent, expected.resends_sent, expected.revotes_sent), (40, 6, 4));
        assert_eq!((expected.envelopes_sent, expected.republished, expected.invalid_sent), (8, 10, 12));
        let by_kind: Vec<(&str, u64)> = expected.invalid_by_kind.iter().map(|(k, n)| (k.as_str(), *n)).collect();
        assert_eq!(by_kind, [("bad_choice", 8), ("not_json", 4)]);
    }

    #[test]
    fn the_file_round_trips_and_another_layout_is_refused() {
        let mut expected = Expected::from_laws("p-", 2, [("p-00002".to_owned(), LawTotals { oui: 1, non: 2 })].into());
        expected.invalid_sent = 3;
        let path = std::env::temp_dir().join(format!("expected-{}.json", std::process::id()));
        expected.write(&path).unwrap();
        assert_eq!(Expected::read(&path).unwrap(), expected);
        expected.format_version = FORMAT_VERSION + 1;
        expected.write(&path).unwrap();
        let refused = Expected::read(&path).unwrap_err().to_string();
        std::fs::remove_file(&path).unwrap();
        assert!(
            refused.contains(&format!("format_version {} is not {FORMAT_VERSION}", FORMAT_VERSION + 1)),
            "{refused}"
        );
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
