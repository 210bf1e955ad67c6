//! Which votes can skip the database's conflict check: those whose keys this engine has not
//! seen lately.
//!
//! `INSERT ... ON CONFLICT DO NOTHING` probes both unique indexes of `vote_audit` before each
//! row's insert, then descends them again to insert: four index descents per vote. A plain
//! `INSERT` descends each index once and still refuses a taken key (the whole statement fails).
//! So the store inserts plainly every vote neither of whose keys (`vote_hash`,
//! `law_id`+`citizen_id`) it has seen, and keeps `ON CONFLICT` for the others
//! (docs/decisions/010-plain-inserts-for-unseen-keys.md).
//!
//! This filter only picks the statement; the unique indexes still decide what counts. It may
//! say "seen" for a new key (a false positive: that vote just takes the careful path), and it
//! cannot know keys written before a restart or by another engine: such a vote makes the plain
//! insert fail, and the store writes the batch again the careful way ([`PlainInserts`]).
//!
//! Memory is fixed: two generations of a Bloom filter (`fastbloom`). Keys go into the current
//! generation; when it holds [`GENERATION_KEYS`] keys, the older one is cleared and becomes
//! current, so the filter remembers between one and two generations of keys (0.5 to 1 million
//! votes at two keys per vote) in 4 MiB.

use std::hash::{BuildHasher, Hash};

use fastbloom::BloomFilter;

use crate::decode::Vote;

/// Bits per generation: 2^24 (2 MiB).
const GENERATION_BITS: usize = 1 << 24;
/// Bits set per key.
const BITS_PER_KEY: u32 = 7;
/// Keys per generation before it rotates: under 1 % false positives per key at this fill.
pub const GENERATION_KEYS: usize = 1_000_000;
/// Most batches written with `ON CONFLICT` for every vote after plain inserts failed in a row.
const MAX_PLAIN_INSERT_PAUSE: u32 = 256;

/// One generation: a Bloom filter and how many keys went into it.
struct Generation {
    filter: BloomFilter,
    keys: usize,
}

impl Generation {
    fn new() -> Self {
        Self { filter: BloomFilter::with_num_bits(GENERATION_BITS).hashes(BITS_PER_KEY), keys: 0 }
    }

    fn contains(&self, hash: u64) -> bool {
        self.filter.contains_hash(hash)
    }

    fn insert(&mut self, hash: u64) {
        self.filter.insert_hash(hash);
        self.keys += 1;
    }

    fn clear(&mut self) {
        self.filter.clear();
        self.keys = 0;
    }
}

/// The keys of the votes the engine wrote (or is writing) lately.
pub struct RecentKeys {
    current: Generation,
    previous: Generation,
    hasher: foldhash::fast::RandomState,
}

impl Default for RecentKeys {
    fn default() -> Self {
        Self::new()
    }
}

impl RecentKeys {
    /// An empty filter (4 MiB).
    pub fn new() -> Self {
        Self { current: Generation::new(), previous: Generation::new(), hasher: Default::default() }
    }

    /// For each vote, in order: true if neither of its keys was seen before (by an earlier call,
    /// or earlier in `votes`). Every key is remembered from then on.
    pub fn first_sightings<V: AsRef<Vote>>(&mut self, votes: &[V]) -> Vec<bool> {
        votes
            .iter()
            .map(|v| {
                let v = v.as_ref();
                let by_hash = self.probe(&v.vote_hash);
                let by_pair = self.probe((&v.law_id, &v.citizen_id));
                let new_hash = self.remember(by_hash);
                let new_pair = self.remember(by_pair);
                new_hash && new_pair
            })
            .collect()
    }

    /// The key's hash, computed once for both generations.
    fn probe(&self, key: impl Hash) -> u64 {
        self.hasher.hash_one(key)
    }

    /// Adds a key; returns whether it was new to both generations.
    fn remember(&mut self, probe: u64) -> bool {
        if self.current.contains(probe) {
            return false;
        }
        let new = !self.previous.contains(probe);
        if self.current.keys >= GENERATION_KEYS {
            std::mem::swap(&mut self.current, &mut self.previous);
            self.current.clear();
        }
        self.current.insert(probe);
        new
    }
}

/// Which votes of a batch go in without `ON CONFLICT`: those [`RecentKeys`] has not seen, unless
/// plain inserts failed lately. Each failure in a row pauses them for twice as many batches, so
/// an engine beside another one, or one re-reading its own redeliveries, does not pay for a
/// failed statement batch after batch.
pub(super) struct PlainInserts {
    recent: RecentKeys,
    /// Batches still to write with `ON CONFLICT` for every vote.
    paused_for: u32,
    /// The pause after the next failure; doubles per failure in a row, 0 after a success.
    next_pause: u32,
}

impl PlainInserts {
    pub(super) fn new() -> Self {
        Self { recent: RecentKeys::new(), paused_for: 0, next_pause: 0 }
    }

    /// Per vote: insert it plainly? Remembers the batch's keys either way.
    pub(super) fn choose<V: AsRef<Vote>>(&mut self, votes: &[V]) -> Vec<bool> {
        let mut unseen = self.recent.first_sightings(votes);
        if self.paused_for > 0 {
            self.paused_for -= 1;
            unseen.fill(false);
        }
        unseen
    }

    pub(super) fn succeeded(&mut self) {
        self.next_pause = 0;
    }

    pub(super) fn failed(&mut self) {
        self.next_pause = (self.next_pause * 2).clamp(1, MAX_PLAIN_INSERT_PAUSE);
        self.paused_for = self.next_pause;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vote(hash: &str, citizen: &str, law: &str) -> Vote {
        Vote::test(hash, citizen, law)
    }

    #[test]
    fn a_vote_is_new_only_if_neither_key_was_seen() {
        let mut keys = RecentKeys::new();
        let first = keys.first_sightings(&[vote("h1", "c1", "l1"), vote("h2", "c2", "l1")]);
        assert_eq!(first, [true, true]);
        let again = keys.first_sightings(&[
            vote("h1", "c9", "l9"), // resend: same hash
            vote("h3", "c2", "l1"), // revote: same citizen and law
            vote("h4", "c1", "l2"), // same citizen, another law: new
            vote("h5", "c5", "l5"),
            vote("h5", "c6", "l6"), // the same hash earlier in the same call
        ]);
        assert_eq!(again, [false, false, true, true, false]);
    }

    #[test]
    fn keys_of_the_previous_generation_are_still_known() {
        let mut keys = RecentKeys::new();
        let votes: Vec<Vote> =
            (0..GENERATION_KEYS / 2 + 1000).map(|i| vote(&format!("h{i}"), &format!("c{i}"), "l")).collect();
        keys.first_sightings(&votes);
        assert!(keys.current.keys < 3000, "the generations rotated: {} keys in the current one", keys.current.keys);
        assert!(keys.current.keys > 0 && keys.previous.keys == GENERATION_KEYS, "each generation counts its keys");
        let again = keys.first_sightings(&votes[..1000]);
        assert!(again.iter().all(|new| !new), "no key of the previous generation is forgotten");
        // Most keys never seen are reported new (a few are false positives).
        let unseen: Vec<Vote> = (0..10_000).map(|i| vote(&format!("x{i}"), &format!("y{i}"), "m")).collect();
        let new = keys.first_sightings(&unseen).iter().filter(|new| **new).count();
        assert!(new > 9_500, "only {new} of 10000 unseen votes reported new");
    }

    #[test]
    fn keys_two_generations_old_are_forgotten() {
        let mut keys = RecentKeys::new();
        let old: Vec<u64> = (0..1_000).collect();
        for key in &old {
            keys.remember(keys.probe(key));
        }
        // Two generations' worth of other keys push the old ones out of both.
        for key in 1_000..(1_000 + 2 * GENERATION_KEYS as u64) {
            keys.remember(keys.probe(key));
        }
        let forgotten = old.iter().filter(|key| keys.remember(keys.probe(key))).count();
        assert!(forgotten > 950, "only {forgotten} of 1000 keys two generations old were forgotten");
    }

    #[test]
    fn plain_inserts_pause_longer_after_each_failure_in_a_row() {
        let mut plain = PlainInserts::new();
        let mut n = 0;
        let mut batch = || {
            n += 1;
            [vote(&format!("h{n}"), &format!("c{n}"), "l")]
        };
        assert_eq!(plain.choose(&batch()), [true]);
        let mut paused = Vec::new();
        for _ in 0..4 {
            plain.failed();
            let mut skipped = 0;
            while plain.choose(&batch()) == [false] {
                skipped += 1;
            }
            paused.push(skipped);
        }
        assert_eq!(paused, [1, 2, 4, 8]);
        plain.succeeded();
        plain.failed();
        let skipped = std::iter::from_fn(|| (plain.choose(&batch()) == [false]).then_some(())).count();
        assert_eq!(skipped, 1, "a success resets the pause");
    }
}
