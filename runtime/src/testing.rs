//! Helpers for integration tests against the real servers: a fresh database per test and
//! unique broker names, so tests can run in parallel and never see each other's data.
//! Servers are found through TEST_DATABASE_URL / TEST_AMQP_URL (defaults: the local servers);
//! a missing server makes the test fail loudly, never skip.

use std::sync::atomic::{AtomicU64, Ordering};

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

/// A TCP proxy the test controls, to cut and restore a service's connections mid-run.
pub struct TcpProxy {
    port: u16,
    state: std::sync::Arc<ProxyState>,
    accept_task: tokio::task::AbortHandle,
}

struct ProxyState {
    open: std::sync::atomic::AtomicBool,
    links: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl TcpProxy {
    /// Listens on a free local port and forwards every connection to `upstream` (`host:port`).
    pub async fn start(upstream: &str) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind proxy port");
        let port = listener.local_addr().expect("proxy address").port();
        let state = std::sync::Arc::new(ProxyState {
            open: std::sync::atomic::AtomicBool::new(true),
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
