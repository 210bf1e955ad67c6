//! Helpers for tests (feature `testing`): settings with unique names and fast retries, a
//! running service with its HTTP base URL, an HTTP client that returns `(status, JSON)`, broker
//! helpers to publish, listen and read dead-letter queues, and checks of a binary's start-up
//! contract. Tests against the real servers fail loudly when a server is missing, never skip.

use std::collections::HashMap;
use std::fmt::Debug;
use std::future::Future;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::task::JoinHandle;
use vote_mq::{
    AmqpUrl, Delivery, Envelope, OutgoingMessage, Publisher, QueueTopology, RedeliveryPolicy, Subscription,
    SubscriptionConfig,
};
use vote_runtime::CancellationToken;
use vote_runtime::config::LogSettings;
use vote_runtime::logging::LogFormat;
pub use vote_runtime::testing::metric;
use vote_runtime::testing::{amqp_url, unique_name};

use crate::Error;
use crate::auth::{self, AuthArgs};
use crate::config::{QueueSettings, ServiceSettings};
use crate::contract::Contract;

/// How long the waiting helpers wait before failing the test.
pub const PATIENCE: Duration = Duration::from_secs(10);
/// Pause between two looks.
const TICK: Duration = Duration::from_millis(25);

/// The broker tests use (TEST_AMQP_URL).
pub fn broker() -> AmqpUrl {
    AmqpUrl::parse(&amqp_url()).expect("TEST_AMQP_URL is not a valid AMQP URL")
}

/// Three attempts, 20 ms apart doubling to 50 ms: retries that finish within a test.
pub fn fast_retries() -> RedeliveryPolicy {
    RedeliveryPolicy { max_attempts: 3, initial_delay: Duration::from_millis(20), max_delay: Duration::from_millis(50) }
}

/// Service settings on the test broker: `exchange` (make it unique per test), HTTP on a free
/// port with the default limits but no rate limit (tests send requests as fast as they can;
/// the limit has its own tests), text logs.
pub fn service_settings(exchange: &str, service_name: &str) -> ServiceSettings {
    ServiceSettings {
        amqp_url: broker(),
        exchange: exchange.to_owned(),
        service_name: service_name.to_owned(),
        http_port: 0,
        http: crate::limits::HttpLimits { rate: None, ..crate::limits::HttpLimits::default() },
        queue_type: vote_mq::QueueType::Classic,
        logs: LogSettings { level: "info".to_owned(), format: Some(LogFormat::Text) },
        auth: test_auth_args(),
    }
}

/// AUTH_* trusting the test identity provider's keys ([`crate::auth::testing`]).
pub fn test_auth_args() -> AuthArgs {
    AuthArgs {
        auth_mode: "enabled".to_owned(),
        auth_jwks_file: Some(auth::testing::jwks_file()),
        auth_issuer: Some(auth::testing::ISSUER.to_owned()),
        auth_audience: Some(auth::testing::AUDIENCE.to_owned()),
    }
}

/// A queue with a unique name starting with `prefix`, dead-lettering to `<queue>.dlq`, bound
/// to `bindings`, with [`fast_retries`].
pub fn queue_settings(prefix: &str, bindings: &[&str]) -> QueueSettings {
    let mut queue = QueueSettings::direct(&unique_name(prefix), fast_retries());
    queue.bindings = bindings.iter().map(|b| (*b).to_owned()).collect();
    queue
}

/// Waits until `check` says yes, for at most [`PATIENCE`]; panics naming `what` otherwise.
pub async fn wait_until<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(TICK).await;
    }
    panic!("{what}: not within {PATIENCE:?}");
}

/// A service running in the test, stopped with [`Running::stop`].
pub struct Running {
    /// `http://127.0.0.1:<port>`.
    pub base: String,
    token: CancellationToken,
    task: JoinHandle<Result<(), Error>>,
}

impl Running {
    /// Spawns `run` (the service's `run_until_stopped`) and waits until the service on `port`
    /// answers `/readyz` with 200.
    pub async fn start<F, Fut>(port: u16, run: F) -> Self
    where
        F: FnOnce(CancellationToken) -> Fut,
        Fut: Future<Output = Result<(), Error>> + Send + 'static,
    {
        let token = CancellationToken::new();
        let task = tokio::spawn(run(token.clone()));
        let running = Self { base: format!("http://127.0.0.1:{port}"), token, task };
        let client = Http::default();
        let url = running.url("/readyz");
        wait_until(&format!("{url} ready"), || async { client.get(&url).await.0 == 200 }).await;
        running
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Stops the service and checks it stopped cleanly.
    pub async fn stop(self) {
        self.token.cancel();
        let outcome = tokio::time::timeout(PATIENCE, self.task).await.expect("the service stops in time");
        outcome.expect("the service did not panic").expect("the service stopped cleanly");
    }
}

/// An HTTP client whose calls return the status and the JSON body (`Null` when not JSON). It
/// sends no credentials unless made with [`Http::as_caller`] or [`Http::with_token`]. Every
/// answer is checked against the OpenAPI document of the service that gave it
/// ([`crate::contract`]): a test that gets an answer the document does not allow fails.
#[derive(Clone, Default)]
pub struct Http {
    client: reqwest::Client,
    token: Option<String>,
    contracts: Arc<Mutex<HashMap<String, Arc<Contract>>>>,
}

impl Http {
    /// A client authenticated as `subject` holding `roles`, by a token of the test identity
    /// provider.
    pub fn as_caller(subject: &str, roles: &[&str]) -> Self {
        Self::with_token(&auth::testing::token(subject, roles))
    }

    /// A client sending `Authorization: Bearer <token>`.
    pub fn with_token(token: &str) -> Self {
        Self { token: Some(token.to_owned()), ..Self::default() }
    }

    fn request(&self, method: reqwest::Method, url: &str) -> reqwest::RequestBuilder {
        let request = self.client.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    /// `GET url`; a status of 0 means the server did not answer.
    pub async fn get(&self, url: &str) -> (u16, Value) {
        self.answer(reqwest::Method::GET, url, None, self.request(reqwest::Method::GET, url).send().await).await
    }

    /// `POST url` with a JSON body given as text (so tests can send malformed JSON).
    pub async fn post(&self, url: &str, body: &str) -> (u16, Value) {
        self.send(reqwest::Method::POST, url, body).await
    }

    /// `PATCH url` with a JSON body given as text.
    pub async fn patch(&self, url: &str, body: &str) -> (u16, Value) {
        self.send(reqwest::Method::PATCH, url, body).await
    }

    /// `PUT url` with a JSON body given as text.
    pub async fn put(&self, url: &str, body: &str) -> (u16, Value) {
        self.send(reqwest::Method::PUT, url, body).await
    }

    /// `method url` with a JSON body given as text.
    pub async fn send(&self, method: reqwest::Method, url: &str, body: &str) -> (u16, Value) {
        let request =
            self.request(method.clone(), url).header("content-type", "application/json").body(body.to_owned());
        self.answer(method, url, Some(body), request.send().await).await
    }

    /// The body of `GET url` as text (for `/metrics`).
    pub async fn text(&self, url: &str) -> String {
        self.request(reqwest::Method::GET, url).send().await.expect("GET").text().await.expect("body")
    }

    /// Polls `GET url` until `check` accepts a 200 body, for at most [`PATIENCE`].
    pub async fn get_until(&self, url: &str, check: impl Fn(&Value) -> bool) -> Value {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        let mut last = Value::Null;
        while tokio::time::Instant::now() < deadline {
            let (status, body) = self.get(url).await;
            if status == 200 && check(&body) {
                return body;
            }
            last = body;
            tokio::time::sleep(TICK).await;
        }
        panic!("GET {url} never matched; last body: {last}");
    }

    /// The status and JSON body of `response` to `method url`, checked against the service's
    /// document.
    async fn answer(
        &self,
        method: reqwest::Method,
        url: &str,
        sent: Option<&str>,
        response: reqwest::Result<reqwest::Response>,
    ) -> (u16, Value) {
        let Ok(response) = response else { return (0, Value::Null) };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let body = response.bytes().await.unwrap_or_default();
        let url = url::Url::parse(url).expect("a full URL");
        let contract = self.contract_of(&url).await;
        contract.check(method.as_str(), url.path(), sent, status, &content_type, &body);
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }

    /// The contract of the service at `url`'s origin, fetched once per client.
    async fn contract_of(&self, url: &url::Url) -> Arc<Contract> {
        let origin = url.origin().ascii_serialization();
        if let Some(contract) = self.contracts.lock().unwrap_or_else(|p| p.into_inner()).get(&origin) {
            return contract.clone();
        }
        let document: Value = self
            .client
            .get(format!("{origin}/openapi.json"))
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .unwrap_or_else(|e| panic!("{origin} serves no OpenAPI document: {e}"))
            .json()
            .await
            .unwrap_or_else(|e| panic!("{origin}/openapi.json is not JSON: {e}"));
        let contract = Arc::new(Contract::new(document));
        self.contracts.lock().unwrap_or_else(|p| p.into_inner()).insert(origin, contract.clone());
        contract
    }
}

/// Publishes `body` to `exchange` (empty: the default exchange, routing key = queue) with a
/// confirm, and `message_id` when given.
pub async fn publish(exchange: &str, routing_key: &str, body: Vec<u8>, message_id: Option<String>) {
    let publisher = Publisher::connect(&broker(), "satellite-test").await.expect("RabbitMQ must be running");
    let mut message = OutgoingMessage::json(exchange, routing_key, body);
    message.message_id = message_id;
    publisher.publish(&message).await.expect("publish confirmed");
    publisher.close().await;
}

/// Publishes an envelope to `exchange` (routing key = event type).
pub async fn publish_event(exchange: &str, event: &Envelope) {
    publish(exchange, &event.event_type, event.to_bytes(), Some(event.event_id.to_string())).await;
}

/// A subscription to `pattern` on `exchange` through a fresh queue, to observe published events.
pub async fn listen(exchange: &str, pattern: &str) -> Subscription {
    let queue = unique_name("listen");
    let config = SubscriptionConfig {
        topology: QueueTopology::new(&queue, &format!("{queue}.dlx"), &format!("{queue}.dlq")),
        bindings: Some((exchange.to_owned(), vec![pattern.to_owned()])),
        prefetch: 10,
        name: queue,
    };
    Subscription::open(&broker(), &config).await.expect("RabbitMQ must be running")
}

/// The next event on `subscription`, within [`PATIENCE`], checked against `docs/asyncapi.yaml`.
pub async fn next_event(subscription: &mut Subscription) -> Envelope {
    let delivery = tokio::time::timeout(PATIENCE, subscription.recv()).await.expect("an event in time").unwrap();
    subscription.acker().ack(delivery.tag, false).await.unwrap();
    crate::contract::events().check(&delivery.routing_key, &delivery.body);
    serde_json::from_slice(&delivery.body).unwrap()
}

/// Asserts nothing more arrives on `subscription` for `wait`.
pub async fn no_event(subscription: &mut Subscription, wait: Duration) {
    if let Ok(Some(d)) = tokio::time::timeout(wait, subscription.recv()).await {
        panic!("unexpected event: {}", String::from_utf8_lossy(&d.body));
    }
}

/// Takes what reached `queue` (a dead-letter queue), waiting up to [`PATIENCE`] for `n`
/// messages; returns what came.
pub async fn take(queue: &str, n: usize) -> Vec<Delivery> {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    let mut seen = Vec::new();
    loop {
        seen.extend(vote_mq::take_messages(&broker(), queue, n - seen.len()).await.expect("read the queue"));
        if seen.len() >= n || tokio::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Messages ready in `queue`, without taking them: `0` for a dead-letter queue means nothing
/// was dead-lettered (a take with a limit of 0 would not even look).
pub async fn ready_messages(queue: &str) -> u32 {
    vote_mq::admin::message_count(&broker(), queue).await.expect("RabbitMQ must be running")
}

/// The message of an [`Error::Invalid`]; panics on anything else.
pub fn invalid<T: Debug>(result: Result<T, Error>) -> String {
    match result {
        Err(Error::Invalid(m)) => m,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

/// A password for test values: a message that quotes it leaks a secret.
pub const SECRET: &str = "hunter2";

/// How long a binary given a bad setting or `--help` may take to exit.
const EXIT_PATIENCE: Duration = Duration::from_secs(20);

/// Runs `binary` with only `env` set, and `args`: exit code, stdout, stderr. Panics when it is
/// still running after [`EXIT_PATIENCE`] (it accepted the settings and started), killing it.
pub fn run_command(binary: &str, env: &[(&str, &str)], args: &[&str]) -> (Option<i32>, String, String) {
    let mut child = Command::new(binary)
        .env_clear()
        .envs(env.iter().copied())
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the binary");
    let started = std::time::Instant::now();
    while child.try_wait().expect("wait for the binary").is_none() {
        if started.elapsed() > EXIT_PATIENCE {
            let _ = child.kill();
            let out = child.wait_with_output().expect("collect the binary's output");
            panic!("{binary} {env:?} {args:?} still running: {}", String::from_utf8_lossy(&out.stderr));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("collect the binary's output");
    let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
    (out.status.code(), text(&out.stdout), text(&out.stderr))
}

/// Asserts that `binary` refuses `variable=value` the contract's way: exit code 2, one line
/// naming the variable, [`SECRET`] not quoted. The other AUTH_* settings are valid.
pub fn assert_refused(binary: &str, variable: &str, value: &str) {
    let mut env: Vec<(&str, String)> = auth::testing::env();
    env.retain(|(name, _)| *name != variable);
    env.push((variable, value.to_owned()));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (code, _, stderr) = run_command(binary, &env, &[]);
    assert_eq!(code, Some(2), "{binary} {variable}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{binary} {variable}: {stderr}");
    assert!(stderr.contains(variable), "{binary} {variable}: {stderr}");
    assert!(!stderr.contains(SECRET), "{binary} {variable}: {stderr}");
}

/// `binary --help` with URLs carrying [`SECRET`] in the environment: exits 0, shows every one of
/// `expected`, and never the secret.
pub fn assert_help_shows(binary: &str, expected: &[&str]) {
    let env = [("AMQP_URL", "amqp://u:hunter2@broker/"), ("DATABASE_URL", "postgres://u:hunter2@db/x")];
    let (code, help, _) = run_command(binary, &env, &["--help"]);
    assert_eq!(code, Some(0), "{binary}");
    for text in expected {
        assert!(help.contains(text), "{binary}: {text} not in {help}");
    }
    assert!(!help.contains(SECRET), "{binary}: {help}");
}
