//! Promise: validation is total and faithful. `decode` never panics, whatever the bytes; what it
//! accepts obeys every rule and survives a round trip through `encode`; every valid vote is
//! accepted, bare or in a `vote.cast` envelope; and breaking one rule gives that rule's reason.

use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use serde_json::{Value, json};
use time::format_description::well_known::Rfc3339;
use time::{OffsetDateTime, UtcOffset};
use vote_engine::decode::{Choice, MAX_FIELD_BYTES, RejectReason, Vote, decode, encode};

const FIELDS: [&str; 5] = ["vote_hash", "citizen_id", "law_id", "choice", "timestamp"];

/// The longest prefix of `s` of at most `max` bytes that ends on a character boundary.
fn clip(mut s: String, max: usize) -> String {
    while s.len() > max {
        s.pop();
    }
    s
}

/// A valid string field: 1 to 128 bytes of any characters but NUL.
fn field() -> impl Strategy<Value = String> {
    "[^\u{0}]{1,64}".prop_map(|s| clip(s, MAX_FIELD_BYTES))
}

/// Any instant RFC 3339 can write (years 0001-9999), to the nanosecond, at any whole-minute
/// offset.
fn timestamp() -> impl Strategy<Value = OffsetDateTime> {
    let (first, last): (i64, i64) = (-62_135_596_800 + 86_400, 253_402_300_799 - 86_400);
    (first..=last, 0u32..1_000_000_000, -1439i32..=1439).prop_map(|(seconds, nanos, minutes)| {
        let offset = UtcOffset::from_whole_seconds(minutes * 60).expect("within a day");
        OffsetDateTime::from_unix_timestamp(seconds)
            .and_then(|t| t.replace_nanosecond(nanos))
            .expect("in range")
            .to_offset(offset)
    })
}

fn vote() -> impl Strategy<Value = Vote> {
    (field(), field(), field(), prop_oneof![Just(Choice::Oui), Just(Choice::Non)], timestamp()).prop_map(
        |(vote_hash, citizen_id, law_id, choice, timestamp)| Vote { vote_hash, citizen_id, law_id, choice, timestamp },
    )
}

fn as_object(vote: &Vote) -> serde_json::Map<String, Value> {
    match serde_json::from_slice(&encode(vote)) {
        Ok(Value::Object(map)) => map,
        other => panic!("encode wrote {other:?}"),
    }
}

/// Any JSON value, nested a few levels, with the vote's keys likely to appear in objects.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(Value::from),
        ".{0,140}".prop_map(Value::String),
        prop_oneof![Just("oui"), Just("non"), Just("vote.cast"), Just("2025-11-14T12:00:00Z")]
            .prop_map(|s| Value::String(s.to_owned())),
    ];
    leaf.prop_recursive(4, 32, 8, |inner| {
        let key = prop_oneof![
            prop::sample::select(FIELDS.to_vec()).prop_map(str::to_owned),
            Just("event_type".to_owned()),
            Just("data".to_owned()),
            "[a-z_]{1,12}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(key, inner, 0..8).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Checks what every accepted vote must satisfy, and that it round-trips.
fn accepted_vote_is_sound(vote: &Vote) -> Result<(), TestCaseError> {
    for value in [&vote.vote_hash, &vote.citizen_id, &vote.law_id] {
        prop_assert!(!value.is_empty() && value.len() <= MAX_FIELD_BYTES && !value.contains('\0'), "{value:?}");
    }
    prop_assert!(vote.timestamp.format(&Rfc3339).is_ok(), "unwritable timestamp {}", vote.timestamp);
    prop_assert_eq!(decode(&encode(vote)), Ok(vote.clone()));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1024,
        // Failing inputs are kept beside this file (`decode_props.proptest-regressions`).
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("proptest-regressions"))),
        ..ProptestConfig::default()
    })]

    #[test]
    fn no_bytes_make_decode_panic(body in prop::collection::vec(any::<u8>(), 0..2048)) {
        if let Ok(vote) = decode(&body) {
            accepted_vote_is_sound(&vote)?;
        }
    }

    #[test]
    fn no_json_like_text_makes_decode_panic(body in r#"[{}\[\]":,. a-z_0-9\\-]{0,400}"#) {
        if let Ok(vote) = decode(body.as_bytes()) {
            accepted_vote_is_sound(&vote)?;
        }
    }

    #[test]
    fn no_json_value_makes_decode_panic(value in json_value()) {
        let body = serde_json::to_vec(&value).expect("serializes");
        if let Ok(vote) = decode(&body) {
            accepted_vote_is_sound(&vote)?;
        }
    }

    #[test]
    fn no_damage_to_a_valid_body_makes_decode_panic(
        vote in vote(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 1..8),
    ) {
        let mut body = encode(&vote);
        for (at, byte, kind) in edits {
            let i = at.index(body.len() + 1);
            match kind {
                0 => body.insert(i, byte),
                1 if i < body.len() => { body.remove(i); }
                _ if i < body.len() => body[i] = byte,
                _ => body.push(byte),
            }
        }
        if let Ok(vote) = decode(&body) {
            accepted_vote_is_sound(&vote)?;
        }
    }

    #[test]
    fn every_valid_vote_is_accepted_and_round_trips(vote in vote()) {
        let body = encode(&vote);
        prop_assert_eq!(decode(&body), Ok(vote.clone()));
        let envelope = format!(
            r#"{{"event_type":"vote.cast","event_version":1,"event_id":"e","producer":"p","data":{}}}"#,
            String::from_utf8(body).expect("encode writes UTF-8")
        );
        prop_assert_eq!(decode(envelope.as_bytes()), Ok(vote));
    }

    #[test]
    fn breaking_one_rule_gives_its_reason(
        vote in vote(),
        which in 0..FIELDS.len(),
        rule in 0u8..5,
        filler in "[^\u{0}]{129,200}",
        at in any::<prop::sample::Index>(),
        other in prop_oneof![Just(json!(7)), Just(json!(false)), Just(json!([])), Just(json!({}))],
    ) {
        let field = FIELDS[which];
        let mut object = as_object(&vote);
        let original = object[field].as_str().expect("a string field").to_owned();
        let expected = match rule {
            0 => { object.insert(field.to_owned(), json!("")); RejectReason::EmptyField }
            1 => { object.insert(field.to_owned(), json!(filler)); RejectReason::FieldTooLong }
            2 => {
                let mut value = clip(original, MAX_FIELD_BYTES - 1);
                let mut i = at.index(value.len() + 1);
                while !value.is_char_boundary(i) { i -= 1; }
                value.insert(i, '\0');
                object.insert(field.to_owned(), json!(value));
                RejectReason::NulByte
            }
            3 => { object.remove(field); RejectReason::MissingField }
            _ => { object.insert(field.to_owned(), other); RejectReason::WrongType }
        };
        let body = serde_json::to_vec(&object).expect("serializes");
        prop_assert_eq!(decode(&body).map_err(|r| r.reason), Err(expected));
    }

    #[test]
    fn any_other_choice_is_refused(choice in "[^\u{0}]{1,20}") {
        prop_assume!(choice != "oui" && choice != "non");
        let body = json!({"vote_hash": "h", "citizen_id": "c", "law_id": "l", "choice": choice, "timestamp": "2025-11-14T12:00:00Z"});
        let body = serde_json::to_vec(&body).expect("serializes");
        prop_assert_eq!(decode(&body).map_err(|r| r.reason), Err(RejectReason::InvalidChoice));
    }

    #[test]
    fn any_timestamp_that_is_not_rfc3339_is_refused(ts in "[0-9T:.Z+ tz-]{1,40}|[^\u{0}]{1,40}") {
        prop_assume!(OffsetDateTime::parse(&ts, &Rfc3339).is_err());
        let body = json!({"vote_hash": "h", "citizen_id": "c", "law_id": "l", "choice": "oui", "timestamp": ts});
        let body = serde_json::to_vec(&body).expect("serializes");
        prop_assert_eq!(decode(&body).map_err(|r| r.reason), Err(RejectReason::InvalidTimestamp));
    }
}
