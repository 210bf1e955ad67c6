//! The batch as the column arrays of one statement: a vote per row, in the global insert order,
//! with the batch's own duplicates split off before the database sees them.

use std::collections::{HashMap, HashSet};

use time::OffsetDateTime;

use crate::decode::Vote;

/// `duplicate_attempts.reason` of a vote whose `vote_hash` was counted already.
pub const DUPLICATE_HASH: &str = "vote_hash";
/// `duplicate_attempts.reason` of a second vote by a citizen on a law.
pub const DUPLICATE_CITIZEN_LAW: &str = "citizen_law";

/// Column arrays for the batch statement and its duplicates. The batch's internal duplicates
/// are split off at once (the first occurrence of a vote_hash, and of a citizen+law pair, is the
/// one that can count); votes the database did not count are added by [`BatchColumns::skipped`].
pub struct BatchColumns<'a> {
    pub(super) hashes: Vec<&'a str>,
    pub(super) citizens: Vec<&'a str>,
    pub(super) laws: Vec<&'a str>,
    pub(super) choices: Vec<&'static str>,
    pub(super) timestamps: Vec<OffsetDateTime>,
    pub(super) unseen: Vec<bool>,
    pub(super) dup_hashes: Vec<&'a str>,
    pub(super) dup_citizens: Vec<&'a str>,
    pub(super) dup_laws: Vec<&'a str>,
    pub(super) dup_reasons: Vec<Option<&'static str>>,
    /// vote_hash -> index into the columns, built on the first [`BatchColumns::skipped`] (most
    /// batches have none, and the columns are ordered by law and citizen, not by hash).
    position: Option<HashMap<&'a str, usize>>,
}

impl<'a> BatchColumns<'a> {
    /// Splits `votes` into the column arrays of the batch statement and its internal duplicates;
    /// `unseen[i]` says whether `votes[i]` goes in without `ON CONFLICT`.
    pub fn new<V: AsRef<Vote>>(votes: &'a [V], unseen: &[bool]) -> Self {
        // foldhash rather than SipHash: these sets only live for one batch, and a hash flood
        // could only slow this batch down (the random seed makes one hard to craft anyway).
        let hasher = foldhash::fast::RandomState::default();
        let mut seen_hash = HashSet::with_capacity_and_hasher(votes.len(), hasher.clone());
        let mut seen_pair = HashSet::with_capacity_and_hasher(votes.len(), hasher);
        let mut unique: Vec<(&Vote, bool)> = Vec::with_capacity(votes.len());
        let mut p = Self {
            hashes: Vec::new(),
            citizens: Vec::new(),
            laws: Vec::new(),
            choices: Vec::new(),
            timestamps: Vec::new(),
            unseen: Vec::new(),
            dup_hashes: Vec::new(),
            dup_citizens: Vec::new(),
            dup_laws: Vec::new(),
            dup_reasons: Vec::new(),
            position: None,
        };
        for (v, &unseen) in votes.iter().map(AsRef::as_ref).zip(unseen) {
            let reason = if !seen_hash.insert(v.vote_hash.as_str()) {
                Some(DUPLICATE_HASH)
            } else if !seen_pair.insert((v.citizen_id.as_str(), v.law_id.as_str())) {
                Some(DUPLICATE_CITIZEN_LAW)
            } else {
                None
            };
            match reason {
                None => unique.push((v, unseen)),
                Some(reason) => {
                    p.dup_hashes.push(&v.vote_hash);
                    p.dup_citizens.push(&v.citizen_id);
                    p.dup_laws.push(&v.law_id);
                    p.dup_reasons.push(Some(reason));
                }
            }
        }
        // Concurrent writers (batches in flight, other engines) insert in one global order, so
        // they cannot deadlock over the audit keys: a writer that waits for another's
        // uncommitted (law_id, citizen_id) has inserted nothing the other has yet to reach. A
        // vote_hash comes with one citizen and law, so the order serves the vote_hash key too
        // (docs/decisions/007-global-insert-order.md).
        unique.sort_unstable_by(|(a, _), (b, _)| (&a.law_id, &a.citizen_id).cmp(&(&b.law_id, &b.citizen_id)));
        p.hashes = unique.iter().map(|(v, _)| v.vote_hash.as_str()).collect();
        p.citizens = unique.iter().map(|(v, _)| v.citizen_id.as_str()).collect();
        p.laws = unique.iter().map(|(v, _)| v.law_id.as_str()).collect();
        p.choices = unique.iter().map(|(v, _)| v.choice.as_str()).collect();
        p.timestamps = unique.iter().map(|(v, _)| v.timestamp).collect();
        p.unseen = unique.iter().map(|(_, unseen)| *unseen).collect();
        p
    }

    /// Records that the vote with `hash` was not counted; the database tells why.
    pub(super) fn skipped(&mut self, hash: &str) {
        let hashes = &self.hashes;
        let position = self.position.get_or_insert_with(|| hashes.iter().enumerate().map(|(i, h)| (*h, i)).collect());
        if let Some(&i) = position.get(hash) {
            self.dup_hashes.push(self.hashes[i]);
            self.dup_citizens.push(self.citizens[i]);
            self.dup_laws.push(self.laws[i]);
            self.dup_reasons.push(None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(hash: &str, citizen: &str, law: &str) -> Vote {
        Vote::test(hash, citizen, law)
    }

    #[test]
    fn internal_duplicates_are_split_off_first_wins() {
        let votes = [vote("h2", "c1", "l1"), vote("h1", "c2", "l1"), vote("h2", "c3", "l2"), vote("h3", "c1", "l1")];
        let p = BatchColumns::new(&votes, &[true, false, true, true]);
        assert_eq!(p.hashes, ["h2", "h1"], "sorted by law_id, citizen_id");
        assert_eq!(p.citizens, ["c1", "c2"]);
        assert_eq!(p.unseen, [true, false], "the flags follow their votes");
        assert_eq!(p.dup_hashes, ["h2", "h3"]);
        assert_eq!(p.dup_reasons, [Some("vote_hash"), Some("citizen_law")]);
    }

    #[test]
    fn a_vote_the_database_did_not_count_joins_the_duplicates_with_its_reason_left_to_the_database() {
        let votes = [vote("h1", "c1", "l1"), vote("h2", "c2", "l1")];
        let mut p = BatchColumns::new(&votes, &[true, true]);
        p.skipped("h2");
        p.skipped("not-in-the-batch");
        assert_eq!(
            (p.dup_hashes.as_slice(), p.dup_citizens.as_slice(), p.dup_laws.as_slice()),
            (&["h2"][..], &["c2"][..], &["l1"][..])
        );
        assert_eq!(p.dup_reasons, [None]);
    }
}
