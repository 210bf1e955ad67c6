//! Promise: anything that is not a valid vote is dead-lettered with its reason (and the field at
//! fault) and never blocks or fails the valid votes around it; valid votes at the edges of the
//! rules count. `engine/tests/it/pipeline.rs` has one message per reason; this is the long list,
//! every case written down with the reason the contract gives it, inside a loadgen backlog.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use serde_json::{Value, json};
use vote_loadgen::{Expected, LawTotals};
use vote_reliability::*;

/// A message and what the engine must make of it.
struct Case {
    body: Vec<u8>,
    /// `None`: a valid vote that must count.
    refusal: Option<(&'static str, &'static str)>,
}

const FIELDS: [&str; 5] = ["vote_hash", "citizen_id", "law_id", "choice", "timestamp"];
const TS: &str = "2025-11-14T12:00:00Z";

struct Corpus {
    /// Law prefix of the valid edge cases (and of the laws garbage names).
    prefix: String,
    cases: Vec<Case>,
    next: usize,
}

impl Corpus {
    /// A valid vote object with keys unique to this case; garbage names a law of the run, so a
    /// garbage message wrongly counted shows up as a double count.
    fn vote(&mut self) -> serde_json::Map<String, Value> {
        self.next += 1;
        let n = self.next;
        let object = json!({
            "vote_hash": format!("hostile-{n}"),
            "citizen_id": format!("hostile-citizen-{n}"),
            "law_id": format!("{}garbage", self.prefix),
            "choice": "oui",
            "timestamp": TS,
        });
        match object {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        }
    }

    fn with(&mut self, field: &str, value: Value) -> Vec<u8> {
        let mut vote = self.vote();
        vote.insert(field.to_owned(), value);
        serde_json::to_vec(&vote).expect("serializes")
    }

    fn without(&mut self, field: &str) -> Vec<u8> {
        let mut vote = self.vote();
        vote.remove(field);
        serde_json::to_vec(&vote).expect("serializes")
    }

    fn raw(&mut self) -> String {
        serde_json::to_string(&self.vote()).expect("serializes")
    }

    fn refuse(&mut self, reason: &'static str, detail: &'static str, body: Vec<u8>) {
        self.cases.push(Case { body, refusal: Some((reason, detail)) });
    }

    fn accept(&mut self, body: Vec<u8>) {
        self.cases.push(Case { body, refusal: None });
    }

    /// A valid vote on law `<prefix><law>` with `fields` overriding the defaults.
    fn valid(&mut self, law: &str, fields: Value) -> Vec<u8> {
        let mut vote = self.vote();
        vote.insert("law_id".to_owned(), json!(format!("{}{law}", self.prefix)));
        if let Value::Object(fields) = fields {
            vote.extend(fields);
        }
        serde_json::to_vec(&vote).expect("serializes")
    }
}

fn corpus(prefix: &str) -> Corpus {
    let mut c = Corpus { prefix: prefix.to_owned(), cases: Vec::new(), next: 0 };

    // Not JSON.
    let valid = c.raw();
    for body in [
        br#"{"vote_hash": "#.to_vec(),
        b"plain text, not JSON".to_vec(),
        b"{'vote_hash':'single quotes'}".to_vec(),
        Vec::new(),
        b"  \n\t ".to_vec(),
        [b"\xef\xbb\xbf".as_slice(), valid.as_bytes()].concat(),
        format!("{valid}}}").into_bytes(),
        format!("{valid} {{}}").into_bytes(),
        c.raw().replacen("hostile-", "hostile\0-", 1).into_bytes(),
        c.raw().replacen("hostile-", "hostile\n-", 1).into_bytes(),
        c.raw().replacen("hostile-citizen-", "\\ud800", 1).into_bytes(),
    ] {
        c.refuse("invalid_json", "body", body);
    }
    // Nesting past serde_json's recursion limit, inside the size limit: no stack overflow.
    let level = r#"{"event_type":"vote.cast","data":"#;
    let depth = 60 * 1024 / level.len();
    let deep = format!("{}{{}}{}", level.repeat(depth), "}".repeat(depth));
    c.refuse("invalid_json", "body", deep.into_bytes());

    // Not UTF-8.
    for bad in [b"\xff".as_slice(), b"\xc0\xaf", b"\xed\xa0\x80", b"\xe9"] {
        let body = c.raw().replacen("hostile-citizen-", "@", 1).into_bytes();
        let at = body.iter().position(|&b| b == b'@').expect("marker");
        c.refuse("invalid_utf8", "body", [&body[..at], bad, &body[at + 1..]].concat());
    }
    let mut truncated = c.raw().into_bytes();
    truncated.push(0xc3);
    c.refuse("invalid_utf8", "body", truncated);

    // NUL in any field.
    for (field, value) in [
        ("vote_hash", "nul\u{0}hash"),
        ("citizen_id", "\u{0}"),
        ("law_id", "law\u{0}"),
        ("choice", "oui\u{0}"),
        ("timestamp", "2025-11-14T12:00:00Z\u{0}"),
    ] {
        let body = c.with(field, json!(value));
        c.refuse("nul_byte", field, body);
    }

    // Wrong types, anywhere.
    for field in FIELDS {
        for value in [json!(42), json!(true), json!({"s": "x"}), json!(["x"])] {
            let body = c.with(field, value);
            c.refuse("wrong_type", "field type", body);
        }
    }
    for body in [
        b"[1,2]".to_vec(),
        br#""just a string""#.to_vec(),
        b"42".to_vec(),
        b"true".to_vec(),
        b"null".to_vec(),
        br#"{"event_type":5,"data":{}}"#.to_vec(),
        br#"{"event_type":"vote.cast","data":"x"}"#.to_vec(),
        // A repeated key is refused, not resolved one way or the other.
        c.raw().replacen(r#""choice":"oui""#, r#""choice":"non","choice":"oui""#, 1).into_bytes(),
    ] {
        c.refuse("wrong_type", "field type", body);
    }

    // Missing, null or empty fields.
    for field in FIELDS {
        let body = c.without(field);
        c.refuse("missing_field", field, body);
        let body = c.with(field, Value::Null);
        c.refuse("missing_field", field, body);
        let body = c.with(field, json!(""));
        c.refuse("empty_field", field, body);
    }
    c.refuse("missing_field", "vote_hash", b"{}".to_vec());
    c.refuse("missing_field", "data", br#"{"event_type":"vote.cast","event_id":"e"}"#.to_vec());
    let partial = c.without("law_id");
    let envelope = format!(r#"{{"event_type":"vote.cast","data":{}}}"#, String::from_utf8_lossy(&partial));
    c.refuse("missing_field", "law_id", envelope.into_bytes());

    // Over the limits: 129 bytes in any field, also when that is fewer than 129 characters.
    for field in FIELDS {
        let body = c.with(field, json!("x".repeat(129)));
        c.refuse("field_too_long", field, body);
    }
    let body = c.with("citizen_id", json!("é".repeat(65)));
    c.refuse("field_too_long", "citizen_id", body);

    // Choices that are not exactly oui or non.
    for choice in ["OUI", "Oui", "yes", " oui", "oui ", "non\t", "nonn", "peut-être", "0"] {
        let body = c.with("choice", json!(choice));
        c.refuse("invalid_choice", "choice", body);
    }

    // Timestamps that are not RFC 3339.
    for ts in [
        "2025-11-14",
        "2025-11-14T12:00:00",
        "2025-02-30T12:00:00Z",
        "2025-11-14T25:00:00Z",
        "2025-11-14T12:00:00+25:00",
        "2025-11-14T12:00Z",
        "1731585600",
        "yesterday",
        "14/11/2025 12:00",
        "+12025-11-14T12:00:00Z",
    ] {
        let body = c.with("timestamp", json!(ts));
        c.refuse("invalid_timestamp", "timestamp", body);
    }

    // Too large: 1 MiB, and one byte over 64 KiB.
    for size in [1024 * 1024, 64 * 1024 + 1] {
        let mut body = c.raw().into_bytes();
        body.resize(size, b' ');
        c.refuse("body_too_large", "body", body);
    }

    // Envelopes of another kind.
    for kind in ["meeting.created", "VOTE.CAST", "vote.cast ", ""] {
        let data = c.raw();
        c.refuse(
            "unknown_event_type",
            "event_type",
            format!(r#"{{"event_type":{},"data":{data}}}"#, json!(kind)).into_bytes(),
        );
    }

    // Valid at the edges of the rules: these count.
    let n = c.next;
    let long_law = "l".repeat(128 - prefix.len());
    let body = c.valid(&long_law, json!({"vote_hash": format!("{n:0>128}"), "citizen_id": "c".repeat(128)}));
    c.accept(body);
    let body = c.valid("multibyte", json!({"citizen_id": "é".repeat(64)}));
    c.accept(body);
    let body = c.valid("multibyte", json!({"citizen_id": "\u{1F5F3}".repeat(32), "choice": "non"}));
    c.accept(body);
    let body = c.valid("'; DROP TABLE vote_results; --", json!({"citizen_id": "Robert'); DROP TABLE vote_audit;--"}));
    c.accept(body);
    let body = c.valid("\"quoted\" \\ %_", json!({"citizen_id": "tab\tnewline\ncontrol\u{1}rtl\u{202e}"}));
    c.accept(body);
    let body = c.valid("NULL", json!({"extra": {"nested": [1, 2]}, "choice": "non"}));
    c.accept(body);
    for ts in [
        "2025-11-14T12:00:00+05:30",
        "2025-11-14T12:00:00.123456789Z",
        "2025-11-14t12:00:00z",
        "2025-11-14 12:00:00Z",
        "2016-12-31T23:59:60Z",
        "0001-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999Z",
    ] {
        let body = c.valid("timestamps", json!({"timestamp": ts}));
        c.accept(body);
    }
    // Escapes decoded (é, 中, a surrogate pair), fields in another order, pretty-printed.
    let law = format!("{prefix}escapes");
    let escaped = format!(
        "{{\n\t\"timestamp\": \"{TS}\",\n\t\"choice\": \"oui\",\n\t\"law_id\": \"{law}\",\n\t\"citizen_id\": \
         \"\\u00e9\\u4e2d\\ud83d\\uddf3-{n}\",\n\t\"vote_hash\": \"escaped-{n}\"\n}}"
    );
    c.accept(escaped.into_bytes());
    let data = String::from_utf8(c.valid("envelope", json!({}))).expect("UTF-8");
    let envelope = format!(
        r#"{{"event_type":"vote.cast","event_version":1,"event_id":"e-{n}","timestamp":"{TS}","producer":"test","data":{data}}}"#
    );
    c.accept(envelope.into_bytes());
    // Exactly 64 KiB, padding included: the limit is inclusive.
    let mut body = c.valid("at-the-size-limit", json!({}));
    body.resize(64 * 1024, b' ');
    c.accept(body);
    c
}

/// What the valid cases must add up to.
fn expected_of(corpus: &Corpus) -> Expected {
    let mut laws: BTreeMap<String, LawTotals> = BTreeMap::new();
    for case in corpus.cases.iter().filter(|c| c.refusal.is_none()) {
        let vote = vote_engine::decode::decode(&case.body).expect("the valid cases are valid");
        let law = laws.entry(vote.law_id).or_default();
        match vote.choice {
            vote_engine::decode::Choice::Oui => law.oui += 1,
            vote_engine::decode::Choice::Non => law.non += 1,
        }
    }
    Expected::from_laws(&corpus.prefix, laws.len() as u32, laws)
}

#[test]
fn every_case_gets_the_reason_the_contract_gives_it() {
    let corpus = corpus("hv-check-");
    for case in &corpus.cases {
        let got = vote_engine::decode::decode(&case.body).err().map(|r| (r.reason.as_str(), r.detail));
        let shown = String::from_utf8_lossy(&case.body[..case.body.len().min(200)]).into_owned();
        assert_eq!(got, case.refusal, "{shown}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_messages_are_dead_lettered_with_their_reason_and_the_votes_around_them_count() {
    let _turn = turn().await;
    let target = Target::fresh("hostile").await;
    let prefix = format!("hv-{}-", target.queue.rsplit('_').next().unwrap_or("0"));
    let corpus = corpus(&prefix);
    let edge = expected_of(&corpus);
    let refused: Vec<&Case> = corpus.cases.iter().filter(|c| c.refusal.is_some()).collect();
    let accepted: Vec<&Case> = corpus.cases.iter().filter(|c| c.refusal.is_none()).collect();
    // The hostile messages and the valid edge cases interleaved, between two loadgen backlogs.
    let mut bodies = Vec::with_capacity(corpus.cases.len());
    for (i, case) in refused.iter().enumerate() {
        bodies.push(case.body.clone());
        if let Some(valid) = accepted.get(i) {
            bodies.push(valid.body.clone());
        }
    }
    bodies.extend(accepted.iter().skip(refused.len()).map(|c| c.body.clone()));
    let before = publish_backlog(&target, 10_000, generator(20)).await;
    publish_bodies(&target, &bodies).await;
    let after = publish_backlog(&target, 10_000, generator(20)).await;

    let engine = target.engine().args(["--batch-size", "100"]).start().await;
    for expected in [&before, &edge, &after] {
        assert_exact(&target, expected, Duration::from_secs(120)).await;
    }
    let garbage = before.invalid_sent + after.invalid_sent + refused.len() as u64;
    wait_for_dlq(&target, garbage, Duration::from_secs(60)).await;

    // Each hand-written case carries its reason and field; loadgen's garbage its own reason.
    let mut wanted: HashMap<&[u8], Vec<(&str, &str)>> = HashMap::new();
    for case in &refused {
        wanted.entry(case.body.as_slice()).or_default().extend(case.refusal);
    }
    let mut by_reason: BTreeMap<String, usize> = BTreeMap::new();
    for letter in read_queue(&target.amqp(), &target.dlq(), garbage as usize).await {
        let reason = letter.reason.clone().expect("x-reject-reason header");
        *by_reason.entry(reason.clone()).or_default() += 1;
        let got = (reason.as_str(), letter.detail.as_deref().unwrap_or(""));
        match wanted.get_mut(letter.body.as_slice()).and_then(Vec::pop) {
            Some(want) => {
                assert_eq!(got, want, "{}", String::from_utf8_lossy(&letter.body[..letter.body.len().min(200)]))
            }
            None => {
                let refusal = vote_engine::decode::decode(&letter.body).expect_err("only garbage is dead-lettered");
                assert_eq!(got.0, refusal.reason.as_str());
            }
        }
    }
    assert!(wanted.values().all(Vec::is_empty), "hand-written cases missing from the dead-letter queue");
    println!(
        "{} hand-written hostile messages and {} valid edge cases between {} loadgen messages: dead-lettered by reason {by_reason:?}",
        refused.len(),
        accepted.len(),
        before.messages_sent + after.messages_sent
    );
    let (status, _, _) = engine.terminate(Duration::from_secs(30)).await;
    assert!(status.success(), "{status}");
    target.delete_queues().await;
}
