//! A generated message: its body with fixed-width timestamp slots, what it is for the tally,
//! and the stamp written into the slots as it is sent.

use time::OffsetDateTime;

use super::Garbage;

/// What a message is, for the tally.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// The first message of unique vote `vote`.
    Original {
        /// Index of the unique vote.
        vote: u32,
    },
    /// The same vote again, same `vote_hash`.
    Resend {
        /// Index of the unique vote repeated.
        vote: u32,
    },
    /// The same citizen, law and choice under a new `vote_hash`.
    Revote {
        /// Index of the unique vote repeated.
        vote: u32,
    },
    /// The same citizen and law with the other choice, a new `vote_hash`, and a timestamp a
    /// day before (`earlier`) or after the publish time, so that it ranks before or after every
    /// copy of its vote whatever order they are published in (runs shorter than a day).
    Conflicting {
        /// Index of the unique vote it conflicts with.
        vote: u32,
        /// Whether its timestamp is the earlier of the two.
        earlier: bool,
    },
    /// A message the engine must reject.
    Invalid(Garbage),
}

impl MessageKind {
    /// The unique vote this message carries, if it is valid.
    pub fn vote(self) -> Option<u32> {
        match self {
            MessageKind::Original { vote }
            | MessageKind::Resend { vote }
            | MessageKind::Revote { vote }
            | MessageKind::Conflicting { vote, .. } => Some(vote),
            MessageKind::Invalid(_) => None,
        }
    }
}

/// Length of a rendered timestamp: `2025-11-14T12:00:00.123456Z`.
pub const STAMP_LEN: usize = 27;

/// An RFC 3339 UTC timestamp with microseconds, rendered once and copied into bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(pub(super) [u8; STAMP_LEN]);

impl Stamp {
    /// The current time.
    pub fn now() -> Self {
        Self::at(OffsetDateTime::now_utc())
    }

    /// The current time, with the same instant in Unix microseconds: what the engine stores in
    /// `vote_audit."timestamp"` for a vote carrying this stamp (the text keeps microseconds,
    /// truncated).
    pub fn now_with_unix_micros() -> (Self, i64) {
        let now = OffsetDateTime::now_utc();
        (Self::at(now), (now.unix_timestamp_nanos() / 1000) as i64)
    }

    /// `at`, converted to UTC (years outside 0..=9999 are clamped).
    pub fn at(at: OffsetDateTime) -> Self {
        let t = at.to_offset(time::UtcOffset::UTC);
        let mut out = *b"0000-00-00T00:00:00.000000Z";
        let mut put = |start: usize, width: usize, value: u32| {
            let mut v = value;
            for i in (start..start + width).rev() {
                out[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        };
        put(0, 4, t.year().clamp(0, 9999) as u32);
        put(5, 2, u32::from(u8::from(t.month())));
        put(8, 2, u32::from(t.day()));
        put(11, 2, u32::from(t.hour()));
        put(14, 2, u32::from(t.minute()));
        put(17, 2, u32::from(t.second()));
        put(20, 6, t.microsecond());
        Self(out)
    }

    /// This instant moved by `days`.
    pub fn shifted(&self, days: i64) -> Self {
        let at = OffsetDateTime::parse(self.as_str(), &time::format_description::well_known::Rfc3339)
            .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        Self::at(at + time::Duration::days(days))
    }

    /// The text.
    pub fn as_str(&self) -> &str {
        // Only ASCII digits and separators are ever written.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

/// One message, ready to publish.
#[derive(Debug, Clone)]
pub struct Message {
    /// The body, with generation-time timestamps in its slots.
    pub body: Vec<u8>,
    /// What it is.
    pub kind: MessageKind,
    /// Whether it is wrapped in an event envelope.
    pub envelope: bool,
    /// Index of the law of the vote it carries (its routing key on the sharded intake); `None`
    /// for garbage.
    pub law: Option<u32>,
    /// Byte offsets of timestamp slots in `body` (0 = unused: a body never starts with one).
    pub(super) stamps: [u32; 2],
}

impl Message {
    /// Writes the body into `out` (replacing its content) with every timestamp slot set to
    /// `stamp`: the vote's timestamp is its publish time, which end-to-end latency relies on.
    /// A conflicting vote's slots are set a day before or after `stamp`.
    pub fn render_into(&self, stamp: &Stamp, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.body);
        let stamp = match self.kind {
            MessageKind::Conflicting { earlier, .. } => stamp.shifted(if earlier { -1 } else { 1 }),
            _ => *stamp,
        };
        for &at in self.stamps.iter().filter(|&&at| at != 0) {
            let at = at as usize;
            out[at..at + STAMP_LEN].copy_from_slice(&stamp.0);
        }
    }

    /// The body with every timestamp slot set to `stamp`.
    pub fn render(&self, stamp: &Stamp) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.body.len());
        self.render_into(stamp, &mut out);
        out
    }
}
