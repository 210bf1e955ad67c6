//! The engine's contract applied in-process: validation of one body and the counting rule over
//! a set of bodies. It is the reference the generator's expected totals are checked
//! against, and lets a test count what a queue held without the engine.

use std::collections::{BTreeMap, HashSet};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::contract::{Choice, MAX_BODY_BYTES, MAX_FIELD_BYTES, RevoteRule};
use crate::expected::LawTotals;

/// A vote that passed validation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidVote {
    /// First dedup key.
    pub vote_hash: String,
    /// With `law_id`, the second dedup key.
    pub citizen_id: String,
    /// The law.
    pub law_id: String,
    /// The choice.
    pub choice: Choice,
    /// The vote's `timestamp` in microseconds since the Unix epoch (PostgreSQL's precision).
    pub timestamp_micros: i64,
}

/// Validates one body by the contract's rules: the seed JSON vote or a `vote.cast` envelope
/// around one; all five fields strings, non-empty, at most 128 bytes, no NUL; choice `oui` or
/// `non`; timestamp RFC 3339; body at most 64 KiB and UTF-8. `None` means invalid.
pub fn validate(body: &[u8]) -> Option<ValidVote> {
    if body.len() > MAX_BODY_BYTES {
        return None;
    }
    let value: Value = serde_json::from_slice(body).ok()?;
    let object = value.as_object()?;
    let vote = match object.get("event_type") {
        None | Some(Value::Null) => object,
        Some(Value::String(kind)) if kind == "vote.cast" => object.get("data")?.as_object()?,
        Some(_) => return None,
    };
    let field = |name: &str| -> Option<&str> {
        let text = vote.get(name)?.as_str()?;
        let ok = !text.is_empty() && text.len() <= MAX_FIELD_BYTES && !text.contains('\0');
        ok.then_some(text)
    };
    let choice = match field("choice")? {
        "oui" => Choice::Oui,
        "non" => Choice::Non,
        _ => return None,
    };
    let timestamp = OffsetDateTime::parse(field("timestamp")?, &Rfc3339).ok()?;
    Some(ValidVote {
        timestamp_micros: timestamp.unix_timestamp_nanos().div_euclid(1000) as i64,
        vote_hash: field("vote_hash")?.to_owned(),
        citizen_id: field("citizen_id")?.to_owned(),
        law_id: field("law_id")?.to_owned(),
        choice,
    })
}

/// The counting rule over a set of bodies (docs/contract.md, "Counting rule"): valid votes are
/// ranked by the [`RevoteRule`], and going down the ranking a vote counts when no vote counted
/// before it shares its `vote_hash` or its (`law_id`, `citizen_id`). The result depends on the
/// set of bodies applied, never on their order.
#[derive(Debug, Default, Clone)]
pub struct Counter {
    rule: RevoteRule,
    votes: Vec<ValidVote>,
    /// Invalid messages seen.
    pub invalid: u64,
}

/// What a [`Counter`] counted.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Counted {
    /// Totals per law.
    pub laws: BTreeMap<String, LawTotals>,
    /// Votes counted.
    pub counted: u64,
    /// Valid deliveries not counted: resends, copies and the votes that lost to a conflicting one.
    pub duplicates: u64,
}

impl Counter {
    /// A counter ranking conflicting votes by `rule`.
    pub fn new(rule: RevoteRule) -> Self {
        Self { rule, ..Self::default() }
    }

    /// Applies one message body; `false` when it is invalid.
    pub fn apply(&mut self, body: &[u8]) -> bool {
        match validate(body) {
            Some(vote) => {
                self.votes.push(vote);
                true
            }
            None => {
                self.invalid += 1;
                false
            }
        }
    }

    /// The totals of every valid body applied so far.
    pub fn count(&self) -> Counted {
        let mut ranked: Vec<&ValidVote> = self.votes.iter().collect();
        ranked.sort_by(|a, b| {
            let by_time = match self.rule {
                RevoteRule::First => a.timestamp_micros.cmp(&b.timestamp_micros),
                RevoteRule::Last => b.timestamp_micros.cmp(&a.timestamp_micros),
            };
            by_time
                .then_with(|| a.vote_hash.as_bytes().cmp(b.vote_hash.as_bytes()))
                .then_with(|| a.law_id.as_bytes().cmp(b.law_id.as_bytes()))
                .then_with(|| a.citizen_id.as_bytes().cmp(b.citizen_id.as_bytes()))
                .then_with(|| a.choice.as_str().cmp(b.choice.as_str()))
        });
        let mut hashes = HashSet::new();
        let mut voters = HashSet::new();
        let mut out = Counted::default();
        for vote in ranked {
            if hashes.contains(vote.vote_hash.as_str())
                || voters.contains(&(vote.law_id.as_str(), vote.citizen_id.as_str()))
            {
                out.duplicates += 1;
                continue;
            }
            hashes.insert(vote.vote_hash.as_str());
            voters.insert((vote.law_id.as_str(), vote.citizen_id.as_str()));
            let law = out.laws.entry(vote.law_id.clone()).or_default();
            match vote.choice {
                Choice::Oui => law.oui += 1,
                Choice::Non => law.non += 1,
            }
            out.counted += 1;
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A valid vote padded with spaces to `len` bytes (JSON allows whitespace anywhere).
    fn padded(len: usize) -> Vec<u8> {
        let mut body =
            br#"{"vote_hash":"h","citizen_id":"c","law_id":"l","choice":"oui","timestamp":"2026-01-01T00:00:00Z"}"#
                .to_vec();
        body.resize(len, b' ');
        body
    }

    #[test]
    fn a_body_of_exactly_64_kib_is_valid_and_one_byte_more_is_not() {
        assert!(validate(&padded(MAX_BODY_BYTES)).is_some());
        assert!(validate(&padded(MAX_BODY_BYTES + 1)).is_none());
    }
}
