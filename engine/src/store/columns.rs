//! The batch as the column arrays of one statement: a vote per row, in the global insert order,
//! with the votes the batch itself rules out set aside before the database sees them.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::decode::Vote;
use crate::rule::{RevoteRule, decide};

/// Column arrays for the batch statement, and the votes it did not count. Among the batch's own
/// conflicting votes the rule picks at once; the others, and later the votes the database did
/// not count ([`BatchColumns::skipped`]), are `pending`: the store compares them with the votes
/// counted before.
pub struct BatchColumns<'a> {
    pub(super) hashes: Vec<&'a str>,
    pub(super) citizens: Vec<&'a str>,
    pub(super) laws: Vec<&'a str>,
    pub(super) choices: Vec<&'static str>,
    pub(super) timestamps: Vec<OffsetDateTime>,
    pub(super) unseen: Vec<bool>,
    /// The batch's votes written and not counted, in no particular order.
    pub(super) pending: Vec<&'a Vote>,
    written: Vec<&'a Vote>,
    /// vote_hash -> index into the columns, built on the first [`BatchColumns::skipped`] (most
    /// batches have none, and the columns are ordered by law and citizen, not by hash).
    position: Option<HashMap<&'a str, usize>>,
}

impl<'a> BatchColumns<'a> {
    /// Splits `votes` into the column arrays of the batch statement and the votes the batch
    /// rules out under `rule`; `unseen[i]` says whether `votes[i]` goes in without `ON CONFLICT`.
    pub fn new<V: AsRef<Vote>>(votes: &'a [V], unseen: &[bool], rule: RevoteRule) -> Self {
        let counted = batch_decision(rule, votes);
        let mut unique: Vec<(&Vote, bool)> = Vec::with_capacity(votes.len());
        let mut pending = Vec::new();
        for ((v, &unseen), counted) in votes.iter().map(AsRef::as_ref).zip(unseen).zip(counted) {
            if counted {
                unique.push((v, unseen));
            } else {
                pending.push(v);
            }
        }
        // Concurrent writers (batches in flight, other engines) insert in one global order, so
        // they cannot deadlock over the audit keys: a writer that waits for another's
        // uncommitted (law_id, citizen_id) has inserted nothing the other has yet to reach. A
        // vote_hash comes with one citizen and law, so the order serves the vote_hash key too
        // (docs/decisions/007-global-insert-order.md).
        unique.sort_unstable_by(|(a, _), (b, _)| (&a.law_id, &a.citizen_id).cmp(&(&b.law_id, &b.citizen_id)));
        Self {
            hashes: unique.iter().map(|(v, _)| v.vote_hash.as_str()).collect(),
            citizens: unique.iter().map(|(v, _)| v.citizen_id.as_str()).collect(),
            laws: unique.iter().map(|(v, _)| v.law_id.as_str()).collect(),
            choices: unique.iter().map(|(v, _)| v.choice.as_str()).collect(),
            timestamps: unique.iter().map(|(v, _)| v.timestamp).collect(),
            unseen: unique.iter().map(|(_, unseen)| *unseen).collect(),
            written: unique.iter().map(|(v, _)| *v).collect(),
            pending,
            position: None,
        }
    }

    /// Records that the vote with `hash` was not counted: one of its keys was taken.
    pub(super) fn skipped(&mut self, hash: &str) {
        let hashes = &self.hashes;
        let position = self.position.get_or_insert_with(|| hashes.iter().enumerate().map(|(i, h)| (*h, i)).collect());
        if let Some(&i) = position.get(hash) {
            self.pending.push(self.written[i]);
        }
    }
}

/// Which of `votes` the rule lets go in: only the votes sharing a key with another vote of the
/// batch (usually a few) are ranked; every other one conflicts with nothing here.
fn batch_decision<V: AsRef<Vote>>(rule: RevoteRule, votes: &[V]) -> Vec<bool> {
    // foldhash rather than SipHash: these maps only live for one batch, and a hash flood could
    // only slow this batch down (the random seed makes one hard to craft anyway).
    let hasher = foldhash::fast::RandomState::default();
    let mut hashes: HashMap<&str, u32, _> = HashMap::with_capacity_and_hasher(votes.len(), hasher.clone());
    let mut pairs: HashMap<(&str, &str), u32, _> = HashMap::with_capacity_and_hasher(votes.len(), hasher);
    for v in votes.iter().map(AsRef::as_ref) {
        *hashes.entry(v.vote_hash.as_str()).or_default() += 1;
        *pairs.entry((v.law_id.as_str(), v.citizen_id.as_str())).or_default() += 1;
    }
    let involved: Vec<usize> = (0..votes.len())
        .filter(|&i| {
            let v = votes[i].as_ref();
            hashes[v.vote_hash.as_str()] > 1 || pairs[&(v.law_id.as_str(), v.citizen_id.as_str())] > 1
        })
        .collect();
    let mut counted = vec![true; votes.len()];
    if involved.is_empty() {
        return counted;
    }
    let ranked: Vec<&Vote> = involved.iter().map(|&i| votes[i].as_ref()).collect();
    for (&i, decided) in involved.iter().zip(decide(rule, &ranked)) {
        counted[i] = decided;
    }
    counted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(hash: &str, citizen: &str, law: &str) -> Vote {
        Vote::test(hash, citizen, law)
    }

    #[test]
    fn the_batch_own_conflicts_are_set_aside_by_the_rule_not_by_position() {
        let votes = [vote("h2", "c1", "l1"), vote("h1", "c2", "l1"), vote("h2", "c3", "l2"), vote("h0", "c1", "l1")];
        let p = BatchColumns::new(&votes, &[true, false, true, true], RevoteRule::First);
        // Same timestamp: h0 ranks before h2 for c1 on l1; h2 in l2 is then free to count.
        assert_eq!(p.hashes, ["h0", "h1", "h2"], "sorted by law_id, citizen_id");
        assert_eq!(p.citizens, ["c1", "c2", "c3"]);
        assert_eq!(p.unseen, [true, false, true], "the flags follow their votes");
        let pending: Vec<_> = p.pending.iter().map(|v| (v.vote_hash.as_str(), v.citizen_id.as_str())).collect();
        assert_eq!(pending, [("h2", "c1")]);
    }

    #[test]
    fn a_vote_the_database_did_not_count_joins_the_pending_votes() {
        let votes = [vote("h1", "c1", "l1"), vote("h2", "c2", "l1")];
        let mut p = BatchColumns::new(&votes, &[true, true], RevoteRule::First);
        p.skipped("h2");
        p.skipped("not-in-the-batch");
        assert_eq!(p.pending, [&votes[1]]);
    }
}
