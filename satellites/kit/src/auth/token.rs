//! Making tokens the services accept: the claims they read and a signature with a PEM private
//! key (EC P-256 signs ES256, RSA signs RS256). Used by `loadgen token` with the local
//! development key, and by tests; a real deployment's tokens come from its identity provider.

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// The claims of a token for `subject` holding `roles`, from `issuer` for `audience`, valid
/// from now for `lifetime_seconds`.
pub fn claims(subject: &str, roles: &[String], issuer: &str, audience: &str, lifetime_seconds: u64) -> Value {
    let now = unix_now();
    json!({
        "sub": subject,
        "roles": roles,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "nbf": now,
        "exp": now + lifetime_seconds,
    })
}

/// Seconds since the Unix epoch.
pub fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default()
}

/// `claims` signed with the PKCS#8 / PEM private key `key_pem` (ES256 for an EC P-256 key,
/// RS256 for an RSA key), with `kid` in the header when given.
pub fn sign(claims: &Value, key_pem: &[u8], kid: Option<&str>) -> Result<String, String> {
    let (algorithm, key) = match EncodingKey::from_ec_pem(key_pem) {
        Ok(key) => (Algorithm::ES256, key),
        Err(_) => (
            Algorithm::RS256,
            EncodingKey::from_rsa_pem(key_pem).map_err(|_| "not an EC P-256 or RSA private key in PEM".to_owned())?,
        ),
    };
    let mut header = Header::new(algorithm);
    header.kid = kid.map(str::to_owned);
    encode(&header, claims, &key).map_err(|e| format!("cannot sign: {e}"))
}
