//! Helpers for integration tests against the real servers: a fresh database per test and
//! unique broker names, so tests can run in parallel and never see each other's data.
//! Servers are found through TEST_DATABASE_URL / TEST_AMQP_URL (defaults: the local servers);
//! a missing server makes the test fail loudly, never skip. Binaries are started the way an
//! operator would start them (the seeds' variables, a port to probe) by
//! [`assert_becomes_ready`].

use std::sync::atomic::{AtomicU16, AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::postgres::DbTarget;

/// The PostgreSQL server tests use.
pub fn database_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// The RabbitMQ server tests use.
pub fn amqp_url() -> String {
    std::env::var("TEST_AMQP_URL").unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned())
}

/// A name no other test (in this or another process) uses: `prefix_<pid>_<counter>_<nanos>`.
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.subsec_nanos()).unwrap_or(0);
    format!("{prefix}_{}_{n}_{nanos}", std::process::id())
}

/// The value of one series in Prometheus text, named exactly as exported (`name` or
/// `name{labels}`); `None` when the series is absent or its value is not a number.
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
    })
}

/// Creates an empty database named `test_<prefix>_...` and returns its target.
/// Panics with a clear message when the server is unreachable.
pub async fn fresh_database(prefix: &str) -> DbTarget {
    let server = DbTarget::parse(&database_url()).expect("TEST_DATABASE_URL is not a valid PostgreSQL URL");
    let target = server.with_dbname(&unique_name(&format!("test_{prefix}")));
    target.create_database_if_missing().await.unwrap_or_else(|e| {
        panic!("PostgreSQL must be running for this test ({server}): {e}. Run scripts/setup-services.sh")
    });
    target
}

/// A port free now, below Linux's ephemeral range (32768-60999): a port the kernel hands out
/// (`bind` to port 0) can be taken, before the service binds it, as the source port of another
/// process's outgoing connection to RabbitMQ or PostgreSQL.
pub fn free_port() -> u16 {
    const FIRST: u16 = 20_000;
    const SPAN: u16 = 12_000;
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Spread concurrent test processes over the range; probe upwards from there.
    let seed = (std::process::id() % u32::from(SPAN)) as u16;
    for _ in 0..SPAN {
        let port = FIRST + (seed + NEXT.fetch_add(1, Ordering::Relaxed)) % SPAN;
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    panic!("no free port in {FIRST}..{}", FIRST + SPAN);
}

/// The test broker named the seeds' way, reached through `port` (a [`TcpProxy`]'s, so a test
/// can see the connection go where RABBITMQ_PORT says): RABBITMQ_HOST/PORT/USER/PASSWORD
/// (+ RABBITMQ_VHOST when not "/") and MQ_EXCHANGE_TYPE, no AMQP_URL.
pub fn seed_broker_env(port: u16) -> Vec<(String, String)> {
    let broker = TestBroker::from_env();
    let mut env = vec![
        ("RABBITMQ_HOST", broker.host),
        ("RABBITMQ_PORT", port.to_string()),
        ("RABBITMQ_USER", broker.user),
        ("RABBITMQ_PASSWORD", broker.password),
        ("MQ_EXCHANGE_TYPE", "topic".to_owned()),
    ];
    if broker.vhost != "/" {
        env.push(("RABBITMQ_VHOST", broker.vhost));
    }
    env.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
}

/// A [`TcpProxy`] to the test broker (TEST_AMQP_URL's host and port).
pub async fn broker_proxy() -> TcpProxy {
    let broker = TestBroker::from_env();
    TcpProxy::start(&format!("{}:{}", broker.host, broker.port)).await
}

/// The parts of TEST_AMQP_URL, decoded (the RabbitMQ URI spec: `/%2f` is the vhost "/").
struct TestBroker {
    host: String,
    port: u16,
    user: String,
    password: String,
    vhost: String,
}

impl TestBroker {
    fn from_env() -> Self {
        let url = url::Url::parse(&amqp_url()).expect("TEST_AMQP_URL is not a valid AMQP URL");
        let decode = |s: &str| percent_encoding::percent_decode_str(s).decode_utf8_lossy().into_owned();
        let vhost = match url.path().strip_prefix('/') {
            None | Some("") => "/".to_owned(),
            Some(path) => decode(path),
        };
        Self {
            host: url.host_str().unwrap_or("localhost").to_owned(),
            port: url.port().unwrap_or(5672),
            user: decode(url.username()),
            password: decode(url.password().unwrap_or_default()),
            vhost,
        }
    }
}

/// `database` named the seeds' way: POSTGRES_HOST/PORT/DB/USER/PASSWORD, no DATABASE_URL.
pub fn seed_database_env(database: &DbTarget) -> Vec<(String, String)> {
    let config = database.config();
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(host)) => host.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_owned(),
    };
    let password = config.get_password().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default();
    [
        ("POSTGRES_HOST", host),
        ("POSTGRES_PORT", config.get_ports().first().copied().unwrap_or(5432).to_string()),
        ("POSTGRES_DB", database.dbname().to_owned()),
        ("POSTGRES_USER", config.get_user().unwrap_or("postgres").to_owned()),
        ("POSTGRES_PASSWORD", password),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs `binary` with only `env` (and PATH) set until `GET /readyz` on `port` answers 200,
/// then kills it. Panics with the binary's output when it exits first or is not ready within
/// 30 s.
pub async fn assert_becomes_ready(binary: &str, env: &[(String, String)], port: u16) {
    let mut child = std::process::Command::new(binary)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let failure = loop {
        if http_status(port, "/readyz").await == Some(200) {
            break None;
        }
        if let Ok(Some(status)) = child.try_wait() {
            break Some(format!("exited with {status}"));
        }
        if tokio::time::Instant::now() >= deadline {
            break Some("not ready within 30 s".to_owned());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let _ = child.kill();
    let output = child.wait_with_output().expect("wait for the binary");
    if let Some(failure) = failure {
        panic!(
            "{binary} {failure}:\n{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

/// The status of `GET path` on `127.0.0.1:port`, or `None` when nothing answers.
pub async fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await.ok()?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").as_bytes()).await.ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.ok()?;
    // "HTTP/1.x NNN"
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

/// A TCP proxy the test controls, to cut and restore a service's connections mid-run.
pub struct TcpProxy {
    port: u16,
    state: std::sync::Arc<ProxyState>,
    accept_task: tokio::task::AbortHandle,
}

struct ProxyState {
    open: std::sync::atomic::AtomicBool,
    accepted: AtomicUsize,
    links: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl TcpProxy {
    /// Listens on a free local port and forwards every connection to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        let state = std::sync::Arc::new(ProxyState {
            open: std::sync::atomic::AtomicBool::new(true),
            accepted: AtomicUsize::new(0),
            links: std::sync::Mutex::new(Vec::new()),
        });
        let upstream = upstream.to_owned();
        let accept_state = state.clone();
        let accept_task = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_state.open.load(Ordering::SeqCst) {
                    drop(client);
                    continue;
                }
                accept_state.accepted.fetch_add(1, Ordering::SeqCst);
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accept_state.links.lock().unwrap_or_else(|p| p.into_inner()).push(link.abort_handle());
            }
        })
        .abort_handle();
        Self { port, state, accept_task }
    }

    /// The local port to connect to instead of the upstream.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Connections forwarded so far.
    pub fn connections(&self) -> usize {
        self.state.accepted.load(Ordering::SeqCst)
    }

    /// Drops every open connection and refuses new ones until [`TcpProxy::restore`].
    pub fn cut(&self) {
        self.state.open.store(false, Ordering::SeqCst);
        for link in self.state.links.lock().unwrap_or_else(|p| p.into_inner()).drain(..) {
            link.abort();
        }
    }

    /// Accepts connections again.
    pub fn restore(&self) {
        self.state.open.store(true, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.cut();
        self.accept_task.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::metric;

    #[test]
    fn metric_reads_exactly_the_named_series() {
        let text = "# TYPE a_total counter\na_total 12\na_total_extra 3\nb{x=\"1\"} 2.5\nb{x=\"10\"} 7\n";
        assert_eq!(metric(text, "a_total"), Some(12.0));
        assert_eq!(metric(text, "a_total_extra"), Some(3.0));
        assert_eq!(metric(text, "b{x=\"1\"}"), Some(2.5));
        assert_eq!(metric(text, "b{x=\"10\"}"), Some(7.0));
        assert_eq!(metric(text, "a"), None, "a prefix of a name is another series");
        assert_eq!(metric(text, "b"), None, "a labelled family has no bare series");
    }
}
