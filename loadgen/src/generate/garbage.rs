//! Garbage: messages that each break one rule of the engine's contract, with a citizen no valid
//! vote uses, so a validator that wrongly accepted one would show up as a double count.

use rand::Rng;

use super::body::{VoteFields, ascii, field_value, open_envelope, quoted, write_vote};
use super::{Generator, Message, MessageKind};
use crate::contract::{MAX_BODY_BYTES, MAX_FIELD_BYTES};

/// Which rule of the validator a garbage message breaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Garbage {
    /// Plain text.
    NotJson,
    /// A vote cut short.
    Truncated,
    /// JSON that is not an object (`null`, a number, an array).
    NotObject,
    /// Zero bytes.
    EmptyBody,
    /// One of the five fields absent.
    MissingField,
    /// One of the five fields `null`.
    NullField,
    /// One of the five fields the empty string.
    EmptyField,
    /// One of the five fields a number, boolean or object.
    WrongType,
    /// `choice` other than `oui` / `non`.
    BadChoice,
    /// `timestamp` not RFC 3339.
    BadTimestamp,
    /// A field over [`MAX_FIELD_BYTES`] bytes (sometimes by exactly one).
    FieldTooLong,
    /// A field containing an escaped NUL (`\u0000`).
    NulEscape,
    /// A raw NUL byte inside a string.
    RawNul,
    /// Bytes that are not UTF-8.
    InvalidUtf8,
    /// An envelope whose `event_type` is not `vote.cast`.
    WrongEventType,
    /// A `vote.cast` envelope without `data`.
    EnvelopeWithoutData,
    /// A `vote.cast` envelope whose `data` lacks a field.
    EnvelopeWithBadData,
    /// A valid vote padded past [`MAX_BODY_BYTES`].
    TooLarge,
}

impl Garbage {
    /// Every kind, in a fixed order (index = position in tallies).
    pub const ALL: [Garbage; 18] = [
        Self::NotJson,
        Self::Truncated,
        Self::NotObject,
        Self::EmptyBody,
        Self::MissingField,
        Self::NullField,
        Self::EmptyField,
        Self::WrongType,
        Self::BadChoice,
        Self::BadTimestamp,
        Self::FieldTooLong,
        Self::NulEscape,
        Self::RawNul,
        Self::InvalidUtf8,
        Self::WrongEventType,
        Self::EnvelopeWithoutData,
        Self::EnvelopeWithBadData,
        Self::TooLarge,
    ];

    /// Snake-case name, used in the expected-totals file.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::NotJson => "not_json",
            Self::Truncated => "truncated",
            Self::NotObject => "not_object",
            Self::EmptyBody => "empty_body",
            Self::MissingField => "missing_field",
            Self::NullField => "null_field",
            Self::EmptyField => "empty_field",
            Self::WrongType => "wrong_type",
            Self::BadChoice => "bad_choice",
            Self::BadTimestamp => "bad_timestamp",
            Self::FieldTooLong => "field_too_long",
            Self::NulEscape => "nul_escape",
            Self::RawNul => "raw_nul",
            Self::InvalidUtf8 => "invalid_utf8",
            Self::WrongEventType => "wrong_event_type",
            Self::EnvelopeWithoutData => "envelope_without_data",
            Self::EnvelopeWithBadData => "envelope_with_bad_data",
            Self::TooLarge => "too_large",
        }
    }

    /// Position in [`Garbage::ALL`].
    pub fn index(self) -> usize {
        Self::ALL.iter().position(|g| *g == self).unwrap_or(0)
    }
}

impl Generator {
    /// A message breaking one rule, picked by weight.
    pub(super) fn garbage(&mut self) -> Message {
        // Weighted so that the 64 KiB bodies stay a small share of the bytes sent.
        const WEIGHTS: [u32; 18] = [4, 4, 4, 2, 6, 4, 4, 4, 6, 6, 6, 4, 3, 4, 3, 3, 3, 1];
        let total: u32 = WEIGHTS.iter().sum();
        let mut pick = self.rng.random_range(0..total);
        let mut kind = Garbage::NotJson;
        for (g, w) in Garbage::ALL.iter().zip(WEIGHTS) {
            if pick < w {
                kind = *g;
                break;
            }
            pick -= w;
        }
        let hash = self.alias_hash(1 << 62);
        let law_index = self.rng.random_range(0..self.config.laws);
        let law = self.laws[law_index as usize].id.clone();
        // Citizens no valid vote uses: if the engine accepted this, it would count.
        let citizen = format!("citizen-bad-{}", self.aliases);
        let choice = if self.rng.random_bool(0.5) { "oui" } else { "non" };
        let fields = VoteFields { hash: ascii(&hash), citizen: &citizen, law: &law, choice };
        let field = self.rng.random_range(0..5usize);
        let mut body = Vec::with_capacity(200);
        let mut stamps = [0u32; 2];
        match kind {
            Garbage::NotJson => body.extend_from_slice(format!("vote {choice} on {law} by {citizen}").as_bytes()),
            Garbage::Truncated => {
                write_vote(&mut body, &fields, &self.stamp, &[]);
                let cut = self.rng.random_range(1..body.len());
                body.truncate(cut);
            }
            Garbage::NotObject => {
                let options: [&[u8]; 5] = [b"null", b"42", b"[]", b"\"oui\"", b"true"];
                body.extend_from_slice(options[self.rng.random_range(0..options.len())]);
            }
            Garbage::EmptyBody => {}
            Garbage::MissingField => {
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(field, None)]);
            }
            Garbage::NullField => {
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(field, Some(b"null".to_vec()))]);
            }
            Garbage::EmptyField => {
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(field, Some(b"\"\"".to_vec()))]);
            }
            Garbage::WrongType => {
                let options: [&[u8]; 4] = [b"12345", b"true", b"{\"value\":\"oui\"}", b"[\"oui\"]"];
                let value = options[self.rng.random_range(0..options.len())].to_vec();
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(field, Some(value))]);
            }
            Garbage::BadChoice => {
                let options = ["OUI", "Non", "yes", "abstention", "oui ", " non", "nein", "o"];
                let value = quoted(options[self.rng.random_range(0..options.len())].as_bytes());
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(3, Some(value))]);
            }
            Garbage::BadTimestamp => {
                let options = [
                    "not-a-date",
                    "2025-02-30T12:00:00Z",
                    "2025-11-14T25:61:00Z",
                    "2025-11-14T12:00:00",
                    "1731585600",
                    "14/11/2025 12:00",
                ];
                let value = quoted(options[self.rng.random_range(0..options.len())].as_bytes());
                write_vote(&mut body, &fields, &self.stamp, &[(4, Some(value))]);
            }
            Garbage::FieldTooLong => {
                let len =
                    if self.rng.random_bool(0.5) { MAX_FIELD_BYTES + 1 } else { self.rng.random_range(129..2000) };
                let value = quoted(&vec![b'x'; len]);
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(field, Some(value))]);
            }
            Garbage::NulEscape => {
                let value = quoted(format!("{}\\u0000", field_value(&fields, &self.stamp, field)).as_bytes());
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(field, Some(value))]);
            }
            Garbage::RawNul => {
                let value = quoted(format!("{}\0", field_value(&fields, &self.stamp, field)).as_bytes());
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(field, Some(value))]);
            }
            Garbage::InvalidUtf8 => {
                let mut raw = citizen.clone().into_bytes();
                raw.extend_from_slice(&[0xff, 0xfe, 0xc3, 0x28]);
                stamps[0] = write_vote(&mut body, &fields, &self.stamp, &[(1, Some(quoted(&raw)))]);
            }
            Garbage::WrongEventType => {
                let event_type =
                    ["vote.deleted", "vote.cast.v2", "Vote.Cast", "voting.create"][self.rng.random_range(0..4)];
                stamps[0] = open_envelope(&mut body, event_type, self.event_id(), &self.stamp);
                body.extend_from_slice(b",\"data\":");
                stamps[1] = write_vote(&mut body, &fields, &self.stamp, &[]);
                body.push(b'}');
            }
            Garbage::EnvelopeWithoutData => {
                stamps[0] = open_envelope(&mut body, "vote.cast", self.event_id(), &self.stamp);
                body.push(b'}');
            }
            Garbage::EnvelopeWithBadData => {
                stamps[0] = open_envelope(&mut body, "vote.cast", self.event_id(), &self.stamp);
                body.extend_from_slice(b",\"data\":");
                stamps[1] = write_vote(&mut body, &fields, &self.stamp, &[(field, None)]);
                body.push(b'}');
            }
            Garbage::TooLarge => {
                let padding = self.rng.random_range(MAX_BODY_BYTES + 1..MAX_BODY_BYTES + 4096);
                let mut pad = b"\"padding\":\"".to_vec();
                pad.resize(pad.len() + padding, b'p');
                pad.extend_from_slice(b"\",");
                body.reserve(padding + 200);
                body.push(b'{');
                body.extend_from_slice(&pad);
                let mut vote = Vec::new();
                let at = write_vote(&mut vote, &fields, &self.stamp, &[]);
                stamps[0] = at + body.len() as u32 - 1;
                body.extend_from_slice(&vote[1..]);
            }
        }
        Message { body, kind: MessageKind::Invalid(kind), envelope: false, law: None, stamps }
    }
}
