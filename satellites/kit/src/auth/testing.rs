//! Test identity provider (feature `testing`): fixed test keys under `testdata/` (never trusted
//! anywhere else), the settings that trust them, and tokens, good ones and each kind an attacker
//! would try.

use std::path::PathBuf;

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::Value;

use super::AuthSettings;
use super::token::{claims, sign, unix_now};

/// AUTH_ISSUER of the tests.
pub const ISSUER: &str = "vote-platform-test";
/// AUTH_AUDIENCE of the tests.
pub const AUDIENCE: &str = "vote-platform";

const RSA_KEY: &[u8] = include_bytes!("testdata/rsa-key.pem");
const RSA_PUBLIC: &[u8] = include_bytes!("testdata/rsa-public.pem");
const EC_KEY: &[u8] = include_bytes!("testdata/ec-key.pem");
const ATTACKER_KEY: &[u8] = include_bytes!("testdata/attacker-rsa-key.pem");
/// `kid` of the trusted RSA key.
pub const RSA_KID: &str = "test-rsa";
/// `kid` of the trusted EC key.
pub const EC_KID: &str = "test-ec";

/// The JWKS file holding the two trusted test keys.
pub fn jwks_file() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/src/auth/testdata/jwks.json"))
}

/// Settings trusting the test keys.
pub fn settings() -> AuthSettings {
    AuthSettings::Enabled { jwks_file: jwks_file(), issuer: ISSUER.to_owned(), audience: AUDIENCE.to_owned() }
}

/// `AUTH_*` environment variables trusting the test keys, for binaries run by tests.
pub fn env() -> Vec<(&'static str, String)> {
    vec![
        ("AUTH_JWKS_FILE", jwks_file().to_string_lossy().into_owned()),
        ("AUTH_ISSUER", ISSUER.to_owned()),
        ("AUTH_AUDIENCE", AUDIENCE.to_owned()),
    ]
}

fn roles(roles: &[&str]) -> Vec<String> {
    roles.iter().map(|r| (*r).to_owned()).collect()
}

/// Valid claims for `subject` with `roles`, for an hour.
pub fn valid_claims(subject: &str, with_roles: &[&str]) -> Value {
    claims(subject, &roles(with_roles), ISSUER, AUDIENCE, 3600)
}

/// A valid RS256 token.
pub fn token(subject: &str, with_roles: &[&str]) -> String {
    signed(&valid_claims(subject, with_roles))
}

/// A valid ES256 token.
pub fn es256_token(subject: &str, with_roles: &[&str]) -> String {
    sign(&valid_claims(subject, with_roles), EC_KEY, Some(EC_KID)).expect("sign with the test EC key")
}

/// `claims` signed RS256 with the trusted test key.
pub fn signed(claims: &Value) -> String {
    sign(claims, RSA_KEY, Some(RSA_KID)).expect("sign with the test RSA key")
}

/// Valid claims changed by `edit` (to make them expired, foreign, ...), signed with the trusted key.
pub fn token_with(subject: &str, with_roles: &[&str], edit: impl FnOnce(&mut Value)) -> String {
    let mut claims = valid_claims(subject, with_roles);
    edit(&mut claims);
    signed(&claims)
}

/// Valid claims signed by another key that claims the trusted key's `kid`: a forged signature.
pub fn forged_token(subject: &str, with_roles: &[&str]) -> String {
    sign(&valid_claims(subject, with_roles), ATTACKER_KEY, Some(RSA_KID)).expect("sign with the attacker key")
}

/// Valid claims, header `alg: none`, no signature.
pub fn alg_none_token(subject: &str, with_roles: &[&str]) -> String {
    let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = b64(valid_claims(subject, with_roles).to_string().as_bytes());
    format!("{header}.{payload}.")
}

/// Key confusion: valid claims signed HS256 with the trusted RSA *public* key as the HMAC
/// secret, under the RSA key's `kid`.
pub fn key_confusion_token(subject: &str, with_roles: &[&str]) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(RSA_KID.to_owned());
    encode(&header, &valid_claims(subject, with_roles), &EncodingKey::from_secret(RSA_PUBLIC)).expect("HS256")
}

/// A token that expired ten minutes ago.
pub fn expired_token(subject: &str, with_roles: &[&str]) -> String {
    token_with(subject, with_roles, |c| {
        c["iat"] = (unix_now() - 7200).into();
        c["nbf"] = (unix_now() - 7200).into();
        c["exp"] = (unix_now() - 600).into();
    })
}

/// A token valid only from ten minutes from now.
pub fn not_yet_valid_token(subject: &str, with_roles: &[&str]) -> String {
    token_with(subject, with_roles, |c| c["nbf"] = (unix_now() + 600).into())
}

/// A token of another issuer (signed with the trusted key).
pub fn other_issuer_token(subject: &str, with_roles: &[&str]) -> String {
    token_with(subject, with_roles, |c| c["iss"] = "https://evil.example".into())
}

/// A token for another audience (signed with the trusted key).
pub fn other_audience_token(subject: &str, with_roles: &[&str]) -> String {
    token_with(subject, with_roles, |c| c["aud"] = "another-platform".into())
}

fn b64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | (u32::from(*b) << (16 - 8 * i)));
        for i in 0..=chunk.len() {
            out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}
