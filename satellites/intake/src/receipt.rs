//! Receipts: a vote's `vote_hash` is HMAC-SHA256 under INTAKE_RECEIPT_KEY of the citizen, the
//! law and the choice. The same vote always has the same receipt (a retry is a duplicate by
//! `vote_hash`, never a second vote), and without the key nobody can compute a citizen's
//! receipt from their id, so looking a receipt up reveals nothing about who voted.

use ring::hmac;
use vote_engine::decode::Choice;

/// The intake's receipt key.
pub struct ReceiptKey(hmac::Key);

impl std::fmt::Debug for ReceiptKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiptKey(..)")
    }
}

impl ReceiptKey {
    /// A key from INTAKE_RECEIPT_KEY's bytes.
    pub fn new(secret: &[u8]) -> Self {
        Self(hmac::Key::new(hmac::HMAC_SHA256, secret))
    }

    /// The receipt of `citizen`'s `choice` on `law`: 64 lowercase hex digits. The fields are
    /// separated by NUL, which no valid field holds, so no two votes share their input.
    pub fn receipt(&self, citizen: &str, law: &str, choice: Choice) -> String {
        let mut context = hmac::Context::with_key(&self.0);
        for part in [b"vote-intake/v1".as_slice(), citizen.as_bytes(), law.as_bytes(), choice.as_str().as_bytes()] {
            context.update(part);
            context.update(&[0]);
        }
        let tag = context.sign();
        let mut hex = String::with_capacity(64);
        for byte in tag.as_ref() {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
        }
        hex
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_vote_has_the_same_receipt_and_any_change_another() {
        let key = ReceiptKey::new(b"k".repeat(32).as_slice());
        let r = key.receipt("alice", "law-1", Choice::Oui);
        assert_eq!(r.len(), 64);
        assert!(r.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(r, key.receipt("alice", "law-1", Choice::Oui));
        assert_ne!(r, key.receipt("alice", "law-1", Choice::Non));
        assert_ne!(r, key.receipt("alice", "law-2", Choice::Oui));
        assert_ne!(r, key.receipt("bob", "law-1", Choice::Oui));
        // Moving a character across the field boundary is another vote.
        assert_ne!(key.receipt("ab", "c", Choice::Oui), key.receipt("a", "bc", Choice::Oui));
    }

    #[test]
    fn another_key_gives_other_receipts() {
        let a = ReceiptKey::new(b"a".repeat(32).as_slice());
        let b = ReceiptKey::new(b"b".repeat(32).as_slice());
        assert_ne!(a.receipt("alice", "law-1", Choice::Oui), b.receipt("alice", "law-1", Choice::Oui));
    }

    #[test]
    fn it_is_hmac_sha256() {
        // RFC 4231 test case 2 checks ring's HMAC; this checks our framing against it by hand.
        let key = ReceiptKey::new(b"Jefe");
        let expected = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, b"Jefe"), b"vote-intake/v1\0c\0l\0non\0");
        let hex: String = expected.as_ref().iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(key.receipt("c", "l", Choice::Non), hex);
    }
}
