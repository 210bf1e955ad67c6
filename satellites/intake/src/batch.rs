//! Grouping votes into `vote.batch` messages (no I/O): a batch closes at INTAKE_BATCH_SIZE
//! votes or when the next vote would take the message over the engine's body limit; the
//! linger (INTAKE_BATCH_LINGER_MS) is the publishing shell's timer.

use serde_json::value::RawValue;
use vote_engine::decode::{MAX_BODY_BYTES, VOTE_BATCH_EVENT};
use vote_mq::Envelope;

/// Room the envelope around the votes takes (type, id, time, producer), generously.
const ENVELOPE_BYTES: usize = 512;

/// Votes waiting to be published together, each with what answers its request.
#[derive(Debug)]
pub struct Batch<T> {
    items: Vec<(Vec<u8>, T)>,
    bytes: usize,
    max_votes: usize,
}

impl<T> Batch<T> {
    /// An empty batch of at most `max_votes`.
    pub fn new(max_votes: usize) -> Self {
        Self { items: Vec::with_capacity(max_votes), bytes: ENVELOPE_BYTES, max_votes }
    }

    /// Whether `json` fits: an empty batch takes any vote (a valid vote is far smaller than a
    /// message), a full one none.
    pub fn fits(&self, json: &[u8]) -> bool {
        self.items.is_empty() || (self.items.len() < self.max_votes && self.bytes + json.len() < MAX_BODY_BYTES)
    }

    /// Adds a vote (the caller checked [`Batch::fits`]).
    pub fn push(&mut self, json: Vec<u8>, reply: T) {
        self.bytes += json.len() + 1;
        self.items.push((json, reply));
    }

    /// Whether no further vote can join.
    pub fn is_full(&self) -> bool {
        self.items.len() >= self.max_votes || self.bytes + 64 > MAX_BODY_BYTES
    }

    /// Whether it holds no vote.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Votes in it.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Takes the votes out, leaving an empty batch.
    pub fn take(&mut self) -> Vec<(Vec<u8>, T)> {
        self.bytes = ENVELOPE_BYTES;
        std::mem::replace(&mut self.items, Vec::with_capacity(self.max_votes))
    }
}

/// The `vote.batch` envelope carrying `votes` (each the engine's JSON of one vote).
pub fn encode<'a>(votes: impl Iterator<Item = &'a [u8]>, producer: &str) -> Vec<u8> {
    let data: Vec<&RawValue> = votes
        .filter_map(|json| std::str::from_utf8(json).ok())
        .filter_map(|text| serde_json::from_str::<&RawValue>(text).ok())
        .collect();
    Envelope::new(VOTE_BATCH_EVENT, producer, data).to_bytes()
}

#[cfg(test)]
mod tests {
    use time::OffsetDateTime;
    use vote_engine::decode::{Decoded, decode_message};

    use super::*;
    use crate::receipt::ReceiptKey;
    use crate::vote::prepare;

    fn vote(citizen: &str, law: &str) -> Vec<u8> {
        prepare(&ReceiptKey::new(&[1; 32]), citizen, law, "oui", OffsetDateTime::now_utc()).unwrap().json
    }

    #[test]
    fn closes_at_the_vote_count() {
        let mut batch = Batch::new(3);
        for i in 0..3 {
            let v = vote(&format!("c{i}"), "law");
            assert!(batch.fits(&v) && !batch.is_full());
            batch.push(v, i);
        }
        assert!(batch.is_full() && !batch.fits(&vote("c9", "law")));
        assert_eq!(batch.take().into_iter().map(|(_, i)| i).collect::<Vec<_>>(), [0, 1, 2]);
        assert!(batch.is_empty() && batch.fits(&vote("c9", "law")));
    }

    #[test]
    fn the_longest_votes_never_make_a_message_the_engine_refuses() {
        let long = "x".repeat(vote_engine::decode::MAX_FIELD_BYTES);
        let mut batch = Batch::new(1000);
        let mut n = 0;
        loop {
            let v = vote(&format!("{n:0>128}"), &long);
            if !batch.fits(&v) {
                break;
            }
            batch.push(v, n);
            n += 1;
        }
        let votes = batch.take();
        let body = encode(votes.iter().map(|(json, _)| json.as_slice()), "vote-intake");
        assert!(body.len() <= MAX_BODY_BYTES, "{} bytes", body.len());
        match decode_message(&body).unwrap() {
            Decoded::Many(parts) => {
                assert_eq!(parts.len(), n);
                assert!(parts.iter().all(|p| p.vote.is_ok()));
            }
            Decoded::One(_) => panic!("a batch decodes as many votes"),
        }
    }
}
