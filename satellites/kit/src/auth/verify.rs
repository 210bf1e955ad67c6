//! Bearer-token verification (no I/O once built): the identity provider's public keys from a
//! JWKS, each pinned to its one algorithm (RS256 or ES256), and the checks every token passes:
//! signature, `exp` and `nbf` (30 s of clock skew), `iss`, `aud`, a subject.
//!
//! The algorithm comes from the key, never from the token: a token whose header names another
//! one (`none`, `HS256` signed with the public key, ...) is refused before any signature check.
//!
//! A token that passed is remembered by its SHA-256, with its caller and `exp`, in a memory of
//! bounded size: a caller's next requests skip the signature check (an ES256 verification is
//! most of the CPU of a small request), and a remembered token is still refused once its `exp`
//! has passed.

use std::collections::BTreeSet;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use quick_cache::sync::Cache;
use serde::Deserialize;

use super::Caller;
use super::token::unix_now;

/// Clock skew allowed on `exp` and `nbf`, in seconds.
pub const LEEWAY_SECONDS: u64 = 30;
/// Longest token accepted; a longer one is refused unread.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Longest subject accepted (it is stored as a voter, a student, a manager).
pub const MAX_SUBJECT_CHARS: usize = 200;
/// Most roles one token may carry.
pub const MAX_ROLES: usize = 1000;
/// Memory for verified tokens: each is remembered by its SHA-256 digest with its caller, and
/// weighs what that caller holds (about 150 bytes for a citizen without roles).
pub const VERIFIED_TOKENS_BYTES: u64 = 64 * 1024 * 1024;
/// Tokens the memory is sized for at first.
const VERIFIED_TOKENS_EXPECTED: usize = 100_000;

/// Why a token was refused. The text is safe to show the caller: it never quotes the token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// No `Authorization: Bearer` header.
    #[error("missing bearer token (Authorization: Bearer <token>)")]
    Missing,
    /// Longer than [`MAX_TOKEN_BYTES`].
    #[error("the bearer token is too long")]
    Oversized,
    /// Not a JWT, or a header naming an algorithm this service does not accept.
    #[error("the bearer token is not a valid JWT or uses an unsupported algorithm")]
    Malformed,
    /// No key of the JWKS has the token's `kid`.
    #[error("the bearer token is signed with an unknown key")]
    UnknownKey,
    /// The header's algorithm is not the key's.
    #[error("the bearer token's algorithm does not match its key")]
    WrongAlgorithm,
    /// The signature does not verify.
    #[error("the bearer token's signature is invalid")]
    BadSignature,
    /// `exp` has passed.
    #[error("the bearer token has expired")]
    Expired,
    /// `nbf` is in the future.
    #[error("the bearer token is not valid yet")]
    NotYetValid,
    /// `iss` is not AUTH_ISSUER.
    #[error("the bearer token is from another issuer")]
    WrongIssuer,
    /// `aud` does not include AUTH_AUDIENCE.
    #[error("the bearer token is for another audience")]
    WrongAudience,
    /// A required claim is missing or malformed.
    #[error("the bearer token lacks a valid '{0}' claim")]
    BadClaim(&'static str),
}

impl Refusal {
    /// A short label for logs and metrics.
    pub fn label(&self) -> &'static str {
        match self {
            Refusal::Missing => "missing",
            Refusal::Oversized => "oversized",
            Refusal::Malformed => "malformed",
            Refusal::UnknownKey => "unknown_key",
            Refusal::WrongAlgorithm => "wrong_algorithm",
            Refusal::BadSignature => "bad_signature",
            Refusal::Expired => "expired",
            Refusal::NotYetValid => "not_yet_valid",
            Refusal::WrongIssuer => "wrong_issuer",
            Refusal::WrongAudience => "wrong_audience",
            Refusal::BadClaim(_) => "bad_claim",
        }
    }
}

/// One verification key and the only algorithm it verifies.
struct Key {
    kid: Option<String>,
    algorithm: Algorithm,
    key: DecodingKey,
}

/// Verifies bearer tokens against a JWKS, an issuer and an audience.
pub struct Verifier {
    keys: Vec<Key>,
    issuer: String,
    audience: String,
    /// Tokens that passed, by digest: their caller and `exp`.
    verified: Cache<Digest, (Caller, u64), CallerWeight>,
}

/// A token's SHA-256: the key it is remembered by (two tokens with one digest cannot be found).
type Digest = [u8; 32];

fn digest_of(token: &str) -> Digest {
    let mut digest = [0; 32];
    digest.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref());
    digest
}

/// What a remembered token costs in memory: its digest, its caller's subject and roles, and
/// the cache's own bookkeeping.
#[derive(Clone)]
struct CallerWeight;

impl quick_cache::Weighter<Digest, (Caller, u64)> for CallerWeight {
    fn weight(&self, _: &Digest, (caller, _): &(Caller, u64)) -> u64 {
        let roles: usize = caller.roles.iter().map(|r| r.len() + 48).sum();
        (128 + caller.subject.len() + roles) as u64
    }
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<_> = self.keys.iter().map(|k| (k.kid.as_deref(), k.algorithm)).collect();
        f.debug_struct("Verifier")
            .field("keys", &kids)
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish()
    }
}

/// The claims read besides those `jsonwebtoken` checks (`exp`, `nbf`, `iss`, `aud`), taken as
/// any JSON so that a claim of the wrong type is refused under its own name.
#[derive(Deserialize)]
struct Claims {
    #[serde(default)]
    sub: serde_json::Value,
    #[serde(default)]
    roles: serde_json::Value,
    /// Checked by `jsonwebtoken` already; kept to refuse the remembered token once it passed.
    #[serde(default)]
    exp: serde_json::Value,
}

impl Verifier {
    /// Reads the JWKS text. Signature keys of type RSA (RS256) and EC P-256 (ES256) are kept;
    /// encryption keys and other algorithms are skipped. Fails when none is left or a kept key
    /// is malformed.
    pub fn from_jwks(jwks: &str, issuer: &str, audience: &str) -> Result<Self, String> {
        let set: JwkSet = serde_json::from_str(jwks).map_err(|e| format!("not a JWKS: {e}"))?;
        let mut keys = Vec::new();
        for jwk in &set.keys {
            let kid = jwk.common.key_id.clone();
            let name = kid.as_deref().unwrap_or("(no kid)").to_owned();
            if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
                continue;
            }
            let algorithm = match (&jwk.algorithm, jwk.common.key_algorithm) {
                (AlgorithmParameters::RSA(_), None | Some(KeyAlgorithm::RS256)) => Algorithm::RS256,
                (AlgorithmParameters::EllipticCurve(ec), None | Some(KeyAlgorithm::ES256))
                    if ec.curve == EllipticCurve::P256 =>
                {
                    Algorithm::ES256
                }
                _ => {
                    tracing::warn!(kid = %name, "JWKS key skipped: only RS256 and ES256 signature keys are used");
                    continue;
                }
            };
            let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("key {name}: {e}"))?;
            keys.push(Key { kid, algorithm, key });
        }
        if keys.is_empty() {
            return Err("no RS256 or ES256 signature key in it".to_owned());
        }
        if keys.len() > 1 && keys.iter().any(|k| k.kid.is_none()) {
            return Err("with several keys, every key needs a 'kid'".to_owned());
        }
        Ok(Self {
            keys,
            issuer: issuer.to_owned(),
            audience: audience.to_owned(),
            verified: Cache::with_weighter(VERIFIED_TOKENS_EXPECTED, VERIFIED_TOKENS_BYTES, CallerWeight),
        })
    }

    /// The caller the token proves, or why it proves nothing.
    pub fn verify(&self, token: &str) -> Result<Caller, Refusal> {
        self.verify_at(token, unix_now())
    }

    /// [`Self::verify`] at `now` (seconds since the epoch) for what was verified before.
    fn verify_at(&self, token: &str, now: u64) -> Result<Caller, Refusal> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Refusal::Oversized);
        }
        let digest = digest_of(token);
        if let Some((caller, exp)) = self.verified.get(&digest) {
            if now > exp.saturating_add(LEEWAY_SECONDS) {
                self.verified.remove(&digest);
                return Err(Refusal::Expired);
            }
            return Ok(caller);
        }
        let (caller, exp) = self.check(token)?;
        self.verified.insert(digest, (caller.clone(), exp));
        Ok(caller)
    }

    /// Tokens remembered as verified.
    pub fn remembered(&self) -> usize {
        self.verified.len()
    }

    /// Every check of a token not seen before: the caller and the token's `exp`.
    fn check(&self, token: &str) -> Result<(Caller, u64), Refusal> {
        let header = decode_header(token).map_err(|_| Refusal::Malformed)?;
        let key = match &header.kid {
            Some(kid) => self.keys.iter().find(|k| k.kid.as_deref() == Some(kid.as_str())),
            None if self.keys.len() == 1 => self.keys.first(),
            None => None,
        }
        .ok_or(Refusal::UnknownKey)?;
        if header.alg != key.algorithm {
            return Err(Refusal::WrongAlgorithm);
        }
        let mut validation = Validation::new(key.algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "sub", "iss", "aud"]);
        let data = decode::<Claims>(token, &key.key, &validation).map_err(|e| refusal(e.kind()))?;
        let Claims { sub, roles, exp } = data.claims;
        let exp = exp.as_f64().ok_or(Refusal::BadClaim("exp"))? as u64;
        Ok((Caller::new(subject(sub)?, roles_of(roles)?), exp))
    }
}

/// The `sub` claim: a string of at most [`MAX_SUBJECT_CHARS`] characters without control
/// characters or surrounding whitespace. Subjects are compared exactly, and the names a body
/// gives (`voter_id`, ...) are trimmed: a subject that trimming would change could never match
/// one, and must not be merged with another that it would equal once trimmed.
fn subject(sub: serde_json::Value) -> Result<String, Refusal> {
    match sub {
        serde_json::Value::String(sub)
            if !sub.is_empty()
                && sub.trim() == sub
                && sub.chars().count() <= MAX_SUBJECT_CHARS
                && !sub.chars().any(char::is_control) =>
        {
            Ok(sub)
        }
        _ => Err(Refusal::BadClaim("sub")),
    }
}

/// The `roles` claim: absent, or a list of at most [`MAX_ROLES`] strings.
fn roles_of(roles: serde_json::Value) -> Result<BTreeSet<String>, Refusal> {
    match roles {
        serde_json::Value::Null => Ok(BTreeSet::new()),
        serde_json::Value::Array(items) if items.len() <= MAX_ROLES => items
            .into_iter()
            .map(|role| match role {
                serde_json::Value::String(role) => Ok(role),
                _ => Err(Refusal::BadClaim("roles")),
            })
            .collect(),
        _ => Err(Refusal::BadClaim("roles")),
    }
}

fn refusal(kind: &ErrorKind) -> Refusal {
    match kind {
        ErrorKind::InvalidSignature => Refusal::BadSignature,
        ErrorKind::ExpiredSignature => Refusal::Expired,
        ErrorKind::ImmatureSignature => Refusal::NotYetValid,
        ErrorKind::InvalidIssuer => Refusal::WrongIssuer,
        ErrorKind::InvalidAudience => Refusal::WrongAudience,
        ErrorKind::InvalidAlgorithm => Refusal::WrongAlgorithm,
        ErrorKind::MissingRequiredClaim(claim) => Refusal::BadClaim(match claim.as_str() {
            "exp" => "exp",
            "iss" => "iss",
            "aud" => "aud",
            _ => "sub",
        }),
        // The claims are read as any JSON: only a payload that is not a JSON object fails here.
        ErrorKind::Json(_) => Refusal::Malformed,
        _ => Refusal::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::*;
    use super::*;

    fn verifier() -> Verifier {
        Verifier::from_jwks(&std::fs::read_to_string(jwks_file()).unwrap(), ISSUER, AUDIENCE).unwrap()
    }

    #[test]
    fn a_verified_token_is_remembered_for_its_own_caller_only_until_it_expires() {
        let verifier = verifier();
        let (alice, bob) = (token("alice", &["manager:m1"]), es256_token("bob", &[]));
        assert_eq!(verifier.verify(&alice).unwrap().subject(), "alice");
        assert_eq!(verifier.verify(&bob).unwrap().subject(), "bob");
        assert_eq!(verifier.remembered(), 2);
        let again = verifier.verify(&alice).unwrap();
        assert_eq!((again.subject(), again.has_role("manager:m1")), ("alice", true));
        assert_eq!(verifier.remembered(), 2, "a remembered token is not stored twice");

        let exp = valid_claims("alice", &[])["exp"].as_u64().unwrap();
        let later = exp + LEEWAY_SECONDS;
        assert_eq!(verifier.verify_at(&alice, later).unwrap().subject(), "alice", "within the leeway");
        assert_eq!(verifier.verify_at(&alice, later + 1), Err(Refusal::Expired));
        assert_eq!(verifier.remembered(), 1, "an expired token is forgotten");
        assert_eq!(verifier.verify(&alice).unwrap().subject(), "alice", "checked again in full, and valid now");
    }

    #[test]
    fn a_refused_token_is_not_remembered() {
        let verifier = verifier();
        for refused in [forged_token("alice", &[]), expired_token("alice", &[]), alg_none_token("alice", &[])] {
            assert!(verifier.verify(&refused).is_err());
            assert!(verifier.verify(&refused).is_err(), "refused again");
        }
        assert_eq!(verifier.remembered(), 0);
    }
}
