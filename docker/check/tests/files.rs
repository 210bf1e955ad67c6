//! The kit's files against each other and against the workspace, without running anything:
//! the Dockerfile builds and packages every binary, compose runs every service with health
//! checks and credentials from `.env`, Prometheus scrapes what compose runs, the alert rules and
//! the dashboard are valid PromQL, and the Kubernetes manifests parse and line up.

use std::collections::BTreeSet;

use serde_json::Value;
use vote_opskit::binaries::{BinTarget, shipped_binaries};
use vote_opskit::kit::{self, compose_environment, scalar};
use vote_opskit::metrics::promql_metric_names;

/// The in-cluster RabbitMQ (Kubernetes service DNS, namespace rabbitmq-dev).
const RABBITMQ_IN_CLUSTER: &str = "rabbitmq.rabbitmq-dev.svc.cluster.local";
/// The broker's users and permissions in compose, written by scripts/rabbitmq-users.sh.
const BROKER_DEFINITIONS: &str = "./rabbitmq/definitions.json";

/// The broker user a deployment or compose service connects as: its component's name.
fn broker_component(service: &str) -> &str {
    match service {
        "vote-engine" => "engine",
        "loadgen" => "producer",
        other => other,
    }
}

/// The user of an `amqp://user:password@host...` URL.
fn url_user(url: &str) -> &str {
    url.split_once("://").and_then(|(_, rest)| rest.split_once(':')).map_or("", |(user, _)| user)
}

/// `scripts/rabbitmq-users.sh` with `args`: its standard output.
fn broker_users_script(args: &[&str]) -> String {
    let script = kit::docker_dir().join("../scripts/rabbitmq-users.sh");
    let output = std::process::Command::new(&script).args(args).output().expect("run rabbitmq-users.sh");
    assert!(output.status.success(), "rabbitmq-users.sh {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

fn shipped() -> Vec<BinTarget> {
    let bins = shipped_binaries().expect("cargo metadata");
    assert!(bins.iter().any(|b| b.name == "vote-engine"), "vote-engine missing from {bins:?}");
    bins
}

fn services() -> Vec<BinTarget> {
    shipped().into_iter().filter(BinTarget::is_service).collect()
}

/// The port a service's binary listens on, from its compose environment.
fn compose_port(service: &Value) -> Option<String> {
    let env = compose_environment(service);
    env.get("PROMETHEUS_PORT").or_else(|| env.get("HTTP_PORT")).cloned()
}

fn compose_service<'a>(compose: &'a Value, name: &str) -> &'a Value {
    let service = &compose["services"][name];
    assert!(service.is_object(), "compose.yaml has no service {name}");
    service
}

#[test]
fn dockerfile_builds_and_packages_every_binary() {
    let text = kit::read("Dockerfile").unwrap();
    let instructions = kit::dockerfile_instructions(&text);
    let build = instructions
        .iter()
        .find(|i| i.starts_with("RUN ") && i.contains("cargo build"))
        .expect("a RUN with cargo build");
    let words: Vec<&str> = build.split_whitespace().collect();
    assert!(words.contains(&"--release") && words.contains(&"--locked"), "{build}");
    assert!(
        instructions.iter().any(|i| i.starts_with("FROM rust:") && i.ends_with(" AS builder")),
        "the builder stage is a rust image"
    );
    for bin in shipped() {
        let name = bin.name.as_str();
        assert!(words.windows(2).any(|w| w == ["--bin", name]), "cargo build does not build {name}: {build}");
        assert!(build.contains(&format!("target/release/{name} ")), "the build does not copy {name} out: {build}");
        let stage = instructions
            .iter()
            .position(|i| i == &format!("FROM runtime AS {name}"))
            .unwrap_or_else(|| panic!("no `FROM runtime AS {name}` stage"));
        let body: Vec<&String> = instructions[stage + 1..].iter().take_while(|i| !i.starts_with("FROM ")).collect();
        assert!(
            body.iter().any(|i| *i == &format!("COPY --from=builder /out/{name} /usr/local/bin/{name}")),
            "stage {name} does not copy its binary: {body:?}"
        );
        assert!(
            body.iter().any(|i| *i == &format!("ENTRYPOINT [\"/usr/local/bin/{name}\"]")),
            "stage {name} does not run its binary: {body:?}"
        );
        assert!(text.contains(&format!("--target {name} ")), "the header does not say how to build {name}");
    }
}

#[test]
fn dockerfile_runtime_is_slim_unprivileged_and_without_credentials() {
    let text = kit::read("Dockerfile").unwrap();
    let instructions = kit::dockerfile_instructions(&text);
    let start = instructions.iter().position(|i| i.ends_with(" AS runtime")).expect("a runtime stage");
    assert!(instructions[start].starts_with("FROM debian:"), "{}", instructions[start]);
    let runtime: Vec<&String> = instructions[start + 1..].iter().take_while(|i| !i.starts_with("FROM ")).collect();
    assert!(runtime.iter().any(|i| i.contains("ca-certificates") && i.contains("--no-install-recommends")));
    let user = runtime.iter().find_map(|i| i.strip_prefix("USER ")).expect("a USER in the runtime stage");
    let uid = user.split(':').next().unwrap_or_default();
    assert!(uid.parse::<u32>().is_ok_and(|uid| uid != 0), "runtime user {user} must be a non-root uid");
    assert!(runtime.iter().any(|i| i.contains("docker/probe.sh /usr/local/bin/probe")), "the probe is installed");
    for instruction in &instructions {
        let upper = instruction.to_uppercase();
        assert!(
            !(upper.starts_with("ENV ") || upper.starts_with("ARG ")) || !upper.contains("PASSWORD"),
            "no credential in the image: {instruction}"
        );
    }
    let ignore = kit::read("Dockerfile.dockerignore").unwrap();
    let ignored: BTreeSet<&str> = ignore.lines().map(str::trim).collect();
    assert!(ignored.contains("target") && ignored.contains(".git"), "the build context leaves out target and .git");
    assert!(
        !ignored.iter().any(|l| *l == "docker" || *l == "docker/check"),
        "docker/check is a workspace member and must stay in the context"
    );
}

#[test]
fn compose_runs_every_binary_from_its_image_target() {
    let compose = kit::compose().unwrap();
    for bin in shipped() {
        let service = compose_service(&compose, &bin.name);
        assert_eq!(service["build"]["target"], bin.name.as_str(), "{}: build target", bin.name);
        assert_eq!(service["build"]["dockerfile"], "docker/Dockerfile", "{}", bin.name);
        assert_eq!(service["build"]["context"], "..", "{}: the context is the repository root", bin.name);
        if !bin.is_service() {
            assert!(
                service["profiles"].as_array().is_some_and(|p| !p.is_empty()),
                "{} is a tool: behind a profile, started with `compose run`",
                bin.name
            );
        }
    }
    for infrastructure in ["rabbitmq", "postgres", "prometheus", "grafana"] {
        compose_service(&compose, infrastructure);
    }
}

#[test]
fn compose_healthchecks_and_dependencies() {
    let compose = kit::compose().unwrap();
    let all = compose["services"].as_object().expect("services");
    let tools: BTreeSet<String> = shipped().into_iter().filter(|b| !b.is_service()).map(|b| b.name).collect();
    for (name, service) in all {
        if !tools.contains(name) {
            assert!(service["healthcheck"]["test"].is_array(), "{name} has no healthcheck");
        }
        for (dependency, condition) in service["depends_on"].as_object().into_iter().flatten() {
            assert_eq!(condition["condition"], "service_healthy", "{name} -> {dependency}");
            assert!(
                all.get(dependency).is_some_and(|d| d["healthcheck"].is_object()),
                "{dependency} has no healthcheck"
            );
        }
    }
    for bin in services() {
        let service = compose_service(&compose, &bin.name);
        let port = compose_port(service).unwrap_or_else(|| panic!("{}: no PROMETHEUS_PORT / HTTP_PORT", bin.name));
        let test: Vec<String> = service["healthcheck"]["test"].as_array().unwrap().iter().map(scalar).collect();
        assert_eq!(test, ["CMD", "probe", port.as_str(), "/readyz"], "{}", bin.name);
        let depends: BTreeSet<&String> = service["depends_on"].as_object().expect("depends_on").keys().collect();
        let env = compose_environment(service);
        let uses_broker = env.keys().any(|k| k == "AMQP_URL" || k.starts_with("RABBITMQ_"));
        let needed = if uses_broker { "rabbitmq" } else { "postgres" };
        assert!(depends.iter().any(|d| *d == needed), "{} waits for {needed}", bin.name);
        let publishes =
            service["ports"].as_array().into_iter().flatten().map(scalar).any(|p| p.ends_with(&format!(":{port}")));
        assert!(publishes, "{} publishes its port {port}", bin.name);
    }
}

#[test]
fn compose_credentials_come_from_the_env_file() {
    let text = kit::read("compose.yaml").unwrap();
    let compose = kit::compose().unwrap();
    let defined = kit::env_file_names(&kit::read(".env.example").unwrap());
    for variable in kit::compose_required_variables(&text) {
        assert!(defined.contains(&variable), "compose.yaml needs {variable}, .env.example does not define it");
    }
    for (name, service) in compose["services"].as_object().unwrap() {
        for (key, value) in compose_environment(service) {
            let secret = ["PASSWORD", "PASS"].iter().any(|s| key.ends_with(s));
            if secret {
                assert!(value.starts_with("${"), "{name}: {key} must come from .env, not be written down");
            }
            if let Some((_, rest)) = value.split_once("://")
                && let Some((credentials, _)) = rest.split_once('@')
            {
                assert!(credentials.contains(":${"), "{name}: {key} holds a written-down password");
            }
        }
        for volume in service["volumes"].as_array().into_iter().flatten().map(scalar) {
            if volume.starts_with("./") {
                let source = volume.split(':').next().unwrap();
                if source == BROKER_DEFINITIONS {
                    // Made from docker/.env's passwords before `up`, as compose.yaml's header says.
                    assert!(
                        text.contains("docker/rabbitmq/definitions.json"),
                        "compose.yaml says how to make {source}"
                    );
                    continue;
                }
                assert!(kit::kit_path_exists(source), "{name} mounts {source}, which is not in docker/");
            }
        }
    }
    let example = kit::read(".env.example").unwrap();
    assert!(example.contains("cp docker/.env.example docker/.env"), ".env.example says how to make docker/.env");
    let ignored = kit::read(".gitignore").unwrap();
    assert!(ignored.lines().any(|l| l.trim() == ".env"), "docker/.env stays out of git");
}

#[test]
fn rabbitmq_has_management_prometheus_and_consistent_hash_plugins() {
    let plugins = kit::read("rabbitmq/enabled_plugins").unwrap();
    for plugin in ["rabbitmq_management", "rabbitmq_prometheus", "rabbitmq_consistent_hash_exchange"] {
        assert!(plugins.contains(plugin), "{plugin} missing: {plugins}");
    }
    assert!(plugins.trim_end().ends_with("]."), "an Erlang term ending in `].`: {plugins}");
    let compose = kit::compose().unwrap();
    let rabbitmq = compose_service(&compose, "rabbitmq");
    assert!(rabbitmq["image"].as_str().is_some_and(|i| i.contains("management")));
    let volumes: Vec<String> = rabbitmq["volumes"].as_array().unwrap().iter().map(scalar).collect();
    assert!(volumes.iter().any(|v| v.contains(":/etc/rabbitmq/enabled_plugins")), "{volumes:?}");
}

#[test]
fn prometheus_scrapes_every_service_and_rabbitmq_per_object() {
    let config = kit::yaml_file("prometheus/prometheus.yml").unwrap();
    let compose = kit::compose().unwrap();
    let jobs = config["scrape_configs"].as_array().expect("scrape_configs");
    let targets_of = |job: &Value| -> Vec<String> {
        job["static_configs"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|c| c["targets"].as_array().unwrap().clone())
            .map(|t| scalar(&t))
            .collect()
    };
    for bin in services() {
        let port = compose_port(compose_service(&compose, &bin.name)).unwrap();
        let job =
            jobs.iter().find(|j| j["job_name"] == bin.name.as_str()).unwrap_or_else(|| panic!("no job {}", bin.name));
        assert_eq!(targets_of(job), [format!("{}:{port}", bin.name)], "job {}", bin.name);
        assert!(job["metrics_path"].is_null() || job["metrics_path"] == "/metrics");
    }
    let rabbitmq = jobs.iter().find(|j| j["job_name"] == "rabbitmq").expect("a rabbitmq job");
    assert_eq!(targets_of(rabbitmq), ["rabbitmq:15692"]);
    assert_eq!(rabbitmq["metrics_path"], "/metrics/per-object", "per-queue series need the per-object endpoint");
    let rule_files: Vec<String> = config["rule_files"].as_array().unwrap().iter().map(scalar).collect();
    assert_eq!(rule_files, ["/etc/prometheus/alerts.yml"]);
    let mounts: Vec<String> =
        compose_service(&compose, "prometheus")["volumes"].as_array().unwrap().iter().map(scalar).collect();
    assert!(mounts.contains(&"./prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro".to_owned()), "{mounts:?}");
}

#[test]
fn alert_rules_parse_and_cover_the_operators_needs() {
    let rules = kit::alert_rules().unwrap();
    for rule in &rules {
        promql_metric_names(&rule.expr).unwrap_or_else(|e| panic!("{}: {e}", rule.name));
        assert!(rule.rule["labels"]["severity"].is_string(), "{}: severity", rule.name);
        assert!(rule.rule["annotations"]["summary"].is_string(), "{}: summary", rule.name);
    }
    let find = |name: &str| {
        rules
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("no alert {name}"))
            .expr
            .replace(char::is_whitespace, "")
    };
    assert!(find("DeadLetterQueueGrowing").contains("rabbitmq_queue_messages{queue=~"));
    assert!(find("VoteEngineDown").starts_with("up{job=\"vote-engine\"}==0"));
    assert!(find("VoteEngineNotConsuming").contains("rabbitmq_queue_consumers{queue=\"votes.aggregation\"}"));
    let latency = find("VoteLatencyOverTarget");
    assert!(
        latency.starts_with("histogram_quantile(0.99,") && latency.contains("vote_end_to_end_latency_seconds_bucket")
    );
    assert!(latency.ends_with(">0.05"), "p99 over 50 ms: {latency}");
    let stalled = find("VotesStalledWhileQueueGrows");
    assert!(stalled.contains("batch_size_processed_total") && stalled.contains("rabbitmq_queue_messages_ready"));
}

#[test]
fn dashboard_queries_parse_and_use_the_provisioned_datasource() {
    let datasources = kit::yaml_file("grafana/provisioning/datasources/prometheus.yaml").unwrap();
    let datasource = &datasources["datasources"][0];
    assert_eq!(datasource["type"], "prometheus");
    assert_eq!(datasource["url"], "http://prometheus:9090", "the compose service");
    let uid = datasource["uid"].as_str().expect("a fixed datasource uid");

    let relative = "grafana/dashboards/vote-platform.json";
    let queries = kit::dashboard_queries(relative).unwrap();
    let mut all = BTreeSet::new();
    for (title, expr) in &queries {
        all.extend(promql_metric_names(expr).unwrap_or_else(|e| panic!("panel {title}: {e}")));
    }
    for needed in [
        "batch_size_processed_total",
        "votes_aggregated_total",
        "current_vote_totals",
        "vote_end_to_end_latency_seconds_bucket",
        "batch_size_votes_bucket",
        "batch_processing_duration_seconds_bucket",
        "duplicate_votes_total",
        "votes_rejected_total",
        "db_retries_total",
        "plain_insert_fallbacks_total",
        "broker_reconnects_total",
        "consumer_stalls_total",
        "rabbitmq_queue_messages_ready",
    ] {
        assert!(all.contains(needed), "the dashboard does not show {needed}");
    }
    let dashboard: Value = serde_json::from_str(&kit::read(relative).unwrap()).unwrap();
    let text = dashboard.to_string();
    for panel in dashboard["panels"].as_array().unwrap().iter().filter(|p| p["type"] != "row") {
        assert_eq!(panel["datasource"]["uid"], uid, "panel {}", panel["title"]);
    }
    assert!(!text.contains("${DS_"), "no datasource inputs left to fill in on import");
    let ids: Vec<u64> = dashboard["panels"].as_array().unwrap().iter().filter_map(|p| p["id"].as_u64()).collect();
    assert_eq!(ids.len(), ids.iter().collect::<BTreeSet<_>>().len(), "panel ids are unique");

    let providers = kit::yaml_file("grafana/provisioning/dashboards/vote-platform.yaml").unwrap();
    let path = providers["providers"][0]["options"]["path"].as_str().unwrap();
    let compose = kit::compose().unwrap();
    let grafana = compose_service(&compose, "grafana");
    let mounts: Vec<String> = grafana["volumes"].as_array().unwrap().iter().map(scalar).collect();
    assert!(mounts.contains(&format!("./grafana/dashboards:{path}:ro")), "{mounts:?}");
    assert!(mounts.contains(&"./grafana/provisioning:/etc/grafana/provisioning:ro".to_owned()), "{mounts:?}");
    let home = compose_environment(grafana).get("GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH").cloned().unwrap();
    assert_eq!(home, format!("{path}/vote-platform.json"));
    let env = compose_environment(grafana);
    assert!(env["GF_SECURITY_ADMIN_PASSWORD"].starts_with("${GRAFANA_ADMIN_PASSWORD"));
}

#[test]
fn k8s_manifests_parse_and_cover_every_service() {
    let documents = kit::k8s_documents().unwrap();
    assert!(!documents.is_empty());
    for (path, document) in &documents {
        for field in ["apiVersion", "kind"] {
            assert!(document[field].is_string(), "{}: a document without {field}", path.display());
        }
        if document["kind"] != "Kustomization" {
            assert!(document["metadata"]["name"].is_string(), "{}: a document without a name", path.display());
        }
    }
    kit::named(&documents, "Namespace", "vote-platform").expect("the vote-platform Namespace");
    let namespaces: BTreeSet<&str> =
        kit::of_kind(&documents, "Namespace").iter().filter_map(|n| n["metadata"]["name"].as_str()).collect();
    for (path, document) in &documents {
        let kind = document["kind"].as_str().unwrap();
        if !["Namespace", "Kustomization"].contains(&kind) {
            let namespace = document["metadata"]["namespace"].as_str().unwrap_or_default();
            assert!(
                namespaces.contains(namespace),
                "{} {kind}: namespace {namespace:?} not among {namespaces:?}",
                path.display()
            );
        }
    }
    let deployments = kit::of_kind(&documents, "Deployment");
    for deployment in &deployments {
        assert_eq!(deployment["metadata"]["namespace"], "vote-platform", "{}", deployment["metadata"]["name"]);
    }
    let names: BTreeSet<&str> = deployments.iter().filter_map(|d| d["metadata"]["name"].as_str()).collect();
    let expected: BTreeSet<String> = services().into_iter().map(|b| b.name).collect();
    assert_eq!(names, expected.iter().map(String::as_str).collect(), "one Deployment per service binary");
    for name in &expected {
        assert!(kit::named(&documents, "Service", name).is_some(), "no Service {name}");
        assert!(kit::named(&documents, "ConfigMap", name).is_some(), "no ConfigMap {name}");
    }
}

#[test]
fn k8s_probes_ports_and_references_line_up() {
    let documents = kit::k8s_documents().unwrap();
    for deployment in kit::of_kind(&documents, "Deployment") {
        let name = deployment["metadata"]["name"].as_str().unwrap();
        let spec = &deployment["spec"]["template"]["spec"];
        assert_eq!(deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"], name);
        assert_eq!(deployment["spec"]["template"]["metadata"]["labels"]["app.kubernetes.io/name"], name);
        assert_eq!(spec["securityContext"]["runAsNonRoot"], true, "{name}");
        assert_eq!(spec["enableServiceLinks"], false, "{name}: link variables would clash with settings");
        let containers = spec["containers"].as_array().unwrap();
        assert_eq!(containers.len(), 1, "{name}");
        let container = &containers[0];
        assert_eq!(container["name"], name);
        assert!(container["image"].as_str().is_some_and(|i| i.starts_with(&format!("vote-platform/{name}:"))));
        let port = &container["ports"][0];
        let port_name = port["name"].as_str().unwrap();
        assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz", "{name}");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz", "{name}");
        for probe in ["livenessProbe", "readinessProbe", "startupProbe"] {
            if container[probe].is_object() {
                assert_eq!(container[probe]["httpGet"]["port"], port_name, "{name} {probe}");
            }
        }
        let config = kit::named(&documents, "ConfigMap", name).unwrap();
        let listen = config["data"]["PROMETHEUS_PORT"].as_str().or(config["data"]["HTTP_PORT"].as_str()).unwrap();
        assert_eq!(listen, port["containerPort"].to_string(), "{name}: the binary listens where the probes look");
        let annotations = &deployment["spec"]["template"]["metadata"]["annotations"];
        assert_eq!(annotations["prometheus.io/port"], listen, "{name}");
        let service = kit::named(&documents, "Service", name).unwrap();
        assert_eq!(service["spec"]["ports"][0]["targetPort"], port_name, "{name}");
        assert_eq!(service["spec"]["selector"]["app.kubernetes.io/name"], name, "{name}");
        for env in container["env"].as_array().into_iter().flatten() {
            if let Some(reference) = env["valueFrom"]["secretKeyRef"].as_object() {
                let secret = kit::named(&documents, "Secret", reference["name"].as_str().unwrap())
                    .unwrap_or_else(|| panic!("{name}: Secret {} missing", reference["name"]));
                let key = reference["key"].as_str().unwrap();
                assert!(secret["stringData"][key].is_string() || secret["data"][key].is_string(), "{name}: key {key}");
            }
        }
        kit::container_environment(container, &documents).unwrap();
    }
}

#[test]
fn k8s_reaches_rabbitmq_by_its_in_cluster_name() {
    let documents = kit::k8s_documents().unwrap();
    let secret = kit::named(&documents, "Secret", "vote-platform-credentials").expect("the credentials Secret");
    let mut with_broker = BTreeSet::new();
    for deployment in kit::of_kind(&documents, "Deployment") {
        let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        let env: Vec<&Value> = container["env"].as_array().into_iter().flatten().collect();
        // Services without a broker (results-service) set no AMQP_URL; the others take their own
        // user's URL from the Secret.
        let Some(amqp) = env.iter().find(|e| e["name"] == "AMQP_URL") else { continue };
        let key = format!("amqp-url-{}", broker_component(name));
        assert_eq!(amqp["valueFrom"]["secretKeyRef"]["key"], key.as_str(), "{name}: AMQP_URL from the Secret");
        let url = secret["stringData"][&key].as_str().unwrap_or_else(|| panic!("no {key}"));
        assert!(url.contains(&format!("@{RABBITMQ_IN_CLUSTER}:5672/")), "{url}");
        assert_eq!(url_user(url), broker_component(name), "{name} connects as its own broker user");
        with_broker.insert(name.to_owned());
    }
    assert!(with_broker.contains("vote-engine") && with_broker.contains("poll-service"), "{with_broker:?}");
    for config in kit::of_kind(&documents, "ConfigMap") {
        for (key, value) in config["data"].as_object().into_iter().flatten() {
            assert!(!key.contains("PASSWORD") && !value.to_string().contains("CHANGE_ME"), "no credential in {key}");
        }
    }
}

/// Every component that talks to the broker does so as its own user, in compose and in
/// Kubernetes, and the definitions the broker loads give each exactly what the script grants.
#[test]
fn each_component_has_its_own_broker_user_with_the_script_s_permissions() {
    let compose = kit::compose().unwrap();
    let mut users = BTreeSet::new();
    for (name, service) in compose["services"].as_object().unwrap() {
        let environment = compose_environment(service);
        let user = match (environment.get("AMQP_URL"), environment.get("RABBITMQ_USER")) {
            (Some(url), _) => url_user(url).to_owned(),
            (None, Some(user)) => user.clone(),
            (None, None) => continue,
        };
        assert_eq!(user, broker_component(name), "{name} connects to the broker as its own user");
        users.insert(user);
    }
    assert!(users.len() >= 10, "{users:?}");
    let definitions: Value = serde_json::from_str(&broker_users_script(&[
        "env-definitions",
        &kit::docker_dir().join(".env.example").to_string_lossy(),
    ]))
    .expect("the definitions are JSON");
    let defined: BTreeSet<String> =
        definitions["users"].as_array().unwrap().iter().map(|u| scalar(&u["name"])).collect();
    for user in &users {
        assert!(defined.contains(user), "no broker user {user} in the definitions");
        let permission =
            definitions["permissions"].as_array().unwrap().iter().find(|p| p["user"] == user.as_str()).unwrap();
        let granted = format!(
            "{} {} {}\n",
            scalar(&permission["configure"]),
            scalar(&permission["write"]),
            scalar(&permission["read"])
        );
        assert_eq!(granted, broker_users_script(&["patterns", user]), "{user}'s permissions");
        let user_entry = definitions["users"].as_array().unwrap().iter().find(|u| u["name"] == user.as_str()).unwrap();
        assert_eq!(user_entry["tags"], "", "{user} is no administrator");
    }
    // Kubernetes: the broker loads its definitions from its Secret.
    let documents = kit::k8s_documents().unwrap();
    let broker =
        kit::of_kind(&documents, "StatefulSet").into_iter().find(|s| s["metadata"]["name"] == "rabbitmq").unwrap();
    let mounts = broker["spec"]["template"]["spec"]["containers"][0]["volumeMounts"].as_array().unwrap();
    assert!(mounts.iter().any(|m| m["mountPath"] == "/etc/rabbitmq/definitions.json"), "{mounts:?}");
    let config =
        kit::of_kind(&documents, "ConfigMap").into_iter().find(|c| c["metadata"]["name"] == "rabbitmq").unwrap();
    assert!(
        scalar(&config["data"]["20-definitions.conf"]).contains("load_definitions = /etc/rabbitmq/definitions.json")
    );
    assert!(
        kit::read("rabbitmq/definitions.conf").unwrap().contains("load_definitions = /etc/rabbitmq/definitions.json")
    );
}

#[test]
fn kustomization_lists_every_manifest() {
    let kustomization = kit::yaml_file("k8s/kustomization.yaml").unwrap();
    let listed: BTreeSet<String> = kustomization["resources"].as_array().unwrap().iter().map(scalar).collect();
    let files: BTreeSet<String> = kit::k8s_files()
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, files);
    let images: BTreeSet<String> =
        kustomization["images"].as_array().unwrap().iter().map(|i| scalar(&i["name"])).collect();
    let expected: BTreeSet<String> = services().into_iter().map(|b| format!("vote-platform/{}", b.name)).collect();
    assert_eq!(images, expected);
    assert!(
        kustomization["namespace"].is_null(),
        "a kustomization namespace would move RabbitMQ and PostgreSQL out of their own namespaces"
    );
}

#[test]
fn sharded_engines_cover_every_shard_once_and_keda_scales_each_set_on_its_shards() {
    let base = kit::k8s_documents().unwrap();
    let documents = kit::k8s_documents_in("k8s/sharded").unwrap();
    let kustomization = kit::yaml_file("k8s/sharded/kustomization.yaml").unwrap();
    let listed: BTreeSet<String> = kustomization["resources"].as_array().unwrap().iter().map(scalar).collect();
    let files: BTreeSet<String> = kit::k8s_files_in("k8s/sharded")
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    assert_eq!(listed, files, "the sharded kustomization lists every manifest");

    let config = kit::named(&documents, "ConfigMap", "vote-engine-shards").expect("the shard sets' ConfigMap");
    let shards: u16 = scalar(&config["data"]["VOTE_SHARDS"]).parse().expect("VOTE_SHARDS");
    let queue = scalar(&config["data"]["RABBITMQ_QUEUE"]);
    let mut covered = Vec::new();
    let deployments = kit::of_kind(&documents, "Deployment");
    assert!(deployments.len() >= 2, "several shard sets");
    for deployment in deployments {
        let name = deployment["metadata"]["name"].as_str().unwrap();
        let container = &deployment["spec"]["template"]["spec"]["containers"][0];
        assert!(container["image"].as_str().is_some_and(|i| i.starts_with("vote-platform/vote-engine:")), "{name}");
        assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz", "{name}");
        assert_eq!(container["envFrom"][0]["configMapRef"]["name"], "vote-engine-shards", "{name}");
        let env = container["env"].as_array().unwrap();
        let indexes = env.iter().find(|e| e["name"] == "SHARD_INDEXES").map(|e| scalar(&e["value"])).unwrap();
        let own: BTreeSet<String> = indexes.split(',').map(|i| format!("{queue}.{}", i.trim())).collect();
        covered.extend(indexes.split(',').map(|i| i.trim().parse::<u16>().unwrap()));
        for reference in env.iter().filter_map(|e| e["valueFrom"]["secretKeyRef"].as_object()) {
            let secret = kit::named(&base, "Secret", reference["name"].as_str().unwrap()).expect("a base Secret");
            assert!(secret["stringData"][reference["key"].as_str().unwrap()].is_string(), "{name}: {reference:?}");
        }

        // Its ScaledObject watches exactly its own shards.
        let scaled = kit::of_kind(&documents, "ScaledObject")
            .into_iter()
            .find(|s| s["spec"]["scaleTargetRef"]["name"] == name)
            .unwrap_or_else(|| panic!("no ScaledObject scales {name}"));
        assert!(scaled["spec"]["minReplicaCount"].as_u64() >= Some(1), "{name}: its shards are always consumed");
        let triggers = scaled["spec"]["triggers"].as_array().unwrap();
        let watched: BTreeSet<String> = triggers.iter().map(|t| scalar(&t["metadata"]["queueName"])).collect();
        assert_eq!(watched, own, "{name}: scaled on the depth of its own shards");
        for trigger in triggers {
            assert_eq!(trigger["type"], "rabbitmq");
            assert_eq!(trigger["metadata"]["mode"], "QueueLength");
            let auth = scalar(&trigger["authenticationRef"]["name"]);
            let auth = kit::named(&documents, "TriggerAuthentication", &auth).expect("its TriggerAuthentication");
            let host = &auth["spec"]["secretTargetRef"][0];
            assert_eq!(host["parameter"], "host");
            let secret = kit::named(&base, "Secret", host["name"].as_str().unwrap()).expect("a base Secret");
            let url = scalar(&secret["stringData"][host["key"].as_str().unwrap()]);
            assert!(url.starts_with("amqp://engine:"), "KEDA reads the depth as the engine's broker user: {url}");
        }
    }
    covered.sort_unstable();
    assert_eq!(covered, (0..shards).collect::<Vec<_>>(), "every shard consumed by exactly one set");
}

/// The host and port of the URL under `key` in the credentials Secret.
fn secret_url_host(documents: &[(std::path::PathBuf, Value)], key: &str) -> String {
    let secret = kit::named(documents, "Secret", "vote-platform-credentials").expect("the credentials Secret");
    let url = secret["stringData"][key].as_str().unwrap_or_else(|| panic!("no {key}"));
    let after_credentials = url.split_once('@').map(|(_, rest)| rest).unwrap_or(url);
    after_credentials.split('/').next().unwrap().to_owned()
}

/// RabbitMQ and PostgreSQL run in the kit (`kubectl apply -k` brings up the whole platform): a
/// StatefulSet each with a persistent volume, probes, the password (RabbitMQ: its users'
/// definitions) from a Secret of its own namespace, and a Service at the host and port the services' URLs name.
#[test]
fn k8s_runs_rabbitmq_and_postgres_with_volumes_probes_and_secret_passwords() {
    let documents = kit::k8s_documents().unwrap();
    for (name, namespace, password_variable, port, url_key, data_path) in [
        ("rabbitmq", "rabbitmq-dev", "", 5672, "amqp-url-engine", "/var/lib/rabbitmq"),
        ("postgres", "postgres-dev", "POSTGRES_PASSWORD", 5432, "poll-database-url", "/var/lib/postgresql/data"),
    ] {
        let in_namespace = |kind: &str| {
            kit::of_kind(&documents, kind)
                .into_iter()
                .find(|d| d["metadata"]["name"] == name && d["metadata"]["namespace"] == namespace)
                .unwrap_or_else(|| panic!("no {kind} {name} in {namespace}"))
        };
        let set = in_namespace("StatefulSet");
        let claim = &set["spec"]["volumeClaimTemplates"][0];
        assert!(claim["spec"]["resources"]["requests"]["storage"].is_string(), "{name}: a persistent volume");
        let container = &set["spec"]["template"]["spec"]["containers"][0];
        let mounted = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["name"] == claim["metadata"]["name"] && m["mountPath"] == data_path);
        assert!(mounted, "{name}: the volume holds {data_path}");
        for probe in ["livenessProbe", "readinessProbe"] {
            assert!(container[probe]["exec"]["command"].is_array(), "{name}: {probe}");
            assert!(container[probe]["timeoutSeconds"].as_u64().unwrap_or(1) >= 5, "{name}: {probe} timeout");
        }
        let secret = in_namespace("Secret");
        if password_variable.is_empty() {
            // RabbitMQ's users and passwords are the definitions it loads from its Secret.
            let volumes = set["spec"]["template"]["spec"]["volumes"].as_array().unwrap();
            let from_secret =
                volumes.iter().find(|v| v["secret"]["secretName"] == name).expect("a volume of the Secret");
            assert!(secret["stringData"]["definitions.json"].is_string(), "{name}: the Secret holds the definitions");
            assert!(container["volumeMounts"].as_array().unwrap().iter().any(|m| m["name"] == from_secret["name"]));
        } else {
            let password =
                container["env"].as_array().unwrap().iter().find(|e| e["name"] == password_variable).unwrap();
            let reference = &password["valueFrom"]["secretKeyRef"];
            assert_eq!(reference["name"], name, "{name}: the password comes from the Secret {name}");
            assert!(
                secret["stringData"][reference["key"].as_str().unwrap()].is_string(),
                "{name}: the Secret holds the key"
            );
        }
        assert_eq!(set["spec"]["selector"]["matchLabels"]["app.kubernetes.io/name"], name);
        let service = in_namespace("Service");
        assert_eq!(service["spec"]["selector"]["app.kubernetes.io/name"], name);
        assert!(service["spec"]["ports"].as_array().unwrap().iter().any(|p| p["port"] == port), "{name}: port {port}");
        assert_eq!(secret_url_host(&documents, url_key), format!("{name}.{namespace}.svc.cluster.local:{port}"));
    }
}

/// The CloudNativePG overlay (`kubectl apply -k docker/k8s/postgres-ha/`): the base kit with its
/// single PostgreSQL server replaced by a CloudNativePG `Cluster` whose commits wait for a
/// standby only while one is healthy, every database URL of the base Secret pointed at the
/// operator's read-write Service with the same user and database, and the roles' passwords
/// read from a Secret of the form the operator reads.
#[test]
fn k8s_postgres_ha_overlay_runs_cloudnativepg_and_points_every_database_url_at_its_primary() {
    let base = kit::k8s_documents().unwrap();
    let documents = kit::k8s_documents_in("k8s/postgres-ha").unwrap();
    let kustomization = kit::yaml_file("k8s/postgres-ha/kustomization.yaml").unwrap();
    let resources: BTreeSet<String> = kustomization["resources"].as_array().unwrap().iter().map(scalar).collect();
    let patches: BTreeSet<String> =
        kustomization["patches"].as_array().unwrap().iter().map(|p| scalar(&p["path"])).collect();
    assert!(resources.contains("../"), "the overlay builds on the base kit");
    let files: BTreeSet<String> = kit::k8s_files_in("k8s/postgres-ha")
        .unwrap()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|f| f != "kustomization.yaml")
        .collect();
    let listed: BTreeSet<String> = resources.iter().filter(|r| *r != "../").chain(&patches).cloned().collect();
    assert_eq!(listed, files, "the overlay lists every file it holds");

    let cluster = kit::of_kind(&documents, "Cluster").into_iter().next().expect("a CloudNativePG Cluster");
    assert_eq!(cluster["apiVersion"], "postgresql.cnpg.io/v1");
    let (name, namespace) = (scalar(&cluster["metadata"]["name"]), scalar(&cluster["metadata"]["namespace"]));
    assert!(kit::named(&base, "Namespace", &namespace).is_some(), "the Cluster's namespace {namespace} is in the kit");
    let spec = &cluster["spec"];
    assert!(spec["instances"].as_u64() >= Some(3), "a primary and two standbys");
    let synchronous = &spec["postgresql"]["synchronous"];
    assert!(synchronous["number"].as_u64() >= Some(1), "a commit waits for a standby");
    assert_eq!(synchronous["dataDurability"], "preferred", "a lost standby never blocks commits");
    assert!(spec["storage"]["size"].is_string(), "a persistent volume per instance");
    assert_eq!(spec["affinity"]["podAntiAffinityType"], "required", "one instance per Kubernetes node");

    // The roles' passwords: the base Secret postgres, made basic-auth by the overlay.
    let owner = scalar(&spec["bootstrap"]["initdb"]["owner"]);
    let secret_name = scalar(&spec["bootstrap"]["initdb"]["secret"]["name"]);
    let base_secret = kit::of_kind(&base, "Secret")
        .into_iter()
        .find(|s| s["metadata"]["name"] == secret_name.as_str() && s["metadata"]["namespace"] == namespace.as_str())
        .unwrap_or_else(|| panic!("no Secret {secret_name} in {namespace} in the base kit"));
    assert_eq!(scalar(&base_secret["stringData"]["username"]), owner, "the Secret names the owner");
    let retyped = kit::named(&documents, "Secret", &secret_name).expect("the overlay retypes the password Secret");
    assert_eq!(retyped["type"], "kubernetes.io/basic-auth");
    let role = spec["managed"]["roles"].as_array().unwrap().iter().find(|r| r["name"] == owner.as_str()).unwrap();
    assert_eq!(role["createdb"], true, "the services create their own databases");
    assert_eq!(role["passwordSecret"]["name"], secret_name.as_str());

    // The base server and its Service are deleted, and they exist to be deleted.
    for (kind, patch) in [("StatefulSet", "without-statefulset.yaml"), ("Service", "without-service.yaml")] {
        let deletion = documents
            .iter()
            .find(|(path, _)| path.ends_with(patch))
            .map(|(_, d)| d)
            .unwrap_or_else(|| panic!("no {patch}"));
        assert_eq!(deletion["$patch"], "delete");
        assert_eq!(deletion["kind"], kind);
        let deleted = kit::named(&base, kind, deletion["metadata"]["name"].as_str().unwrap()).expect("in the base");
        assert_eq!(deleted["metadata"]["namespace"], deletion["metadata"]["namespace"]);
    }

    // Every database URL of the base Secret, host swapped for the read-write Service.
    let base_urls = kit::named(&base, "Secret", "vote-platform-credentials").unwrap()["stringData"].clone();
    let urls = &kit::named(&documents, "Secret", "vote-platform-credentials").expect("the URL patch")["stringData"];
    let primary = format!("{name}-rw.{namespace}.svc.cluster.local:5432");
    let mut patched = 0;
    for (key, url) in base_urls.as_object().unwrap().iter().filter(|(k, _)| k.ends_with("-database-url")) {
        let url = scalar(url);
        let (credentials, rest) = url.split_once('@').unwrap();
        let (_, path) = rest.split_once('/').unwrap();
        assert_eq!(scalar(&urls[key]), format!("{credentials}@{primary}/{path}"), "{key}");
        patched += 1;
    }
    assert_eq!(urls.as_object().unwrap().len(), patched, "the patch holds only the database URLs");
    assert!(patched >= 6, "{patched} database URLs");
}

/// The compose profile "ha": a pg_auto_failover monitor and two nodes built from
/// `docker/postgres-ha/`, started in order, with the application role's password from `.env`;
/// every service's database URL names the servers of POSTGRES_SERVERS (the single server by
/// default), and `.env.example` shows the value that points them at the two nodes.
#[test]
fn compose_ha_profile_runs_pg_auto_failover_and_every_database_url_can_reach_it() {
    let compose = kit::compose().unwrap();
    for (name, command, after) in [
        ("pg-monitor", "monitor", None),
        ("pg-node1", "node", Some("pg-monitor")),
        ("pg-node2", "node", Some("pg-node1")),
    ] {
        let service = compose_service(&compose, name);
        assert_eq!(service["profiles"][0], "ha", "{name}");
        assert_eq!(service["build"]["context"], "./postgres-ha", "{name}");
        assert_eq!(service["hostname"], name);
        assert_eq!(service["command"][0], command, "{name}");
        if let Some(after) = after {
            assert_eq!(service["depends_on"][after]["condition"], "service_healthy", "{name} starts after {after}");
        }
    }
    for file in ["postgres-ha/Dockerfile", "postgres-ha/entrypoint.sh"] {
        assert!(kit::kit_path_exists(file), "{file}");
    }
    let entrypoint = kit::read("postgres-ha/entrypoint.sh").unwrap();
    assert!(entrypoint.contains("pg-monitor:5432/pg_auto_failover"), "the nodes register with pg-monitor");
    for (name, service) in compose["services"].as_object().unwrap() {
        if let Some(url) = compose_environment(service).get("DATABASE_URL") {
            assert!(url.contains("@${POSTGRES_SERVERS:-postgres:5432}/"), "{name}: {url}");
            assert!(url.ends_with("?target_session_attrs=read-write"), "{name}: only the primary takes writes");
        }
    }
    let example = kit::read(".env.example").unwrap();
    assert!(example.contains("POSTGRES_SERVERS=pg-node1:5432,pg-node2:5432"), ".env.example shows the ha servers");
}
