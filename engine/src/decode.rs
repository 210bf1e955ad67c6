//! Pipeline step 2: a delivery's bytes become validated [`Vote`]s or a [`RejectReason`].
//!
//! Accepted inputs: the seed JSON vote, a `vote.cast` event envelope whose `data` is one, or a
//! `vote.batch` envelope whose `data` is an array of them: each element is then decoded (and
//! refused) on its own, so one bad vote does not cost the others.
//! Every rule of the contract is checked here, so anything that reaches the batcher can be
//! stored; the reasons form a small fixed set so they can be metric labels.

use std::borrow::Cow;

use serde::Deserialize;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Largest accepted message body.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Largest accepted string field, in bytes.
pub const MAX_FIELD_BYTES: usize = 128;
/// Event type of the envelope form.
pub const VOTE_CAST_EVENT: &str = "vote.cast";
/// Event type of the envelope carrying many votes.
pub const VOTE_BATCH_EVENT: &str = "vote.batch";

/// A vote's choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Choice {
    /// Yes.
    Oui,
    /// No.
    Non,
}

impl Choice {
    /// The wire and database spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Choice::Oui => "oui",
            Choice::Non => "non",
        }
    }
}

/// A validated vote, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vote {
    /// Unique id of this vote (first dedup key).
    pub vote_hash: String,
    /// Who voted (with `law_id`, the second dedup key).
    pub citizen_id: String,
    /// What was voted on.
    pub law_id: String,
    /// Yes or no.
    pub choice: Choice,
    /// When the vote was cast (RFC 3339 on the wire).
    pub timestamp: OffsetDateTime,
}

/// The store writes anything that holds a vote (the pipeline's pending deliveries, or bare votes).
impl AsRef<Vote> for Vote {
    fn as_ref(&self) -> &Vote {
        self
    }
}

#[cfg(test)]
impl Vote {
    /// A `oui` vote cast at the epoch, for unit tests.
    pub(crate) fn test(hash: &str, citizen: &str, law: &str) -> Self {
        Self {
            vote_hash: hash.into(),
            citizen_id: citizen.into(),
            law_id: law.into(),
            choice: Choice::Oui,
            timestamp: OffsetDateTime::UNIX_EPOCH,
        }
    }
}

/// Why a message was refused. The set is fixed: these are metric labels and DLQ headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// Body larger than [`MAX_BODY_BYTES`].
    BodyTooLarge,
    /// Body is not UTF-8.
    InvalidUtf8,
    /// Body is not a JSON object.
    InvalidJson,
    /// A field has the wrong JSON type.
    WrongType,
    /// One of the five fields is absent.
    MissingField,
    /// A field is the empty string.
    EmptyField,
    /// A field is longer than [`MAX_FIELD_BYTES`].
    FieldTooLong,
    /// A field contains a NUL character.
    NulByte,
    /// `choice` is neither `oui` nor `non`.
    InvalidChoice,
    /// `timestamp` is not RFC 3339.
    InvalidTimestamp,
    /// An envelope whose `event_type` is neither `vote.cast` nor `vote.batch` (nor `vote.batch`
    /// inside a `vote.batch`).
    UnknownEventType,
    /// The database refused the vote even alone in its transaction (a poison row).
    DbRejected,
}

impl RejectReason {
    /// Every reason, for pre-registering metric series.
    pub const ALL: [RejectReason; 12] = [
        Self::BodyTooLarge,
        Self::InvalidUtf8,
        Self::InvalidJson,
        Self::WrongType,
        Self::MissingField,
        Self::EmptyField,
        Self::FieldTooLong,
        Self::NulByte,
        Self::InvalidChoice,
        Self::InvalidTimestamp,
        Self::UnknownEventType,
        Self::DbRejected,
    ];

    /// Label / header spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BodyTooLarge => "body_too_large",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::InvalidJson => "invalid_json",
            Self::WrongType => "wrong_type",
            Self::MissingField => "missing_field",
            Self::EmptyField => "empty_field",
            Self::FieldTooLong => "field_too_long",
            Self::NulByte => "nul_byte",
            Self::InvalidChoice => "invalid_choice",
            Self::InvalidTimestamp => "invalid_timestamp",
            Self::UnknownEventType => "unknown_event_type",
            Self::DbRejected => "db_rejected",
        }
    }
}

/// A refusal: the fixed reason plus a short human detail (which field) for the DLQ header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The category.
    pub reason: RejectReason,
    /// Which field or what, never the field's value.
    pub detail: &'static str,
}

/// The wire shape: every field optional so that "missing" is told apart from "wrong type".
/// Strings are borrowed unless they contain escapes. Only a JSON object is accepted (see the
/// `Deserialize` impl: a derived one would also take an array of the fields in order).
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow, default)]
    vote_hash: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    citizen_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    law_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    choice: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    event_type: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    data: Option<Data<'a>>,
}

/// An envelope's `data`: one vote (an object) or, for `vote.batch`, the raw elements of an array.
enum Data<'a> {
    One(Box<Wire<'a>>),
    Many(Vec<&'a serde_json::value::RawValue>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Data<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOrArray<'a>(std::marker::PhantomData<Data<'a>>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for ObjectOrArray<'a> {
            type Value = Data<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object or array")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Fields::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(|f| Data::One(Box::new(Wire(f))))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Data::Many(items))
            }
        }
        deserializer.deserialize_any(ObjectOrArray(std::marker::PhantomData))
    }
}

/// What a message carries.
#[derive(Debug, PartialEq, Eq)]
pub enum Decoded<'a> {
    /// One vote: the seed form or a `vote.cast` envelope.
    One(Vote),
    /// A `vote.batch` envelope's votes, each decoded on its own.
    Many(Vec<Part<'a>>),
}

/// One element of a `vote.batch` message.
#[derive(Debug, PartialEq, Eq)]
pub struct Part<'a> {
    /// The element's own bytes: its body when it is dead-lettered alone.
    pub body: &'a [u8],
    /// The vote, or why it is refused.
    pub vote: Result<Vote, Rejection>,
}

/// [`Fields`], read from a JSON object and nothing else.
struct Wire<'a>(Fields<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for Wire<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ObjectOnly<'a>(std::marker::PhantomData<Wire<'a>>);
        impl<'de: 'a, 'a> serde::de::Visitor<'de> for ObjectOnly<'a> {
            type Value = Wire<'a>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                Fields::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(Wire)
            }
        }
        deserializer.deserialize_map(ObjectOnly(std::marker::PhantomData))
    }
}

/// Decodes and validates a message body holding one vote; a `vote.batch` message is refused
/// (its votes are for [`decode_message`]).
pub fn decode(body: &[u8]) -> Result<Vote, Rejection> {
    match decode_message(body)? {
        Decoded::One(vote) => Ok(vote),
        Decoded::Many(_) => Err(Rejection { reason: RejectReason::UnknownEventType, detail: "event_type" }),
    }
}

/// Decodes and validates one message body: one vote, or the votes of a `vote.batch`.
pub fn decode_message(body: &[u8]) -> Result<Decoded<'_>, Rejection> {
    let reject = |reason, detail| Rejection { reason, detail };
    if body.len() > MAX_BODY_BYTES {
        return Err(reject(RejectReason::BodyTooLarge, "body"));
    }
    let text = std::str::from_utf8(body).map_err(|_| reject(RejectReason::InvalidUtf8, "body"))?;
    let Wire(mut wire) = serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => reject(RejectReason::WrongType, "field type"),
        _ => reject(RejectReason::InvalidJson, "body"),
    })?;
    let wrong_type = || reject(RejectReason::WrongType, "field type");
    let (event_type, data) = (wire.event_type.take(), wire.data.take());
    match (event_type.as_deref(), data) {
        (None, Some(Data::Many(_))) => Err(wrong_type()),
        (None, _) => validate(wire),
        (Some(VOTE_CAST_EVENT), Some(Data::One(data))) => validate(data.0),
        (Some(VOTE_CAST_EVENT), Some(Data::Many(_))) => Err(wrong_type()),
        (Some(VOTE_BATCH_EVENT), Some(Data::Many(items))) if !items.is_empty() => Ok(Decoded::Many(
            items
                .into_iter()
                .map(|raw| {
                    let body = raw.get().as_bytes();
                    Part { body, vote: decode(body) }
                })
                .collect(),
        )),
        (Some(VOTE_BATCH_EVENT), Some(Data::Many(_))) => Err(reject(RejectReason::EmptyField, "data")),
        (Some(VOTE_BATCH_EVENT), Some(Data::One(_))) => Err(wrong_type()),
        (Some(VOTE_CAST_EVENT | VOTE_BATCH_EVENT), None) => Err(reject(RejectReason::MissingField, "data")),
        (Some(_), _) => Err(reject(RejectReason::UnknownEventType, "event_type")),
    }
}

/// Checks the five vote fields of `vote` (its envelope fields are not looked at).
fn validate<'b>(vote: Fields<'_>) -> Result<Decoded<'b>, Rejection> {
    let reject = |reason, detail| Rejection { reason, detail };
    let vote_hash = field(vote.vote_hash, "vote_hash")?;
    let citizen_id = field(vote.citizen_id, "citizen_id")?;
    let law_id = field(vote.law_id, "law_id")?;
    let choice = match field(vote.choice, "choice")?.as_ref() {
        "oui" => Choice::Oui,
        "non" => Choice::Non,
        _ => return Err(reject(RejectReason::InvalidChoice, "choice")),
    };
    let timestamp = field(vote.timestamp, "timestamp")?;
    let timestamp =
        OffsetDateTime::parse(&timestamp, &Rfc3339).map_err(|_| reject(RejectReason::InvalidTimestamp, "timestamp"))?;
    Ok(Decoded::One(Vote {
        vote_hash: vote_hash.into_owned(),
        citizen_id: citizen_id.into_owned(),
        law_id: law_id.into_owned(),
        choice,
        timestamp,
    }))
}

fn field<'a>(value: Option<Cow<'a, str>>, name: &'static str) -> Result<Cow<'a, str>, Rejection> {
    let reject = |reason| Rejection { reason, detail: name };
    let value = value.ok_or(reject(RejectReason::MissingField))?;
    if value.is_empty() {
        return Err(reject(RejectReason::EmptyField));
    }
    if value.len() > MAX_FIELD_BYTES {
        return Err(reject(RejectReason::FieldTooLong));
    }
    if value.contains('\0') {
        return Err(reject(RejectReason::NulByte));
    }
    Ok(value)
}

/// Encodes a vote in the seed JSON format (what producers send; used by tests and tools).
pub fn encode(vote: &Vote) -> Vec<u8> {
    let timestamp = vote.timestamp.format(&Rfc3339).unwrap_or_default();
    serde_json::to_vec(&serde_json::json!({
        "vote_hash": vote.vote_hash,
        "citizen_id": vote.citizen_id,
        "law_id": vote.law_id,
        "choice": vote.choice.as_str(),
        "timestamp": timestamp,
    }))
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"{"vote_hash":"abc123","citizen_id":"citizen-123","law_id":"law-001","choice":"oui","timestamp":"2025-11-14T12:00:00Z"}"#;

    fn reason(body: &[u8]) -> RejectReason {
        decode(body).unwrap_err().reason
    }

    #[test]
    fn accepts_the_seed_format() {
        let v = decode(GOOD.as_bytes()).unwrap();
        assert_eq!(v.vote_hash, "abc123");
        assert_eq!(v.citizen_id, "citizen-123");
        assert_eq!(v.law_id, "law-001");
        assert_eq!(v.choice, Choice::Oui);
        assert_eq!(v.timestamp.unix_timestamp(), 1_763_121_600);
    }

    #[test]
    fn accepts_a_vote_cast_envelope() {
        let env = format!(
            r#"{{"event_type":"vote.cast","event_version":1,"event_id":"e1","timestamp":"2025-11-14T12:00:00Z","producer":"p","data":{GOOD}}}"#
        );
        assert_eq!(decode(env.as_bytes()).unwrap(), decode(GOOD.as_bytes()).unwrap());
        let other = env.replace("vote.cast", "meeting.created");
        assert_eq!(reason(other.as_bytes()), RejectReason::UnknownEventType);
        let empty = r#"{"event_type":"vote.cast","data":{}}"#;
        assert_eq!(reason(empty.as_bytes()), RejectReason::MissingField);
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let body = GOOD.replace("citizen-123", r"citizen-\u00e9");
        assert_eq!(decode(body.as_bytes()).unwrap().citizen_id, "citizen-é");
    }

    #[test]
    fn each_rule_has_its_reason() {
        let cases: Vec<(Vec<u8>, RejectReason)> = vec![
            (b"{not json".to_vec(), RejectReason::InvalidJson),
            (b"[1,2]".to_vec(), RejectReason::WrongType),
            (br#"["h","c","l","oui","2025-11-14T12:00:00Z"]"#.to_vec(), RejectReason::WrongType),
            (
                br#"{"event_type":"vote.cast","data":["h","c","l","oui","2025-11-14T12:00:00Z"]}"#.to_vec(),
                RejectReason::WrongType,
            ),
            (b"\"just a string\"".to_vec(), RejectReason::WrongType),
            (vec![b'{', 0xff, b'}'], RejectReason::InvalidUtf8),
            (GOOD.replace(r#""oui""#, "1").into_bytes(), RejectReason::WrongType),
            (GOOD.replace(r#""law_id":"law-001","#, "").into_bytes(), RejectReason::MissingField),
            (GOOD.replace("citizen-123", "").into_bytes(), RejectReason::EmptyField),
            (GOOD.replace("abc123", &"x".repeat(129)).into_bytes(), RejectReason::FieldTooLong),
            (GOOD.replace("abc123", r"ab\u0000c").into_bytes(), RejectReason::NulByte),
            (GOOD.replace(r#""oui""#, r#""maybe""#).into_bytes(), RejectReason::InvalidChoice),
            (GOOD.replace(r#""oui""#, r#""OUI""#).into_bytes(), RejectReason::InvalidChoice),
            (GOOD.replace("2025-11-14T12:00:00Z", "yesterday").into_bytes(), RejectReason::InvalidTimestamp),
            (GOOD.replace("2025-11-14T12:00:00Z", "2025-13-14T12:00:00Z").into_bytes(), RejectReason::InvalidTimestamp),
            (format!(r#"{{"pad":"{}"}}"#, "x".repeat(MAX_BODY_BYTES)).into_bytes(), RejectReason::BodyTooLarge),
        ];
        for (body, expected) in cases {
            assert_eq!(reason(&body), expected, "{}", String::from_utf8_lossy(&body));
        }
    }

    #[test]
    fn limits_are_inclusive() {
        let body = GOOD.replace("abc123", &"x".repeat(MAX_FIELD_BYTES));
        assert!(decode(body.as_bytes()).is_ok());
    }

    #[test]
    fn encode_round_trips() {
        let v = decode(GOOD.as_bytes()).unwrap();
        assert_eq!(decode(&encode(&v)).unwrap(), v);
    }

    #[test]
    fn a_body_of_exactly_64_kib_is_accepted_one_byte_more_is_not() {
        let pad = |n: usize| format!("{}{}", " ".repeat(n - GOOD.len()), GOOD).into_bytes();
        assert_eq!(MAX_BODY_BYTES, 65_536);
        assert!(decode(&pad(MAX_BODY_BYTES)).is_ok());
        assert_eq!(reason(&pad(MAX_BODY_BYTES + 1)), RejectReason::BodyTooLarge);
    }

    #[test]
    fn reasons_have_their_contract_spelling() {
        let labels: Vec<&str> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(
            labels,
            [
                "body_too_large",
                "invalid_utf8",
                "invalid_json",
                "wrong_type",
                "missing_field",
                "empty_field",
                "field_too_long",
                "nul_byte",
                "invalid_choice",
                "invalid_timestamp",
                "unknown_event_type",
                "db_rejected",
            ]
        );
    }

    #[test]
    fn non_is_the_other_choice() {
        let v = decode(GOOD.replace(r#""oui""#, r#""non""#).as_bytes()).unwrap();
        assert_eq!(v.choice, Choice::Non);
        assert_eq!(decode(&encode(&v)).unwrap(), v);
    }

    #[test]
    fn a_vote_batch_decodes_each_vote_on_its_own_with_its_own_bytes() {
        let bad = GOOD.replace(r#""oui""#, r#""maybe""#);
        let cast = format!(r#"{{"event_type":"vote.cast","data":{GOOD}}}"#);
        let body = format!(r#"{{"event_type":"vote.batch","data":[{GOOD}, {bad},{cast}]}}"#);
        let Ok(Decoded::Many(parts)) = decode_message(body.as_bytes()) else { panic!("a batch") };
        let bodies: Vec<&[u8]> = parts.iter().map(|p| p.body).collect();
        assert_eq!(bodies, [GOOD.as_bytes(), bad.as_bytes(), cast.as_bytes()]);
        assert_eq!(parts[0].vote, decode(GOOD.as_bytes()));
        assert_eq!(parts[1].vote.as_ref().map_err(|r| r.reason), Err(RejectReason::InvalidChoice));
        assert_eq!(parts[2].vote, decode(GOOD.as_bytes()));
        assert_eq!(decode(body.as_bytes()).map_err(|r| r.reason), Err(RejectReason::UnknownEventType));
        assert_eq!(decode_message(GOOD.as_bytes()), Ok(Decoded::One(decode(GOOD.as_bytes()).unwrap())));
    }

    #[test]
    fn a_vote_batch_must_carry_an_array_of_votes() {
        let reason = |body: String| decode_message(body.as_bytes()).map_err(|r| r.reason).err();
        let batch = |data: &str| format!(r#"{{"event_type":"vote.batch","data":{data}}}"#);
        assert_eq!(reason(batch("[]")), Some(RejectReason::EmptyField));
        assert_eq!(reason(batch(GOOD)), Some(RejectReason::WrongType));
        assert_eq!(reason(batch("7")), Some(RejectReason::WrongType));
        assert_eq!(reason(r#"{"event_type":"vote.batch"}"#.to_owned()), Some(RejectReason::MissingField));
        assert_eq!(reason(format!(r#"{{"event_type":"vote.cast","data":[{GOOD}]}}"#)), Some(RejectReason::WrongType));
        let bare_with_array = GOOD.replace(r#""oui","#, r#""oui","data":[1],"#);
        assert_eq!(reason(bare_with_array), Some(RejectReason::WrongType));
        // A batch inside a batch is one refused vote, not a deeper batch.
        let nested = batch(&format!("[{}]", batch(&format!("[{GOOD}]"))));
        let Ok(Decoded::Many(parts)) = decode_message(nested.as_bytes()) else { panic!("a batch") };
        assert_eq!(parts[0].vote.as_ref().map_err(|r| r.reason), Err(RejectReason::UnknownEventType));
    }
}
