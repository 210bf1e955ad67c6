//! The kit against the real binaries, built from the workspace: every environment variable
//! compose and the Kubernetes manifests set is one the binary accepts (its `--help`), and with
//! the engine and every satellite running against the local RabbitMQ and PostgreSQL, every
//! metric the dashboard and the alert rules read is exported, and the health check paths of
//! compose and Kubernetes answer 200.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use vote_opskit::binaries::{self, BinTarget, shipped_binaries};
use vote_opskit::kit::{self, compose_environment, scalar};
use vote_opskit::metrics::{PROMETHEUS_SERIES, RABBITMQ_METRICS, exported_names, promql_metric_names, sampled_names};
use vote_runtime::testing::{amqp_url, database_url, free_port, fresh_database, unique_name};

/// Metrics whose every label value comes from the data (one series per law counted in the
/// database): a fresh database has none, so they have no sample before the first vote.
const SERIES_OF_DATA: &[&str] = &["current_vote_totals"];

/// How long a service may take to become ready, and a metric to show up.
const PATIENCE: Duration = Duration::from_secs(60);

/// The shipped binaries, built once per test process.
fn built() -> &'static (Vec<BinTarget>, BTreeMap<String, PathBuf>) {
    static BUILT: OnceLock<(Vec<BinTarget>, BTreeMap<String, PathBuf>)> = OnceLock::new();
    BUILT.get_or_init(|| {
        let bins = shipped_binaries().unwrap_or_else(|e| panic!("{e}"));
        let paths = binaries::build(&bins).unwrap_or_else(|e| panic!("{e}"));
        (bins, paths)
    })
}

#[test]
fn every_variable_compose_and_k8s_set_is_one_the_binary_accepts() {
    let (bins, paths) = built();
    let accepted: BTreeMap<&str, BTreeSet<String>> = bins
        .iter()
        .map(|b| (b.name.as_str(), binaries::accepted_env(&paths[&b.name]).unwrap_or_else(|e| panic!("{e}"))))
        .collect();
    assert!(accepted["vote-engine"].contains("PROMETHEUS_PORT") && accepted["vote-engine"].contains("RABBITMQ_HOST"));
    assert!(accepted["loadgen"].contains("DATABASE_URL"), "read from the subcommands' help too");
    let mut unknown = Vec::new();

    let compose = kit::compose().unwrap();
    for bin in bins {
        for key in compose_environment(&compose["services"][&bin.name]).keys() {
            if !accepted[bin.name.as_str()].contains(key) {
                unknown.push(format!("compose.yaml: {} sets {key}", bin.name));
            }
        }
    }

    let documents = kit::k8s_documents().unwrap();
    for deployment in kit::of_kind(&documents, "Deployment") {
        for container in deployment["spec"]["template"]["spec"]["containers"].as_array().unwrap() {
            let name = container["name"].as_str().unwrap();
            let Some(known) = accepted.get(name) else {
                unknown.push(format!("k8s: container {name} is not a binary of the workspace"));
                continue;
            };
            for key in kit::container_environment(container, &documents).unwrap() {
                if !known.contains(&key) {
                    unknown.push(format!("k8s: {name} gets {key}"));
                }
            }
        }
    }
    assert!(unknown.is_empty(), "variables the binaries do not accept:\n{}", unknown.join("\n"));
}

/// A binary running for the test; killed when dropped.
struct Running {
    name: String,
    port: u16,
    child: Child,
    log: PathBuf,
}

impl Running {
    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `database_url()` pointing at `dbname` instead (credentials kept).
fn database_url_of(dbname: &str) -> String {
    let base = database_url();
    let (head, _) = base.rsplit_once('/').expect("a database URL with a path");
    format!("{head}/{dbname}")
}

/// Names shared by the services of one run: unique, so parallel runs never meet.
struct Run {
    exchange: String,
    notifications: String,
    engine_queue: String,
    databases: BTreeMap<&'static str, String>,
    logs: PathBuf,
}

impl Run {
    /// A run where each domain has a database of its own, or (`shared`) where every service
    /// uses one database, as a small deployment with one `DATABASE_URL` does.
    async fn new(shared: bool) -> Self {
        const DOMAINS: [&str; 5] = ["engine", "poll", "election", "ordering", "notification"];
        let mut databases = BTreeMap::new();
        if shared {
            let url = database_url_of(fresh_database("opskit_shared").await.dbname());
            databases.extend(DOMAINS.map(|domain| (domain, url.clone())));
        }
        for domain in DOMAINS {
            if !databases.contains_key(domain) {
                databases.insert(domain, database_url_of(fresh_database(&format!("opskit_{domain}")).await.dbname()));
            }
        }
        let logs = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_name("opskit"));
        std::fs::create_dir_all(&logs).expect("log directory");
        Self {
            exchange: unique_name("opskit_events"),
            notifications: unique_name("opskit_notifications"),
            engine_queue: unique_name("opskit_votes"),
            databases,
            logs,
        }
    }

    /// The settings of `name` for this run: the contract's settings, on the local servers,
    /// with this run's names and a free port.
    fn settings(&self, name: &str, port: u16, order_service_port: u16) -> Vec<(String, String)> {
        let port = port.to_string();
        let queue = unique_name(&format!("opskit_{}", name.replace('-', "_")));
        let mut env: Vec<(&str, String)> = match name {
            "vote-engine" => {
                return [
                    ("AMQP_URL", amqp_url()),
                    ("DATABASE_URL", self.databases["engine"].clone()),
                    ("RABBITMQ_QUEUE", self.engine_queue.clone()),
                    ("PROMETHEUS_PORT", port),
                    ("LOG_LEVEL", "warn".to_owned()),
                    ("LOG_FORMAT", "text".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            }
            "results-service" => {
                return [
                    ("DATABASE_URL", self.databases["engine"].clone()),
                    ("HTTP_PORT", port),
                    ("LOG_LEVEL", "warn".to_owned()),
                    ("LOG_FORMAT", "text".to_owned()),
                ]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect();
            }
            "vote-intake" => {
                let mut env = vote_satellite_kit::auth::testing::env();
                env.extend([
                    ("AMQP_URL", amqp_url()),
                    ("RABBITMQ_QUEUE", self.engine_queue.clone()),
                    ("DATABASE_URL", self.databases["engine"].clone()),
                    ("INTAKE_RECEIPT_KEY", "opskit-receipt-key-0123456789abcdef0123456789".to_owned()),
                    ("HTTP_PORT", port),
                    ("LOG_LEVEL", "warn".to_owned()),
                    ("LOG_FORMAT", "text".to_owned()),
                ]);
                return env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
            }
            "poll-service" => vec![("MQ_QUEUE", queue), ("DATABASE_URL", self.databases["poll"].clone())],
            "meeting-service" | "election-service" => {
                vec![("MQ_QUEUE", queue), ("DATABASE_URL", self.databases["election"].clone())]
            }
            "order-service" => vec![("DATABASE_URL", self.databases["ordering"].clone())],
            "inventory-service" => vec![
                ("MQ_DEAD_LETTER_QUEUE", format!("{queue}.dlq")),
                ("MQ_QUEUE", queue),
                ("DATABASE_URL", self.databases["ordering"].clone()),
            ],
            "order-callback" => {
                vec![("MQ_QUEUE", queue), ("ORDER_SERVICE_URL", format!("http://127.0.0.1:{order_service_port}"))]
            }
            "notification-service" => vec![
                ("MQ_QUEUE", queue),
                ("NOTIFICATIONS_QUEUE", self.notifications.clone()),
                ("DATABASE_URL", self.databases["notification"].clone()),
            ],
            "matchmaking-service" => vec![("NOTIFICATIONS_QUEUE", self.notifications.clone())],
            other => panic!("{other} is a new service: give it its settings here"),
        };
        env.extend(vote_satellite_kit::auth::testing::env());
        env.extend([
            ("AMQP_URL", amqp_url()),
            ("MQ_EXCHANGE", self.exchange.clone()),
            ("HTTP_PORT", port),
            ("LOG_LEVEL", "warn".to_owned()),
            ("LOG_FORMAT", "text".to_owned()),
        ]);
        env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    fn start(&self, name: &str, executable: &PathBuf, port: u16, env: Vec<(String, String)>) -> Running {
        let log = self.logs.join(format!("{name}.log"));
        let out = File::create(&log).expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(executable)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(env)
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .unwrap_or_else(|e| panic!("start {name}: {e}"));
        Running { name: name.to_owned(), port, child, log }
    }
}

async fn wait_ready(http: &reqwest::Client, service: &mut Running) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Ok(Some(status)) = service.child.try_wait() {
            panic!("{} exited with {status} before it was ready:\n{}", service.name, service.log());
        }
        if let Ok(response) = http.get(service.url("/readyz")).send().await
            && response.status() == 200
        {
            return;
        }
        assert!(Instant::now() < deadline, "{} not ready after {PATIENCE:?}:\n{}", service.name, service.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn scrape(http: &reqwest::Client, service: &Running) -> BTreeSet<String> {
    exported_names(&scrape_text(http, service).await)
}

async fn scrape_text(http: &reqwest::Client, service: &Running) -> String {
    let response = http.get(service.url("/metrics")).send().await.expect("GET /metrics");
    assert_eq!(response.status(), 200, "{} /metrics", service.name);
    response.text().await.expect("metrics text")
}

/// Whether `name` comes from Prometheus itself or RabbitMQ's plugin rather than a binary.
fn external(name: &str) -> bool {
    PROMETHEUS_SERIES.contains(&name) || (name.starts_with("rabbitmq_") && RABBITMQ_METRICS.contains(&name))
}

async fn wait_exported(http: &reqwest::Client, service: &Running, names: &[&str]) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let exported = scrape(http, service).await;
        if names.iter().all(|n| exported.contains(*n)) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "{} never exported {names:?}; it exports {exported:?}\n{}",
            service.name,
            service.log()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn vote(hash: &str, citizen: &str) -> String {
    format!(
        r#"{{"vote_hash":"{hash}","citizen_id":"{citizen}","law_id":"law-opskit","choice":"oui","timestamp":"2025-11-14T12:00:00Z"}}"#
    )
}

/// Metric names of the dashboard and the alert rules, with where each is used.
fn metrics_read_by_the_kit() -> BTreeMap<String, String> {
    let mut used = BTreeMap::new();
    for (title, expr) in kit::dashboard_queries("grafana/dashboards/vote-platform.json").unwrap() {
        for name in promql_metric_names(&expr).unwrap() {
            used.entry(name).or_insert_with(|| format!("dashboard panel `{title}`"));
        }
    }
    for rule in kit::alert_rules().unwrap() {
        for name in promql_metric_names(&rule.expr).unwrap() {
            used.entry(name).or_insert_with(|| format!("alert {}", rule.name));
        }
    }
    used
}

/// Starts every service of the workspace with `run`'s settings and waits until each is ready.
async fn start_every_service(
    run: &Run,
    http: &reqwest::Client,
) -> (BTreeMap<&'static str, Vec<(String, String)>>, Vec<Running>) {
    let (bins, paths) = built();
    let ports: BTreeMap<&str, u16> =
        bins.iter().filter(|b| b.is_service()).map(|b| (b.name.as_str(), free_port())).collect();
    let order_service_port = ports.get("order-service").copied().unwrap_or_default();
    let settings: BTreeMap<&str, Vec<(String, String)>> =
        ports.iter().map(|(name, port)| (*name, run.settings(name, *port, order_service_port))).collect();
    let mut running: Vec<Running> =
        settings.iter().map(|(name, env)| run.start(name, &paths[*name], ports[name], env.clone())).collect();
    for service in &mut running {
        wait_ready(http, service).await;
    }
    (settings, running)
}

/// One database for everything: every service migrates its schema beside the others' (the
/// shared outbox table made once) and becomes ready, and the history tables say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_can_share_one_database() {
    let run = Run::new(true).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let (settings, running) = start_every_service(&run, &http).await;
    assert!(running.len() >= 9, "every service started: {:?}", running.iter().map(|r| &r.name).collect::<Vec<_>>());
    let db = vote_runtime::postgres::DbTarget::parse(&run.databases["engine"]).unwrap().connect().await.unwrap();
    let histories: Vec<String> = db
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_name LIKE '%schema_history' ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    for schema in ["election", "vote_engine", "notification", "ordering", "outbox", "poll"] {
        assert!(histories.iter().any(|h| h.starts_with(schema)), "no {schema} history in {histories:?}");
    }
    drop(running);
    delete_queues(settings.values().flatten()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_running_binaries_export_what_the_kit_reads_and_answer_its_probes() {
    let (_, paths) = built();
    let run = Run::new(false).await;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().unwrap();
    let (settings, running) = start_every_service(&run, &http).await;
    let by_name: BTreeMap<&str, &Running> = running.iter().map(|r| (r.name.as_str(), r)).collect();

    // Before any vote or event, every metric the kit reads already has a sample (counters at 0),
    // so the dashboard and `rate()` show 0 rather than no data.
    let mut sampled = BTreeSet::new();
    for service in &running {
        sampled.extend(sampled_names(&scrape_text(&http, service).await));
    }
    let unsampled: Vec<String> = metrics_read_by_the_kit()
        .into_iter()
        .filter(|(name, _)| !external(name) && !SERIES_OF_DATA.contains(&name.as_str()) && !sampled.contains(name))
        .map(|(name, used_by)| format!("{name} (read by {used_by})"))
        .collect();
    assert!(unsampled.is_empty(), "metrics with no sample before the first event:\n{}", unsampled.join("\n"));
    let engine_text = scrape_text(&http, by_name["vote-engine"]).await;
    for name in ["aggregation_errors_total", "votes_rejected_total", "duplicate_votes_total", "votes_aggregated_total"]
    {
        assert!(sampled_names(&engine_text).contains(name), "a fresh engine exports no {name} sample");
    }

    // Labelled series exist once something happened: a vote counted, a duplicate, a reject,
    // and a database error (a vote the database refuses, like the engine's poison-row test).
    let engine_db = vote_runtime::postgres::DbTarget::parse(&run.databases["engine"]).unwrap();
    engine_db
        .connect()
        .await
        .unwrap()
        .batch_execute("ALTER TABLE vote_audit ADD CONSTRAINT opskit_refused CHECK (citizen_id <> 'opskit-refused')")
        .await
        .unwrap();
    let sent = Command::new(&paths["loadgen"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs([("AMQP_URL", amqp_url()), ("RABBITMQ_QUEUE", run.engine_queue.clone())])
        .arg("send")
        .args([
            vote("opskit-1", "c1"),
            vote("opskit-1", "c1"),
            "not json".to_owned(),
            vote("opskit-2", "opskit-refused"),
        ])
        .output()
        .unwrap();
    assert!(sent.status.success(), "loadgen send: {}", String::from_utf8_lossy(&sent.stderr));
    wait_exported(&http, by_name["vote-engine"], &["votes_aggregated_total", "aggregation_errors_total"]).await;

    // A poll created and closed by a manager of its meeting: an event published.
    let poll = by_name["poll-service"];
    let manager = vote_satellite_kit::auth::testing::token("opskit", &["manager:m1"]);
    let created: Value = http
        .post(poll.url("/polls/"))
        .bearer_auth(&manager)
        .json(&serde_json::json!({"vote": {"meeting_id": "m1", "pollType": "single", "options": ["A", "B"]}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let uuid = created["uuid"].as_str().unwrap_or_else(|| panic!("no uuid in {created}"));
    let closed = http.post(poll.url(&format!("/polls/{uuid}/close"))).bearer_auth(&manager).send().await.unwrap();
    assert_eq!(closed.status(), 200);
    wait_exported(&http, poll, &["events_published_total", "http_requests_total"]).await;

    let mut exported = BTreeSet::new();
    for service in &running {
        exported.extend(scrape(&http, service).await);
    }
    let mut missing = Vec::new();
    for (name, used_by) in metrics_read_by_the_kit() {
        if !exported.contains(&name) && !external(&name) {
            missing.push(format!("{name} (read by {used_by})"));
        }
    }
    assert!(missing.is_empty(), "metrics nobody exports:\n{}\nexported: {exported:?}", missing.join("\n"));

    // Kubernetes probes and compose health checks, against the running binaries.
    let documents = kit::k8s_documents().unwrap();
    for deployment in kit::of_kind(&documents, "Deployment") {
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let service = by_name[container["name"].as_str().unwrap()];
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if let Some(path) = container[probe]["httpGet"]["path"].as_str() {
                let status = http.get(service.url(path)).send().await.unwrap().status();
                assert_eq!(status, 200, "{} {probe} {path}", service.name);
            }
        }
    }
    let compose = kit::compose().unwrap();
    let probe = kit::docker_dir().join("probe.sh");
    for service in &running {
        let test: Vec<String> =
            compose["services"][&service.name]["healthcheck"]["test"].as_array().unwrap().iter().map(scalar).collect();
        let path = &test[3];
        let status = Command::new("bash").arg(&probe).arg(service.port.to_string()).arg(path).status().unwrap();
        assert!(status.success(), "compose healthcheck of {}: probe {path}", service.name);
    }
    let closed_port = free_port().to_string();
    let refused = Command::new("bash").arg(&probe).arg(&closed_port).arg("/readyz").stderr(Stdio::null()).status();
    assert!(!refused.unwrap().success(), "the probe fails when nothing listens");
    let engine_port = by_name["vote-engine"].port.to_string();
    let not_found = Command::new("bash").arg(&probe).arg(&engine_port).arg("/nowhere").status().unwrap();
    assert!(!not_found.success(), "the probe fails on a 404");

    drop(by_name);
    drop(running);
    delete_queues(settings.values().flatten()).await;
}

/// Deletes the queues a run declared (and their dead-letter queues), so runs leave no queues.
async fn delete_queues(settings: impl Iterator<Item = &(String, String)>) {
    let mut queues = BTreeSet::new();
    for (key, value) in settings {
        match key.as_str() {
            "RABBITMQ_QUEUE" | "MQ_QUEUE" | "NOTIFICATIONS_QUEUE" => {
                queues.insert(value.clone());
                queues.insert(format!("{value}.dlq"));
            }
            "MQ_DEAD_LETTER_QUEUE" => {
                queues.insert(value.clone());
            }
            _ => {}
        }
    }
    let broker = vote_mq::AmqpUrl::parse(&amqp_url()).expect("TEST_AMQP_URL");
    for queue in queues {
        vote_mq::admin::delete_queue(&broker, &queue).await.unwrap_or_else(|e| panic!("delete {queue}: {e}"));
    }
}
