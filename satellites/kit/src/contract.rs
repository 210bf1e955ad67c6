//! A service's answers checked against its own OpenAPI document (feature `testing`). The
//! kit's test client ([`crate::testing::Http`]) fetches `/openapi.json` from each service it
//! talks to and checks every answer: a documented operation answers only the statuses its
//! document lists, with a body its schema accepts, and a request it accepted had a body its
//! request schema accepts; a path and method the document does not list answer only the kit's
//! own refusals (404, 405 and those of its layers). [`assert_valid_openapi`] runs the standard
//! validator (`openapi-spec-validator`) on the document, [`assert_routes_answer`] requests every
//! documented operation. [`events`] does the same for the messages of `docs/asyncapi.yaml`: every
//! event a test observes ([`crate::testing::next_event`]) must be one it describes.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use serde_json::{Value, json};

/// Statuses a request that reaches no operation may get: not found, method not allowed, and
/// the refusals of the kit's layers that run before routing.
const UNROUTED: [u16; 6] = [400, 404, 405, 408, 413, 429];

/// One service's document and the validators built from it.
pub struct Contract {
    document: Value,
    validators: Mutex<HashMap<String, Arc<jsonschema::Validator>>>,
}

impl Contract {
    /// The contract of `document` (an OpenAPI 3.1 document as JSON).
    pub fn new(document: Value) -> Self {
        Self { document, validators: Mutex::new(HashMap::new()) }
    }

    /// The document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The documented operation `method path` (path without query) resolves to, with its
    /// path template.
    pub fn operation(&self, method: &str, path: &str) -> Option<(&str, &Value)> {
        let path = path.split('?').next().unwrap_or_default();
        let path = if path.len() > 1 { path.trim_end_matches('/') } else { path };
        let paths = self.document["paths"].as_object()?;
        let method = method.to_ascii_lowercase();
        paths
            .iter()
            .filter(|(template, _)| matches_template(template, path))
            // A literal segment wins over a parameter (`/votes/batch` over `/votes/{id}`).
            .min_by_key(|(template, _)| template.matches('{').count())
            .and_then(|(template, item)| item.get(&method).map(|op| (template.as_str(), op)))
    }

    /// Panics unless the answer `status` with `content_type` and `body` to `method path`
    /// (which sent `request_body`) is one the document allows.
    pub fn check(
        &self,
        method: &str,
        path: &str,
        request_body: Option<&str>,
        status: u16,
        content_type: &str,
        body: &[u8],
    ) {
        let json_body = content_type.starts_with("application/json");
        let Some((template, operation)) = self.operation(method, path) else {
            assert!(
                UNROUTED.contains(&status),
                "{method} {path} is in no operation of the document, yet answered {status}: {}",
                String::from_utf8_lossy(body)
            );
            if json_body {
                self.validate(
                    "#/components/schemas/ErrorBody",
                    &json!({"$ref": "#/components/schemas/ErrorBody"}),
                    body,
                    || format!("{method} {path} -> {status}"),
                );
            }
            return;
        };
        let what = || format!("{method} {path} (documented as {template}) -> {status}");
        let Some(response) = operation["responses"].get(status.to_string()) else {
            panic!("{}: status not in the document: {}", what(), String::from_utf8_lossy(body));
        };
        let response = resolve(&self.document, response);
        if let Some(content) = response.get("content").and_then(Value::as_object) {
            let media = content_type.split(';').next().unwrap_or_default().trim();
            let Some(described) = content.get(media) else {
                panic!("{}: answered {media}, the document says {:?}", what(), content.keys().collect::<Vec<_>>());
            };
            if json_body && let Some(schema) = described.get("schema") {
                let key = format!("{template} {method} {status}");
                self.validate(&key, schema, body, what);
            }
        } else {
            assert!(body.is_empty(), "{}: the document describes no body, yet one came", what());
        }
        if (200..300).contains(&status)
            && let Some(schema) = operation.pointer("/requestBody/content/application~1json/schema")
            && let Some(sent) = request_body
        {
            let key = format!("{template} {method} request");
            self.validate(&key, schema, sent.as_bytes(), || format!("{method} {path}: the accepted request body"));
        }
    }

    fn validate(&self, key: &str, schema: &Value, body: &[u8], what: impl Fn() -> String) {
        let validator = {
            let mut validators = self.validators.lock().unwrap_or_else(|p| p.into_inner());
            validators
                .entry(key.to_owned())
                .or_insert_with(|| {
                    let validator = schema_validator(&self.document, schema)
                        .unwrap_or_else(|e| panic!("{}: the document's schema does not compile: {e}", what()));
                    Arc::new(validator)
                })
                .clone()
        };
        let instance: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {}", what(), String::from_utf8_lossy(body)));
        let errors: Vec<String> =
            validator.iter_errors(&instance).map(|e| format!("{} at {}", e, e.instance_path)).collect();
        assert!(errors.is_empty(), "{}: the body does not match the document: {errors:?}\nbody: {instance}", what());
    }
}

/// The messages of `docs/asyncapi.yaml`, to check the events the services publish.
pub struct Events {
    document: Value,
}

/// The platform's AsyncAPI document, read once.
pub fn events() -> &'static Events {
    static EVENTS: std::sync::OnceLock<Events> = std::sync::OnceLock::new();
    EVENTS.get_or_init(|| {
        let path = workspace().join("docs/asyncapi.yaml");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let document: Value =
            serde_norway::from_str(&text).unwrap_or_else(|e| panic!("{} is not YAML: {e}", path.display()));
        Events { document }
    })
}

impl Events {
    /// The document.
    pub fn document(&self) -> &Value {
        &self.document
    }

    /// The payload schemas of the messages of the channel at `address`.
    pub fn payloads(&self, address: &str) -> Vec<&Value> {
        let channels = self.document["channels"].as_object().expect("channels");
        channels
            .values()
            .filter(|channel| channel["address"] == address)
            .flat_map(|channel| channel["messages"].as_object().into_iter().flat_map(|m| m.values()))
            .map(|message| &resolve(&self.document, message)["payload"])
            .collect()
    }

    /// Panics unless `body`, published with `routing_key`, is a message the document allows on
    /// that channel.
    pub fn check(&self, routing_key: &str, body: &[u8]) {
        let payloads = self.payloads(routing_key);
        assert!(!payloads.is_empty(), "an event with routing key {routing_key} is in no channel of docs/asyncapi.yaml");
        let instance: Value = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{routing_key}: not JSON ({e}): {}", String::from_utf8_lossy(body)));
        let mut errors = Vec::new();
        for payload in payloads {
            let validator = self.validator(payload);
            match validator.iter_errors(&instance).map(|e| format!("{e} at {}", e.instance_path)).collect::<Vec<_>>() {
                found if found.is_empty() => return,
                found => errors.extend(found),
            }
        }
        panic!("{routing_key}: the event does not match docs/asyncapi.yaml: {errors:?}\nevent: {instance}");
    }

    /// A validator of `schema`, its `#/components/...` references resolved in the document.
    pub fn validator(&self, schema: &Value) -> jsonschema::Validator {
        schema_validator(&self.document, schema)
            .unwrap_or_else(|e| panic!("a schema of docs/asyncapi.yaml does not compile: {e}"))
    }
}

/// `value`, or what its `$ref` points to in `document`.
fn resolve<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => document
            .pointer(reference.trim_start_matches('#'))
            .unwrap_or_else(|| panic!("dangling reference {reference}")),
        None => value,
    }
}

/// A validator of `schema` (JSON Schema 2020-12, formats checked), with `document`'s components
/// beside it so that its `#/components/...` references resolve.
fn schema_validator(document: &Value, schema: &Value) -> Result<jsonschema::Validator, String> {
    let mut root = schema.clone();
    if let (Some(root), Some(components)) = (root.as_object_mut(), document.get("components")) {
        root.insert("components".to_owned(), components.clone());
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&root)
        .map_err(|e| e.to_string())
}

/// The workspace's root, where `docs/` and `.dev/tools` are.
fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn matches_template(template: &str, path: &str) -> bool {
    let mut segments = path.split('/');
    let mut parts = template.split('/');
    loop {
        match (parts.next(), segments.next()) {
            (None, None) => return true,
            (Some(part), Some(segment)) if part.starts_with('{') && part.ends_with('}') => {
                if segment.is_empty() {
                    return false;
                }
            }
            (Some(part), Some(segment)) if part == segment => {}
            _ => return false,
        }
    }
}

/// The standard OpenAPI validator the test suite installs (`scripts/test.sh`):
/// `OPENAPI_SPEC_VALIDATOR`, or `.dev/tools/bin/openapi-spec-validator` in the workspace.
fn validator_command() -> PathBuf {
    if let Some(path) = std::env::var_os("OPENAPI_SPEC_VALIDATOR") {
        return PathBuf::from(path);
    }
    workspace().join(".dev/tools/bin/openapi-spec-validator")
}

/// Panics unless `openapi-spec-validator` accepts `document` as OpenAPI 3.1.
pub fn assert_valid_openapi(document: &Value) {
    assert_eq!(document["openapi"].as_str().map(|v| v.starts_with("3.1")), Some(true), "not OpenAPI 3.1");
    let command = validator_command();
    assert!(command.exists(), "{} is missing: scripts/test.sh installs it", command.display());
    let file = std::env::temp_dir().join(format!("openapi-{}-{}.json", std::process::id(), uuid::Uuid::new_v4()));
    std::fs::write(&file, serde_json::to_vec_pretty(document).expect("JSON")).expect("write the document");
    let out = std::process::Command::new(&command).arg(&file).output().expect("run openapi-spec-validator");
    let _ = std::fs::remove_file(&file);
    assert!(
        out.status.success(),
        "openapi-spec-validator refused the document:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Panics unless the official AsyncAPI parser (`scripts/validate-asyncapi.cjs`, which
/// `scripts/test.sh` installs) accepts `docs/asyncapi.yaml` without an error.
pub fn assert_valid_asyncapi() {
    let workspace = workspace();
    let parser = workspace.join(".dev/tools/asyncapi/node_modules/@asyncapi/parser");
    assert!(parser.exists(), "{} is missing: scripts/test.sh installs it", parser.display());
    let out = std::process::Command::new("node")
        .arg(workspace.join("scripts/validate-asyncapi.cjs"))
        .arg(workspace.join("docs/asyncapi.yaml"))
        .output()
        .expect("run node (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "the AsyncAPI parser refused docs/asyncapi.yaml:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Requests every operation of the document served at `base` (path parameters filled with a
/// fresh UUID, an empty JSON object as body, no credentials) and panics if one reaches no
/// route: the kit's 404 fallback (`{"error": "not found"}`) or a 405. Then asks each path with
/// a method it does not document and expects 405: the document lists every method a path
/// answers.
pub async fn assert_routes_answer(base: &str) {
    let client = reqwest::Client::new();
    let document: Value =
        client.get(format!("{base}/openapi.json")).send().await.expect("GET /openapi.json").json().await.expect("JSON");
    let paths = document["paths"].as_object().expect("paths");
    assert!(!paths.is_empty(), "the document lists no path");
    for (template, item) in paths {
        let path: String = template
            .split('/')
            .map(|part| if part.starts_with('{') { uuid::Uuid::new_v4().to_string() } else { part.to_owned() })
            .collect::<Vec<_>>()
            .join("/");
        let methods = ["get", "put", "post", "delete", "patch"];
        for method in methods {
            let request = client
                .request(method.to_uppercase().parse().expect("method"), format!("{base}{path}"))
                .header("content-type", "application/json")
                .body("{}");
            let response = request.send().await.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
            let status = response.status().as_u16();
            // Only a 404 is read, to tell the fallback from a handler's: other answers may
            // never end (an event stream).
            let body = if status == 404 { response.json().await.unwrap_or(Value::Null) } else { Value::Null };
            if item.get(method).is_some() {
                assert_ne!(status, 405, "{method} {template} is documented, yet answers 405");
                assert!(
                    !(status == 404 && body == json!({"error": "not found"})),
                    "{method} {template} is documented, yet reaches no route"
                );
            } else {
                assert!(
                    status == 405 || (status == 404 && body == json!({"error": "not found"})),
                    "{method} {template} is not documented, yet answers {status}: {body}"
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contract() -> Contract {
        Contract::new(json!({
            "openapi": "3.1.0",
            "paths": {
                "/polls/{poll_id}": {"get": {"responses": {
                    "200": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Poll"}}}},
                    "404": {"description": "", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
                }}},
                "/polls/batch": {"post": {
                    "requestBody": {"content": {"application/json": {"schema": {"type": "object", "required": ["n"]}}}},
                    "responses": {"202": {"description": ""}}
                }}
            },
            "components": {"schemas": {
                "Poll": {"type": "object", "required": ["uuid"], "properties": {"uuid": {"type": "string"}}},
                "ErrorBody": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}}
            }}
        }))
    }

    const JSON: &str = "application/json";

    #[test]
    fn a_documented_answer_passes_and_a_literal_segment_beats_a_parameter() {
        let c = contract();
        c.check("GET", "/polls/p1/", None, 200, JSON, br#"{"uuid": "p1"}"#);
        c.check("GET", "/polls/p1?x=1", None, 404, JSON, br#"{"error": "poll p1"}"#);
        c.check("POST", "/polls/batch", Some(r#"{"n": 1}"#), 202, "", b"");
        assert_eq!(c.operation("POST", "/polls/batch").map(|(t, _)| t), Some("/polls/batch"));
    }

    #[test]
    #[should_panic(expected = "status not in the document")]
    fn an_undocumented_status_fails() {
        contract().check("GET", "/polls/p1", None, 409, JSON, br#"{"error": "x"}"#);
    }

    #[test]
    #[should_panic(expected = "does not match the document")]
    fn a_body_off_its_schema_fails() {
        contract().check("GET", "/polls/p1", None, 200, JSON, br#"{"id": "p1"}"#);
    }

    #[test]
    #[should_panic(expected = "the document says")]
    fn another_media_type_fails() {
        contract().check("GET", "/polls/p1", None, 200, "text/html", b"<p>");
    }

    #[test]
    #[should_panic(expected = "accepted request body")]
    fn an_accepted_request_off_its_schema_fails() {
        contract().check("POST", "/polls/batch", Some(r#"{"m": 1}"#), 202, "", b"");
    }

    #[test]
    fn an_undocumented_route_may_only_refuse() {
        let c = contract();
        c.check("DELETE", "/polls/p1", None, 405, JSON, br#"{"error": "method not allowed"}"#);
        c.check("GET", "/nowhere", None, 404, JSON, br#"{"error": "not found"}"#);
        let answered = std::panic::catch_unwind(|| c.check("GET", "/nowhere", None, 200, JSON, b"{}"));
        assert!(answered.is_err(), "an undocumented route that answers 200 fails the check");
    }

    /// Every `$ref` string in `value`.
    fn references(value: &Value, found: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    found.push(r.clone());
                }
                map.values().for_each(|v| references(v, found));
            }
            Value::Array(items) => items.iter().for_each(|v| references(v, found)),
            _ => {}
        }
    }

    #[test]
    fn the_asyncapi_document_is_valid_and_its_payloads_compile() {
        assert_valid_asyncapi();
        let events = events();
        let document = events.document();
        assert_eq!(document["asyncapi"], "3.0.0");
        let mut found = Vec::new();
        references(document, &mut found);
        assert!(found.len() > 40, "the document is made of references");
        for reference in found {
            assert!(document.pointer(reference.trim_start_matches('#')).is_some(), "dangling {reference}");
        }
        for (name, operation) in document["operations"].as_object().unwrap() {
            let channel = operation["channel"]["$ref"].as_str().unwrap();
            assert!(document.pointer(channel.trim_start_matches('#')).is_some(), "{name}: {channel}");
        }
        for message in document["components"]["messages"].as_object().unwrap().values() {
            events.validator(&message["payload"]);
        }
    }

    fn event(event_type: &str, data: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({
            "event_type": event_type, "event_version": 1, "event_id": uuid::Uuid::new_v4(),
            "timestamp": "2026-12-08T01:00:00Z", "producer": "test", "data": data
        }))
        .unwrap()
    }

    #[test]
    fn a_described_event_passes_and_others_fail() {
        let events = events();
        let refused = json!({"uuid": uuid::Uuid::new_v4(), "reason": "another poll"});
        events.check("voting.refused", &event("voting.refused", refused.clone()));
        let fails = |key: &str, body: Vec<u8>| std::panic::catch_unwind(|| events.check(key, &body)).is_err();
        assert!(fails("voting.refused", event("voting.refused", json!({"uuid": "not-a-uuid", "reason": "x"}))));
        assert!(fails("voting.refused", event("voting.completed", refused.clone())), "event_type is the routing key");
        assert!(fails("voting.unheard", event("voting.unheard", refused)), "a routing key of no channel");
        let vote = json!({"vote_hash": "h", "citizen_id": "c", "law_id": "l", "choice": "oui", "timestamp": "2026-12-08T01:00:00Z"});
        events.check("votes.aggregation", &serde_json::to_vec(&vote).unwrap());
        events.check("votes.aggregation", &event("vote.batch", json!([vote])));
        assert!(fails("votes.aggregation", event("vote.batch", json!([]))), "an empty batch");
    }
}
