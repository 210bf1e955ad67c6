//! The counting rule: which of several conflicting votes counts, decided by the votes alone.
//!
//! Two votes conflict when they share a `vote_hash` or a (`law_id`, `citizen_id`) pair. Votes
//! are ranked by [`RevoteRule`]: the earliest `timestamp` first (`first`, the default) or the
//! latest (`last`), ties broken by `vote_hash`, then `law_id`, `citizen_id` and `choice`, all in
//! byte order, so any two different votes have a rank. Going down the ranking, a vote counts
//! when no vote counted before it shares one of its keys ([`decide`]). The result depends only
//! on the set of votes: not on their order, on how often each arrives, or on how they are cut
//! into batches. It is pure, so the engine's write path, `vote-engine recount` and the tests use
//! this one definition (docs/decisions/022-counts-that-do-not-depend-on-delivery-order.md).

use std::cmp::Ordering;
use std::collections::HashSet;
use std::str::FromStr;

use time::OffsetDateTime;

use crate::decode::Vote;

/// `duplicate_attempts.reason` of a vote whose `vote_hash` belongs to a counted vote.
pub const DUPLICATE_HASH: &str = "vote_hash";
/// `duplicate_attempts.reason` of any other vote not counted: its citizen's vote on the law
/// that counts is another one.
pub const DUPLICATE_CITIZEN_LAW: &str = "citizen_law";

/// Which of a citizen's votes on a law counts (`REVOTE_RULE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum RevoteRule {
    /// The earliest `timestamp` counts.
    #[default]
    First,
    /// The latest `timestamp` counts (systems that allow re-voting).
    Last,
}

impl RevoteRule {
    /// The setting's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            RevoteRule::First => "first",
            RevoteRule::Last => "last",
        }
    }

    /// How `a` ranks against `b`: `Less` when `a` goes first (counts rather than `b`).
    pub fn rank(self, a: &Vote, b: &Vote) -> Ordering {
        let (a_time, b_time) = (stored_micros(a.timestamp), stored_micros(b.timestamp));
        let by_time = match self {
            RevoteRule::First => a_time.cmp(&b_time),
            RevoteRule::Last => b_time.cmp(&a_time),
        };
        by_time
            .then_with(|| a.vote_hash.as_bytes().cmp(b.vote_hash.as_bytes()))
            .then_with(|| a.law_id.as_bytes().cmp(b.law_id.as_bytes()))
            .then_with(|| a.citizen_id.as_bytes().cmp(b.citizen_id.as_bytes()))
            .then_with(|| a.choice.as_str().cmp(b.choice.as_str()))
    }

    /// Whether `a` goes before `b` or is the same vote: then `b` cannot displace `a`.
    pub fn holds_against(self, a: &Vote, b: &Vote) -> bool {
        self.rank(a, b) != Ordering::Greater
    }
}

impl FromStr for RevoteRule {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        match value {
            "first" => Ok(RevoteRule::First),
            "last" => Ok(RevoteRule::Last),
            other => Err(format!("{other:?} is not a rule: first or last")),
        }
    }
}

/// A timestamp as PostgreSQL stores it: whole microseconds since 2000-01-01 UTC, cut toward
/// that epoch as the driver sends it. Votes are ranked at this precision, so a vote and its row
/// in the database rank alike.
fn stored_micros(t: OffsetDateTime) -> i128 {
    (t - POSTGRES_EPOCH).whole_microseconds()
}

const POSTGRES_EPOCH: OffsetDateTime = time::macros::datetime!(2000-01-01 0:00 UTC);

/// Whether two votes share a key (`vote_hash`, or `law_id` and `citizen_id`).
pub fn conflict(a: &Vote, b: &Vote) -> bool {
    a.vote_hash == b.vote_hash || (a.law_id == b.law_id && a.citizen_id == b.citizen_id)
}

/// Which of `votes` count under `rule`: `counted[i]` for `votes[i]`. Copies of one vote (equal
/// in every field) rank alike; the first copy in `votes` is the one marked.
pub fn decide<V: AsRef<Vote>>(rule: RevoteRule, votes: &[V]) -> Vec<bool> {
    let mut order: Vec<usize> = (0..votes.len()).collect();
    order.sort_by(|&a, &b| rule.rank(votes[a].as_ref(), votes[b].as_ref()).then(a.cmp(&b)));
    let mut hashes = HashSet::with_capacity(votes.len());
    let mut pairs = HashSet::with_capacity(votes.len());
    let mut counted = vec![false; votes.len()];
    for i in order {
        let v = votes[i].as_ref();
        if hashes.contains(v.vote_hash.as_str()) || pairs.contains(&(v.law_id.as_str(), v.citizen_id.as_str())) {
            continue;
        }
        hashes.insert(v.vote_hash.as_str());
        pairs.insert((v.law_id.as_str(), v.citizen_id.as_str()));
        counted[i] = true;
    }
    counted
}

/// The reason recorded for a vote that does not count, given the `vote_hash`es that do.
pub fn reason(vote: &Vote, counted_hashes: &HashSet<&str>) -> &'static str {
    if counted_hashes.contains(vote.vote_hash.as_str()) { DUPLICATE_HASH } else { DUPLICATE_CITIZEN_LAW }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::decode::Choice;

    fn vote(hash: &str, citizen: &str, law: &str, choice: Choice, second: i64) -> Vote {
        Vote {
            vote_hash: hash.into(),
            citizen_id: citizen.into(),
            law_id: law.into(),
            choice,
            timestamp: OffsetDateTime::from_unix_timestamp(1_700_000_000 + second).unwrap(),
        }
    }

    #[test]
    fn the_earliest_vote_of_a_citizen_on_a_law_counts_whatever_the_order() {
        let original = vote("h2", "c", "l", Choice::Oui, 10);
        let revote = vote("h1", "c", "l", Choice::Non, 20);
        assert_eq!(decide(RevoteRule::First, &[revote.clone(), original.clone()]), [false, true]);
        assert_eq!(decide(RevoteRule::First, &[original.clone(), revote.clone()]), [true, false]);
        assert_eq!(decide(RevoteRule::Last, &[revote.clone(), original.clone()]), [true, false]);
        assert_eq!(decide(RevoteRule::Last, &[original, revote]), [false, true]);
    }

    #[test]
    fn equal_timestamps_are_decided_by_vote_hash_in_byte_order_under_either_rule() {
        let a = vote("B", "c", "l", Choice::Oui, 10);
        let b = vote("a", "c", "l", Choice::Non, 10);
        for rule in [RevoteRule::First, RevoteRule::Last] {
            assert_eq!(decide(rule, &[b.clone(), a.clone()]), [false, true], "'B' < 'a' in bytes");
        }
    }

    #[test]
    fn one_vote_hash_with_different_content_counts_once_by_the_same_ranking() {
        let late = vote("h", "c", "l", Choice::Oui, 20);
        let early = vote("h", "c", "l", Choice::Non, 10);
        let same_time = vote("h", "c", "l", Choice::Oui, 10);
        assert_eq!(decide(RevoteRule::First, &[late.clone(), early.clone()]), [false, true]);
        assert_eq!(decide(RevoteRule::First, &[same_time.clone(), early.clone()]), [false, true], "non < oui");
        assert_eq!(decide(RevoteRule::Last, &[late, early]), [true, false]);
    }

    #[test]
    fn copies_count_once_and_a_vote_blocked_by_a_vote_that_does_not_count_still_counts() {
        let x = vote("h1", "c1", "l", Choice::Oui, 10);
        let y = vote("h9", "c2", "l", Choice::Oui, 5);
        // Same hash as x, another citizen: x loses its pair to y, so z's hash is free.
        let x_in_c2 = vote("h1", "c2", "l", Choice::Oui, 7);
        let z = vote("h1", "c3", "l", Choice::Non, 20);
        assert_eq!(decide(RevoteRule::First, &[x.clone(), x.clone()]), [true, false]);
        assert_eq!(decide(RevoteRule::First, &[z.clone(), x_in_c2.clone(), y.clone()]), [true, false, true]);
        assert_eq!(decide(RevoteRule::First, &[z, x_in_c2, y, x]), [false, false, true, true]);
    }

    #[test]
    fn the_reason_is_vote_hash_when_a_counted_vote_has_the_hash() {
        let counted: HashSet<&str> = ["h1"].into();
        assert_eq!(reason(&vote("h1", "c", "l", Choice::Oui, 0), &counted), "vote_hash");
        assert_eq!(reason(&vote("h2", "c", "l", Choice::Oui, 0), &counted), "citizen_law");
    }

    #[test]
    fn votes_apart_by_less_than_a_microsecond_rank_as_the_database_stores_them() {
        let mut a = vote("h", "c", "l", Choice::Oui, 10);
        let mut b = a.clone();
        a.timestamp += time::Duration::nanoseconds(100);
        b.timestamp += time::Duration::nanoseconds(900);
        assert_eq!(RevoteRule::First.rank(&a, &b), Ordering::Equal);
        b.timestamp += time::Duration::nanoseconds(100);
        assert_eq!(RevoteRule::First.rank(&a, &b), Ordering::Less);
    }

    #[test]
    fn rules_parse_from_their_spelling_only() {
        assert_eq!("first".parse::<RevoteRule>(), Ok(RevoteRule::First));
        assert_eq!("last".parse::<RevoteRule>(), Ok(RevoteRule::Last));
        assert!("First".parse::<RevoteRule>().is_err());
        assert!("".parse::<RevoteRule>().is_err());
        assert_eq!(RevoteRule::default().as_str(), "first");
    }

    fn arb_votes() -> impl Strategy<Value = Vec<Vote>> {
        let one = (0..6u8, 0..4u8, 0..2u8, any::<bool>(), 0..5i64).prop_map(|(h, c, l, oui, t)| {
            let choice = if oui { Choice::Oui } else { Choice::Non };
            vote(&format!("h{h}"), &format!("c{c}"), &format!("l{l}"), choice, t)
        });
        proptest::collection::vec(one, 0..24)
    }

    /// The counted votes as a sorted list, to compare runs over different orders.
    fn counted_set(rule: RevoteRule, votes: &[Vote]) -> Vec<String> {
        let mut out: Vec<String> =
            votes.iter().zip(decide(rule, votes)).filter(|(_, c)| *c).map(|(v, _)| format!("{v:?}")).collect();
        out.sort();
        out
    }

    proptest! {
        #[test]
        fn the_counted_votes_depend_on_the_set_only(votes in arb_votes(), seed in any::<u64>(), last in any::<bool>()) {
            let rule = if last { RevoteRule::Last } else { RevoteRule::First };
            let mut shuffled = votes.clone();
            // A deterministic shuffle from the seed, with one vote repeated.
            let n = shuffled.len();
            for i in (1..n).rev() {
                shuffled.swap(i, (seed.wrapping_mul(i as u64 + 7) % (i as u64 + 1)) as usize);
            }
            if let Some(v) = votes.first() {
                shuffled.push(v.clone());
            }
            prop_assert_eq!(counted_set(rule, &votes), counted_set(rule, &shuffled));
        }

        #[test]
        fn counted_votes_never_conflict_and_every_other_vote_meets_one_that_holds_against_it(
            votes in arb_votes(), last in any::<bool>()
        ) {
            let rule = if last { RevoteRule::Last } else { RevoteRule::First };
            let counted = decide(rule, &votes);
            let winners: Vec<&Vote> = votes.iter().zip(&counted).filter(|(_, c)| **c).map(|(v, _)| v).collect();
            for (i, a) in winners.iter().enumerate() {
                for b in &winners[i + 1..] {
                    prop_assert!(!conflict(a, b), "{a:?} and {b:?} both count");
                }
            }
            for (v, _) in votes.iter().zip(&counted).filter(|(_, c)| !**c) {
                prop_assert!(winners.iter().any(|w| conflict(w, v) && rule.holds_against(w, v)), "{v:?} lost to nothing");
            }
        }
    }
}
