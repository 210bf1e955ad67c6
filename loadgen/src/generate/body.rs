//! Writing bodies byte by byte: the vote object, the event envelope around it, and the ids and
//! hashes that make every vote of a run unique.

use super::PRODUCER;
use super::message::Stamp;
use crate::contract::MAX_FIELD_BYTES;

/// Writes `{"event_type":..,"event_version":1,"event_id":..,"timestamp":..,"producer":..`
/// (unclosed) and returns the timestamp slot's offset.
pub(super) fn open_envelope(body: &mut Vec<u8>, event_type: &str, event_id: uuid::Uuid, stamp: &Stamp) -> u32 {
    body.extend_from_slice(b"{\"event_type\":\"");
    body.extend_from_slice(event_type.as_bytes());
    body.extend_from_slice(b"\",\"event_version\":1,\"event_id\":\"");
    body.extend_from_slice(event_id.hyphenated().encode_lower(&mut uuid::Uuid::encode_buffer()).as_bytes());
    body.extend_from_slice(b"\",\"timestamp\":\"");
    let at = body.len() as u32;
    body.extend_from_slice(&stamp.0);
    body.extend_from_slice(b"\",\"producer\":\"");
    body.extend_from_slice(PRODUCER.as_bytes());
    body.push(b'"');
    at
}

/// The five vote fields, already rendered (the timestamp comes from a [`Stamp`]).
pub(super) struct VoteFields<'a> {
    pub(super) hash: &'a str,
    pub(super) citizen: &'a str,
    pub(super) law: &'a str,
    pub(super) choice: &'a str,
}

const FIELD_NAMES: [&str; 5] = ["vote_hash", "citizen_id", "law_id", "choice", "timestamp"];

pub(super) fn field_value(fields: &VoteFields<'_>, stamp: &Stamp, index: usize) -> String {
    match index {
        0 => fields.hash.to_owned(),
        1 => fields.citizen.to_owned(),
        2 => fields.law.to_owned(),
        3 => fields.choice.to_owned(),
        _ => stamp.as_str().to_owned(),
    }
}

/// Writes a vote object. `overrides` replace a field's JSON value (`Some`) or drop the field
/// (`None`). Returns the offset of the timestamp slot, or 0 when the timestamp was overridden.
pub(super) fn write_vote(
    body: &mut Vec<u8>,
    fields: &VoteFields<'_>,
    stamp: &Stamp,
    overrides: &[(usize, Option<Vec<u8>>)],
) -> u32 {
    let mut stamp_at = 0;
    body.push(b'{');
    let mut first = true;
    for (index, name) in FIELD_NAMES.iter().enumerate() {
        let value = overrides.iter().find(|(i, _)| *i == index).map(|(_, v)| v.as_deref());
        if value == Some(None) {
            continue;
        }
        if !first {
            body.push(b',');
        }
        first = false;
        body.push(b'"');
        body.extend_from_slice(name.as_bytes());
        body.extend_from_slice(b"\":");
        match value {
            Some(Some(raw)) => body.extend_from_slice(raw),
            _ => {
                body.push(b'"');
                if index == 4 {
                    stamp_at = body.len() as u32;
                    body.extend_from_slice(&stamp.0);
                } else {
                    body.extend_from_slice(field_value(fields, stamp, index).as_bytes());
                }
                body.push(b'"');
            }
        }
    }
    body.push(b'}');
    stamp_at
}

pub(super) fn quoted(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len() + 2);
    out.push(b'"');
    out.extend_from_slice(raw);
    out.push(b'"');
    out
}

/// `citizen-<n>`, or for the long form the same padded with multi-byte characters to exactly
/// [`MAX_FIELD_BYTES`] bytes.
pub fn citizen_id(citizen: u32, long: bool) -> String {
    let mut id = format!("citizen-{citizen}");
    if long {
        id.push('-');
        while id.len() + 'é'.len_utf8() <= MAX_FIELD_BYTES {
            id.push('é');
        }
        while id.len() < MAX_FIELD_BYTES {
            id.push('x');
        }
    }
    id
}

/// 32 lowercase hex digits, unique per `key` within a run: the first half is a bijection of
/// `key`, so different keys never collide, and `salt` differs between runs.
pub(super) fn hash_hex(salt: u64, key: u64) -> [u8; 32] {
    let first = splitmix(key ^ salt);
    let second = splitmix(first ^ salt.rotate_left(29));
    let mut out = [0u8; 32];
    for (i, word) in [first, second].into_iter().enumerate() {
        for j in 0..16 {
            let nibble = (word >> (60 - 4 * j)) & 0xf;
            out[i * 16 + j] = b"0123456789abcdef"[nibble as usize];
        }
    }
    out
}

pub(super) fn ascii(bytes: &[u8]) -> &str {
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// SplitMix64's finalizer: a bijection on `u64` that scrambles well.
pub(super) fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

pub(super) fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}
