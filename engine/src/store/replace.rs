//! Replacing counted votes: the path a batch takes only when one of its votes ranks before a
//! counted vote it conflicts with ([`crate::rule`]). Inside the batch's transaction it locks the
//! counted votes around the newcomers, reads the votes recorded as not counted around them,
//! grows that set through every key they share until it is closed, decides the whole set by the
//! rule again and writes the difference: audit rows out and in, each law's counts moved, the
//! votes that no longer count recorded, and the reasons of recorded votes brought up to date.
//!
//! A key another writer takes between the reading and the writing leaves a vote out of the
//! insert; the attempt then fails as a conflict ([`StoreError::Raced`]) and the batch is
//! written again from the start.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use deadpool_postgres::Transaction;
use time::OffsetDateTime;
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::error::StoreError;
use super::{BatchOutcome, LawCounts};
use crate::decode::{Choice, Vote};
use crate::rule::{RevoteRule, decide, reason};

/// Replacing counted votes, step 1: the counted votes with the keys, locked for the
/// replacement. Writers that checked their votes not counted against one of these rows hold it
/// (FOR KEY SHARE) until they commit, so their records are visible once this returns.
const LOCK_VOTES: &str =
    concat!(include_str!("../../../sql/engine/queries/counted_votes_with_keys.sql"), "FOR UPDATE\n");
const DUPLICATES_OF: &str = include_str!("../../../sql/engine/queries/replace/duplicates_of.sql");
const REMOVE_VOTES: &str = include_str!("../../../sql/engine/queries/replace/remove_votes.sql");
const ADD_VOTES: &str = include_str!("../../../sql/engine/queries/replace/add_votes.sql");
const ADJUST_RESULTS: &str = include_str!("../../../sql/engine/queries/replace/adjust_results.sql");
const SET_REASONS: &str = include_str!("../../../sql/engine/queries/replace/set_reasons.sql");
const RECORD_DUPLICATES: &str = include_str!("../../../sql/engine/queries/record_duplicates.sql");

/// Rounds of growing the set of conflicting votes before giving up on it as a conflict.
const MAX_ROUNDS: usize = 64;

/// The keys of a set of votes.
#[derive(Default)]
struct Keys {
    hashes: BTreeSet<String>,
    pairs: BTreeSet<(String, String)>,
}

impl Keys {
    /// Adds `vote`'s keys; whether one was new.
    fn add(&mut self, vote: &Vote) -> bool {
        let hash = self.hashes.insert(vote.vote_hash.clone());
        let pair = self.pairs.insert((vote.law_id.clone(), vote.citizen_id.clone()));
        hash || pair
    }

    /// Vote hashes, law ids, citizen ids.
    fn columns(&self) -> [Vec<&str>; 3] {
        let hashes = self.hashes.iter().map(String::as_str).collect();
        let laws = self.pairs.iter().map(|(l, _)| l.as_str()).collect();
        let citizens = self.pairs.iter().map(|(_, c)| c.as_str()).collect();
        [hashes, laws, citizens]
    }
}

/// The parameters of a lookup by keys (vote hashes, law ids, citizen ids), typed so
/// that the query runs as an unnamed statement, planned for these keys on each call. A named
/// statement may keep a generic plan made after a few calls, and profiles caught that plan
/// scanning all of `vote_audit` once it had grown (docs/decisions/031).
pub(super) fn key_params<'a>(keys: &'a [Vec<&'a str>; 3]) -> [(&'a (dyn ToSql + Sync), Type); 3] {
    let [hashes, laws, citizens] = keys;
    [(hashes, Type::TEXT_ARRAY), (laws, Type::TEXT_ARRAY), (citizens, Type::TEXT_ARRAY)]
}

/// A vote read back from `vote_audit` or `duplicate_attempts` (columns vote_hash, citizen_id,
/// law_id, choice, timestamp, by name).
pub(super) fn vote_of(row: &Row) -> Vote {
    let choice: &str = row.get("choice");
    Vote {
        vote_hash: row.get("vote_hash"),
        citizen_id: row.get("citizen_id"),
        law_id: row.get("law_id"),
        choice: if choice == "oui" { Choice::Oui } else { Choice::Non },
        timestamp: row.get::<_, OffsetDateTime>("timestamp"),
    }
}

/// Column arrays of votes, as the statements take them.
pub(super) struct VoteColumns<'a> {
    pub(super) hashes: Vec<&'a str>,
    pub(super) citizens: Vec<&'a str>,
    pub(super) laws: Vec<&'a str>,
    pub(super) choices: Vec<&'static str>,
    pub(super) timestamps: Vec<OffsetDateTime>,
}

impl<'a> VoteColumns<'a> {
    pub(super) fn new(votes: &[&'a Vote]) -> Self {
        Self {
            hashes: votes.iter().map(|v| v.vote_hash.as_str()).collect(),
            citizens: votes.iter().map(|v| v.citizen_id.as_str()).collect(),
            laws: votes.iter().map(|v| v.law_id.as_str()).collect(),
            choices: votes.iter().map(|v| v.choice.as_str()).collect(),
            timestamps: votes.iter().map(|v| v.timestamp).collect(),
        }
    }
}

/// Decides `newcomers` (votes of this batch that rank before a counted vote they conflict with)
/// together with every vote they are tied to, and writes the difference in `tx`. Returns what
/// changed: votes added and removed per law, new totals, records made per reason.
pub(super) async fn replace(
    tx: &Transaction<'_>,
    rule: RevoteRule,
    newcomers: &[&Vote],
) -> Result<BatchOutcome, StoreError> {
    let mut keys = Keys::default();
    for vote in newcomers {
        keys.add(vote);
    }
    let (mut counted, mut recorded) = (Vec::new(), Vec::new());
    for round in 0.. {
        if round == MAX_ROUNDS {
            return Err(StoreError::Raced("the conflicting votes did not settle"));
        }
        let columns = keys.columns();
        let params = key_params(&columns);
        counted = tx.query_typed(LOCK_VOTES, &params).await?.iter().map(vote_of).collect::<Vec<Vote>>();
        recorded = tx
            .query_typed(DUPLICATES_OF, &params)
            .await?
            .iter()
            .map(|r| (r.get::<_, i64>("id"), vote_of(r), r.get::<_, String>("reason")))
            .collect::<Vec<_>>();
        let mut grew = false;
        for vote in counted.iter().chain(recorded.iter().map(|(_, v, _)| v)) {
            grew |= keys.add(vote);
        }
        if !grew {
            break;
        }
    }

    // Newcomers first: a newcomer equal to a recorded vote is the copy that counts.
    let all: Vec<&Vote> = newcomers.iter().copied().chain(&counted).chain(recorded.iter().map(|(_, v, _)| v)).collect();
    let decision = decide(rule, &all);
    let chosen: Vec<&Vote> = all.iter().zip(&decision).filter(|(_, c)| **c).map(|(v, _)| *v).collect();
    let is_chosen = |v: &Vote| chosen.iter().any(|c| rule.rank(c, v).is_eq());
    let was_counted = |v: &Vote| counted.iter().any(|c| rule.rank(c, v).is_eq());
    let removed: Vec<&Vote> = counted.iter().filter(|v| !is_chosen(v)).collect();
    let added: Vec<&Vote> = chosen.iter().copied().filter(|v| !was_counted(v)).collect();
    let counted_hashes: HashSet<&str> = chosen.iter().map(|v| v.vote_hash.as_str()).collect();

    let mut outcome = BatchOutcome::default();
    if !removed.is_empty() {
        let hashes: Vec<&str> = removed.iter().map(|v| v.vote_hash.as_str()).collect();
        let gone = tx.query(REMOVE_VOTES, &[&hashes]).await?.len();
        if gone != removed.len() {
            return Err(StoreError::Raced("a counted vote changed while it was being replaced"));
        }
    }
    if !added.is_empty() {
        let c = VoteColumns::new(&added);
        let inserted = tx.query(ADD_VOTES, &[&c.hashes, &c.citizens, &c.laws, &c.choices, &c.timestamps]).await?.len();
        if inserted != added.len() {
            return Err(StoreError::Raced("another writer took a key of a vote being counted"));
        }
    }

    // Every newcomer that is not the counted copy, and every vote removed, is a new record.
    let mut records: Vec<&Vote> = removed.clone();
    for (i, vote) in newcomers.iter().enumerate() {
        if !decision[i] {
            records.push(vote);
        }
    }
    if !records.is_empty() {
        let c = VoteColumns::new(&records);
        let reasons: Vec<&str> = records.iter().map(|v| reason(v, &counted_hashes)).collect();
        let record_duplicates = tx.prepare_cached(RECORD_DUPLICATES).await?;
        let rows = tx
            .query(&record_duplicates, &[&c.hashes, &c.citizens, &c.laws, &c.choices, &c.timestamps, &reasons])
            .await?;
        outcome.duplicates = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    }
    let (ids, reasons): (Vec<i64>, Vec<&str>) = recorded
        .iter()
        .map(|(id, vote, was)| (*id, was, reason(vote, &counted_hashes)))
        .filter(|(_, was, now)| was.as_str() != *now)
        .map(|(id, _, now)| (id, now))
        .unzip();
    if !ids.is_empty() {
        tx.execute(SET_REASONS, &[&ids, &reasons]).await?;
    }

    outcome.added = per_law(&added);
    outcome.replaced = per_law(&removed);
    let mut moves: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for (sign, votes) in [(1, &added), (-1, &removed)] {
        for vote in votes.iter() {
            let entry = moves.entry(vote.law_id.as_str()).or_default();
            match vote.choice {
                Choice::Oui => entry.0 += sign,
                Choice::Non => entry.1 += sign,
            }
        }
    }
    moves.retain(|_, m| *m != (0, 0));
    if !moves.is_empty() {
        let laws: Vec<&str> = moves.keys().copied().collect();
        let oui: Vec<i64> = moves.values().map(|m| m.0).collect();
        let non: Vec<i64> = moves.values().map(|m| m.1).collect();
        let rows = tx.query(ADJUST_RESULTS, &[&laws, &oui, &non]).await?;
        outcome.totals = rows.iter().map(|r| LawCounts { law_id: r.get(0), oui: r.get(1), non: r.get(2) }).collect();
    }
    Ok(outcome)
}

/// Votes per law and choice.
fn per_law(votes: &[&Vote]) -> Vec<LawCounts> {
    let mut laws: BTreeMap<&str, (i64, i64)> = BTreeMap::new();
    for vote in votes {
        let entry = laws.entry(vote.law_id.as_str()).or_default();
        match vote.choice {
            Choice::Oui => entry.0 += 1,
            Choice::Non => entry.1 += 1,
        }
    }
    laws.into_iter().map(|(law, (oui, non))| LawCounts { law_id: law.to_owned(), oui, non }).collect()
}
