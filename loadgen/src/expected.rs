//! The exact totals a run must produce.
//!
//! The publisher records each message in a [`crate::generate::Tally`] once the broker confirmed
//! it (republished copies are not recorded again); [`crate::Generator::expected`] turns the
//! tally into an [`Expected`]. Only confirmed messages count, so stopping a run early (`--duration`) leaves the
//! totals exact: a vote that was generated but never sent is simply not expected.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::Error;
use crate::contract::{Choice, RevoteRule};

/// Digits of the law number in a law id (`<prefix>00001`).
pub const LAW_DIGITS: usize = 5;

/// Returns the id of law `index` (0-based) of a run: `<prefix><index + 1, 5 digits>`.
pub fn law_id(prefix: &str, index: u32) -> String {
    format!("{prefix}{:0width$}", u64::from(index) + 1, width = LAW_DIGITS)
}

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
    /// Totals made of `laws` alone (the message counters stay 0): for tests and for checking
    /// totals that come from elsewhere.
    pub fn from_laws(law_prefix: &str, law_count: u32, laws: BTreeMap<String, LawTotals>) -> Self {
        let mut expected = Self::new(law_prefix, law_count, 0, crate::DEFAULT_QUEUE);
        for (law, totals) in laws {
            expected.oui += totals.oui;
            expected.non += totals.non;
            expected.total += totals.total();
            expected.laws.insert(law, totals);
        }
        expected
    }

    /// Totals with no votes yet for the run of `law_count` laws named `law_prefix`..., generated
    /// from `seed` and published to `queue`.
    pub fn new(law_prefix: &str, law_count: u32, seed: u64, queue: &str) -> Self {
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
}
