use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, HeaderValue};

use super::testing::*;
use super::*;

fn authenticator() -> Authenticator {
    Authenticator::from_settings(&settings()).expect("the test JWKS loads")
}

fn with_bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {token}")).unwrap());
    headers
}

#[test]
fn valid_rs256_and_es256_tokens_name_their_caller_and_roles() {
    let auth = authenticator();
    let caller = auth.authenticate(&with_bearer(&token("alice", &["manager:m1"]))).unwrap();
    assert_eq!(caller.subject(), "alice");
    assert!(caller.has_role("manager:m1") && !caller.has_role("manager:m2") && !caller.has_role(ORDER_CALLBACK_ROLE));
    let caller = auth.authenticate(&with_bearer(&es256_token("bob", &[ORDER_CALLBACK_ROLE]))).unwrap();
    assert_eq!(caller.subject(), "bob");
    assert!(caller.has_role(ORDER_CALLBACK_ROLE));
    let mut lower = HeaderMap::new();
    lower.insert(AUTHORIZATION, HeaderValue::from_str(&format!("bearer {}", token("carol", &[]))).unwrap());
    assert_eq!(auth.authenticate(&lower).unwrap().subject(), "carol");
}

#[test]
fn every_attack_on_the_token_is_refused_for_its_reason() {
    let auth = authenticator();
    let roles = ["manager:m1"];
    let cases = [
        (forged_token("alice", &roles), Refusal::BadSignature),
        (alg_none_token("alice", &roles), Refusal::Malformed),
        (key_confusion_token("alice", &roles), Refusal::WrongAlgorithm),
        (expired_token("alice", &roles), Refusal::Expired),
        (not_yet_valid_token("alice", &roles), Refusal::NotYetValid),
        (other_issuer_token("alice", &roles), Refusal::WrongIssuer),
        (other_audience_token("alice", &roles), Refusal::WrongAudience),
        (token_with("alice", &roles, |c| drop(c.as_object_mut().unwrap().remove("exp"))), Refusal::BadClaim("exp")),
        (token_with("alice", &roles, |c| drop(c.as_object_mut().unwrap().remove("sub"))), Refusal::BadClaim("sub")),
        (token_with("", &roles, |_| ()), Refusal::BadClaim("sub")),
        (token_with("alice", &roles, |c| c["roles"] = "manager:m1".into()), Refusal::BadClaim("roles")),
        (token_with("alice", &roles, |c| c["roles"] = serde_json::json!(["a", 1])), Refusal::BadClaim("roles")),
        (token_with("alice", &roles, |c| c["sub"] = 7.into()), Refusal::BadClaim("sub")),
        (token_with("v5 ", &roles, |_| ()), Refusal::BadClaim("sub")),
        (token_with(" v5", &roles, |_| ()), Refusal::BadClaim("sub")),
        (token_with("v\u{7}5", &roles, |_| ()), Refusal::BadClaim("sub")),
        ("not.a.jwt".to_owned(), Refusal::Malformed),
        ("x".repeat(verify::MAX_TOKEN_BYTES + 1), Refusal::Oversized),
    ];
    for (token, reason) in cases {
        assert_eq!(auth.authenticate(&with_bearer(&token)), Err(reason.clone()), "{reason:?}");
    }
    assert_eq!(auth.authenticate(&HeaderMap::new()), Err(Refusal::Missing));
    let mut basic = HeaderMap::new();
    basic.insert(AUTHORIZATION, HeaderValue::from_static("Basic YWxpY2U6c2VjcmV0"));
    assert_eq!(auth.authenticate(&basic), Err(Refusal::Missing));
}

#[test]
fn a_token_under_an_unknown_kid_is_refused() {
    let verifier = Verifier::from_jwks(&std::fs::read_to_string(jwks_file()).unwrap(), ISSUER, AUDIENCE).unwrap();
    let claims = valid_claims("alice", &[]);
    let token = token::sign(&claims, include_bytes!("testdata/rsa-key.pem"), Some("rotated-away")).unwrap();
    assert_eq!(verifier.verify(&token), Err(Refusal::UnknownKey));
}

#[test]
fn settings_require_every_value_unless_disabled() {
    use crate::config::Validate;
    let args = |mode: &str, file: Option<&str>, issuer: Option<&str>, audience: Option<&str>| AuthArgs {
        auth_mode: mode.to_owned(),
        auth_jwks_file: file.map(PathBuf::from),
        auth_issuer: issuer.map(str::to_owned),
        auth_audience: audience.map(str::to_owned),
    };
    assert_eq!(args("disabled", None, None, None).validate().unwrap(), AuthSettings::Disabled);
    for (a, variable) in [
        (args("enabled", None, Some("i"), Some("a")), "AUTH_JWKS_FILE"),
        (args("enabled", Some("f"), Some(" "), Some("a")), "AUTH_ISSUER"),
        (args("enabled", Some("f"), Some("i"), None), "AUTH_AUDIENCE"),
        (args("off", Some("f"), Some("i"), Some("a")), "AUTH_MODE"),
    ] {
        assert_eq!(a.validate().unwrap_err().variable, variable);
    }
    let missing =
        AuthSettings::Enabled { jwks_file: "/nonexistent/jwks.json".into(), issuer: "i".into(), audience: "a".into() };
    assert_eq!(Authenticator::from_settings(&missing).unwrap_err().variable, "AUTH_JWKS_FILE");
    let mut wrong =
        Verifier::from_jwks(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hmac"}]}"#, "i", "a").unwrap_err();
    assert!(wrong.contains("no RS256 or ES256"), "{wrong}");
    wrong = Verifier::from_jwks("[]", "i", "a").unwrap_err();
    assert!(wrong.contains("not a JWKS"), "{wrong}");
}

#[tokio::test]
async fn managers_are_the_token_role_or_the_recorded_grant() {
    let auth = authenticator();
    let holder = auth.authenticate(&with_bearer(&token("alice", &["manager:m1"]))).unwrap();
    let never_asked = |_: String| async { panic!("the role settles it without a lookup") };
    holder.require_manager("m1", never_asked).await.unwrap();
    let recorded = |subject: String| async move { Ok(subject == "alice") };
    holder.require_manager("m2", recorded).await.unwrap();
    let other = auth.authenticate(&with_bearer(&token("mallory", &["manager:m2"]))).unwrap();
    let err = other.require_manager("m1", recorded).await.unwrap_err();
    assert!(matches!(err, Error::Forbidden(_)), "{err:?}");
    assert!(matches!(other.require_subject("voter_id", "alice"), Err(Error::Forbidden(_))));
    other.require_subject("voter_id", "mallory").unwrap();
    assert!(matches!(other.require_role(ORDER_CALLBACK_ROLE), Err(Error::Forbidden(_))));
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn refused_tokens_are_logged_by_reason_never_quoted() {
    use axum::extract::FromRequestParts;
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber =
        tracing_subscriber::fmt().with_max_level(tracing::Level::TRACE).with_writer(move || writer.clone()).finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let tokens = [forged_token("alice", &[]), expired_token("alice", &[]), alg_none_token("alice", &[])];
    for token in &tokens {
        let request = axum::http::Request::builder()
            .uri("/polls/")
            .header(AUTHORIZATION, format!("Bearer {token}"))
            .extension(authenticator())
            .body(())
            .unwrap();
        let (mut parts, ()) = request.into_parts();
        assert!(Caller::from_request_parts(&mut parts, &()).await.is_err());
    }
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    assert!(text.contains("bad_signature") && text.contains("expired"), "{text}");
    for token in &tokens {
        let signature_or_payload = token.split('.').nth(1).unwrap();
        assert!(!text.contains(signature_or_payload), "a token appears in the logs: {text}");
    }
}
