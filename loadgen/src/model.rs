//! The engine's contract applied in-process: validation of one body and the counting rule over
//! a sequence of bodies. It is the reference the generator's expected totals are checked
//! against, and lets a test count what a queue held without the engine.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::contract::{Choice, MAX_BODY_BYTES, MAX_FIELD_BYTES};
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
    OffsetDateTime::parse(field("timestamp")?, &Rfc3339).ok()?;
    Some(ValidVote {
        vote_hash: field("vote_hash")?.to_owned(),
        citizen_id: field("citizen_id")?.to_owned(),
        law_id: field("law_id")?.to_owned(),
        choice,
    })
}

/// What applying one message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// A new vote, counted.
    Counted,
    /// Same `vote_hash` or same citizen on the same law as a counted vote: not counted.
    Duplicate,
    /// Rejected by validation.
    Invalid,
}

/// The counting rule over messages applied in order: the first of several votes sharing a
/// `vote_hash` or a (citizen, law) pair counts.
#[derive(Debug, Default, Clone)]
pub struct Counter {
    hashes: HashSet<String>,
    voters: HashMap<String, HashSet<String>>,
    /// Totals per law.
    pub laws: BTreeMap<String, LawTotals>,
    /// Votes counted.
    pub counted: u64,
    /// Duplicates seen.
    pub duplicates: u64,
    /// Invalid messages seen.
    pub invalid: u64,
}

impl Counter {
    /// Applies one message body.
    pub fn apply(&mut self, body: &[u8]) -> Outcome {
        let Some(vote) = validate(body) else {
            self.invalid += 1;
            return Outcome::Invalid;
        };
        let voted = self.voters.get(&vote.law_id).is_some_and(|v| v.contains(&vote.citizen_id));
        if voted || self.hashes.contains(&vote.vote_hash) {
            self.duplicates += 1;
            return Outcome::Duplicate;
        }
        self.hashes.insert(vote.vote_hash);
        self.voters.entry(vote.law_id.clone()).or_default().insert(vote.citizen_id);
        let law = self.laws.entry(vote.law_id).or_default();
        match vote.choice {
            Choice::Oui => law.oui += 1,
            Choice::Non => law.non += 1,
        }
        self.counted += 1;
        Outcome::Counted
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
