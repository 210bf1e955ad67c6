//! A request's vote becomes the engine's vote: the citizen, the law, the choice, the receipt
//! as `vote_hash` and the time it arrived, encoded and then checked by the engine's own
//! decoder, so the intake accepts exactly what the engine counts (the limits are the engine's,
//! defined once in `vote_engine::decode`).

use time::OffsetDateTime;
use vote_engine::decode::{self, Choice, RejectReason, Vote};

use crate::receipt::ReceiptKey;

/// A vote ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The receipt (the vote's `vote_hash`).
    pub receipt: String,
    /// The receipt the same citizen's other choice on this law would have: if that one is
    /// counted, this vote is a change of mind (409).
    pub other_receipt: String,
    /// The law.
    pub law_id: String,
    /// The vote in the engine's JSON form.
    pub json: Vec<u8>,
}

/// Builds `citizen`'s vote `choice` on `law_id` cast `at`; `Err` is the 400 message, naming the
/// field and never quoting its value.
pub fn prepare(
    key: &ReceiptKey,
    citizen: &str,
    law_id: &str,
    choice: &str,
    at: OffsetDateTime,
) -> Result<Prepared, String> {
    let choice = match choice {
        "oui" => Choice::Oui,
        "non" => Choice::Non,
        _ => return Err("'choice' must be \"oui\" or \"non\"".to_owned()),
    };
    let other = match choice {
        Choice::Oui => Choice::Non,
        Choice::Non => Choice::Oui,
    };
    let vote = Vote {
        vote_hash: key.receipt(citizen, law_id, choice),
        citizen_id: citizen.to_owned(),
        law_id: law_id.to_owned(),
        choice,
        timestamp: at,
    };
    let json = decode::encode(&vote);
    // The engine's own check of what it will receive.
    if let Err(rejection) = decode::decode(&json) {
        let field = match rejection.detail {
            "citizen_id" => "the citizen id (the token's subject)",
            "law_id" => "'law_id'",
            other => other,
        };
        return Err(match rejection.reason {
            RejectReason::EmptyField => format!("{field} must not be empty"),
            RejectReason::FieldTooLong => {
                format!("{field} must be at most {} bytes", decode::MAX_FIELD_BYTES)
            }
            RejectReason::NulByte => format!("{field} must not contain a NUL character"),
            _ => format!("{field} is not acceptable"),
        });
    }
    Ok(Prepared {
        other_receipt: key.receipt(citizen, law_id, other),
        receipt: vote.vote_hash,
        law_id: vote.law_id,
        json,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> ReceiptKey {
        ReceiptKey::new(&[7; 32])
    }

    #[test]
    fn a_valid_vote_is_the_engines_vote() {
        let at = OffsetDateTime::from_unix_timestamp(1_763_121_600).unwrap();
        let p = prepare(&key(), "alice", "law-1", "non", at).unwrap();
        let vote = decode::decode(&p.json).unwrap();
        assert_eq!(vote.vote_hash, p.receipt);
        assert_eq!((vote.citizen_id.as_str(), vote.law_id.as_str(), vote.choice), ("alice", "law-1", Choice::Non));
        assert_eq!(vote.timestamp, at);
        assert_eq!(p.receipt, key().receipt("alice", "law-1", Choice::Non));
        assert_eq!(p.other_receipt, key().receipt("alice", "law-1", Choice::Oui));
    }

    #[test]
    fn what_the_engine_refuses_is_refused_naming_the_field() {
        let now = OffsetDateTime::now_utc();
        let long = "l".repeat(decode::MAX_FIELD_BYTES + 1);
        for (citizen, law, choice, expected) in [
            ("alice", "", "oui", "'law_id' must not be empty"),
            ("alice", long.as_str(), "oui", "'law_id' must be at most 128 bytes"),
            ("alice", "a\0b", "oui", "'law_id' must not contain a NUL"),
            (long.as_str(), "law", "oui", "the citizen id (the token's subject) must be at most"),
            ("alice", "law", "maybe", "'choice' must be"),
            ("alice", "law", "OUI", "'choice' must be"),
        ] {
            let message = prepare(&key(), citizen, law, choice, now).unwrap_err();
            assert!(message.starts_with(expected), "{message}");
            assert!(!message.contains(&long), "{message}");
        }
        let at_limit = "l".repeat(decode::MAX_FIELD_BYTES);
        assert!(prepare(&key(), &at_limit, &at_limit, "oui", now).is_ok());
    }
}
