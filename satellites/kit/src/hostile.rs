//! Hostile requests for property tests (feature `testing`): each case takes one endpoint of a
//! running service and spoils one part of a valid request (a JSON field replaced by a hostile
//! value, the whole body replaced by bytes, invalid UTF-8, deep nesting or 70 KiB, a path
//! segment, a query string, a header), sends it, and checks the service's promises: never a
//! 5xx, never an internal error text, and a refused request (4xx) leaves the database as it was.

use std::time::Duration;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{Value, json};

/// Texts that only an internal error would put in an answer.
pub const INTERNAL_MARKERS: [&str; 10] = [
    "SQLSTATE",
    "database error",
    "db error",
    "invalid byte sequence",
    "violates",
    "panicked",
    "tokio_postgres",
    "deadpool",
    "broker error",
    "database unavailable",
];

/// One endpoint and a request it accepts.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// HTTP method.
    pub method: reqwest::Method,
    /// A path it serves (with real ids, so that spoiled requests reach the handler's logic).
    pub path: String,
    /// A body it accepts (`None`: no body).
    pub body: Option<Value>,
}

impl Endpoint {
    /// `method path` with `body`.
    pub fn new(method: reqwest::Method, path: &str, body: Option<Value>) -> Self {
        Self { method, path: path.to_owned(), body }
    }
}

/// How a case spoils the request.
#[derive(Debug, Clone)]
enum Spoil {
    Field(usize, Value),
    Body(Vec<u8>),
    Nesting(usize),
    Oversized,
    PathSegment(String),
    Query(String),
    Authorization(String),
    ContentType(String),
}

fn hostile_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("\0".to_owned()),
        Just("a\0b".to_owned()),
        Just("'; DROP TABLE polls; --".to_owned()),
        Just("\u{202e}\u{feff}\u{fffd}".to_owned()),
        Just("%00".to_owned()),
        Just("../../etc/passwd".to_owned()),
        Just(String::new()),
        Just("x".repeat(10_000)),
        any::<String>(),
        "[\\x00-\\x1f]{1,8}",
    ]
}

fn hostile_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        hostile_string().prop_map(Value::String),
        Just(json!(1e308)),
        Just(json!(-1e308)),
        Just(json!(u64::MAX)),
        Just(json!(i64::MIN)),
        Just(json!(0.5)),
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn spoil() -> impl Strategy<Value = Spoil> {
    prop_oneof![
        4 => (any::<usize>(), hostile_value()).prop_map(|(i, v)| Spoil::Field(i, v)),
        1 => prop::collection::vec(any::<u8>(), 0..256).prop_map(Spoil::Body),
        1 => (20usize..3000).prop_map(Spoil::Nesting),
        1 => Just(Spoil::Oversized),
        2 => hostile_string().prop_map(Spoil::PathSegment),
        1 => hostile_string().prop_map(Spoil::Query),
        1 => "[ -~]{0,64}".prop_map(Spoil::Authorization),
        1 => "[ -~]{0,40}".prop_map(Spoil::ContentType),
    ]
}

/// The string-holding places of a JSON value, as pointers (`/vote/meeting_id`).
fn fields(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => map.iter().for_each(|(k, v)| {
            out.push(format!("{at}/{k}"));
            fields(v, format!("{at}/{k}"), out);
        }),
        Value::Array(items) => items.iter().enumerate().for_each(|(i, v)| {
            out.push(format!("{at}/{i}"));
            fields(v, format!("{at}/{i}"), out);
        }),
        _ => {}
    }
}

fn percent(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, percent_encoding::NON_ALPHANUMERIC).to_string()
}

/// Throws `cases` spoiled requests at `endpoints` of the service at `base`, as the caller of
/// `token`, on `runtime`; `snapshot` reads the database's state (compared around each refused
/// request). Panics with the failing request when a promise is broken.
pub fn throw_at(
    runtime: &tokio::runtime::Runtime,
    base: &str,
    token: &str,
    endpoints: &[Endpoint],
    cases: u32,
    snapshot: impl Fn() -> String,
) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("HTTP client");
    let config = Config { cases, failure_persistence: None, ..Config::default() };
    let mut runner = TestRunner::new(config);
    let strategy = (0..endpoints.len(), spoil());
    let outcome = runner.run(&strategy, |(index, spoil)| {
        let endpoint = &endpoints[index];
        let mut path = endpoint.path.clone();
        let mut body: Option<Vec<u8>> = endpoint.body.as_ref().map(|b| b.to_string().into_bytes());
        let mut authorization = Some(format!("Bearer {token}"));
        let mut content_type = "application/json".to_owned();
        match &spoil {
            Spoil::Field(i, value) => {
                if let Some(mut json) = endpoint.body.clone() {
                    let mut places = Vec::new();
                    fields(&json, String::new(), &mut places);
                    if let Some(place) = places.get(i % places.len().max(1))
                        && let Some(slot) = json.pointer_mut(place)
                    {
                        *slot = value.clone();
                    }
                    body = Some(json.to_string().into_bytes());
                }
            }
            Spoil::Body(bytes) => body = Some(bytes.clone()),
            Spoil::Nesting(depth) => body = Some(format!("{}{}", "[".repeat(*depth), "]".repeat(*depth)).into_bytes()),
            Spoil::Oversized => body = Some(format!("{{\"x\":\"{}\"}}", "y".repeat(70 * 1024)).into_bytes()),
            Spoil::PathSegment(text) => {
                let cut = path.trim_end_matches('/').rfind('/').unwrap_or(0);
                path = format!("{}/{}", &path[..cut], percent(text));
            }
            Spoil::Query(text) => path = format!("{path}?limit={0}&student_id={0}&user_id={0}&q={0}", percent(text)),
            Spoil::Authorization(text) => authorization = Some(text.clone()),
            Spoil::ContentType(text) => content_type = text.clone(),
        }
        let before = snapshot();
        let url = format!("{base}{path}");
        let mut request = client.request(endpoint.method.clone(), &url).header("content-type", &content_type);
        if let Some(value) = &authorization {
            request = request.header("authorization", value);
        }
        if let Some(bytes) = body {
            request = request.body(bytes);
        }
        let (status, text) = runtime.block_on(async {
            let response = request.send().await.map_err(|e| TestCaseError::fail(format!("no answer: {e}")))?;
            let status = response.status().as_u16();
            Ok::<_, TestCaseError>((status, response.text().await.unwrap_or_default()))
        })?;
        prop_assert!(status < 500, "{} {url} ({spoil:?}) answered {status}: {text}", endpoint.method);
        for marker in INTERNAL_MARKERS {
            prop_assert!(!text.contains(marker), "{} {url} ({spoil:?}) leaked {marker:?}: {text}", endpoint.method);
        }
        if status >= 400 {
            prop_assert_eq!(
                snapshot(),
                before,
                "{} {} ({:?}) was refused but changed the database",
                endpoint.method,
                url,
                spoil
            );
        }
        Ok(())
    });
    if let Err(e) = outcome {
        panic!("{e}");
    }
}
