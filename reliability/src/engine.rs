//! The real `vote-engine` binary as a child process: built once per test binary (so a test
//! never runs a stale engine), started with a target's settings, probed over its ops port, and
//! stopped the hard way (SIGKILL) or the polite way (SIGTERM). Everything it prints, stdout and
//! stderr, is kept: tests grep it, and a failing test shows its tail.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The line the engine logs once its ops port is bound and it is about to consume.
const SERVING_LINE: &str = "serving /metrics, /healthz and /readyz";
/// How long an engine may take from spawn to logging its ops port (migrations included).
const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Lines of output shown when a test fails while an engine runs.
const TAIL_LINES: usize = 60;

/// The path of the `vote-engine` binary, built (or found up to date) by cargo on first use with
/// the profile this test was built with.
pub fn engine_binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../engine/Cargo.toml");
        let run = escargot::CargoBuild::new()
            .manifest_path(manifest)
            .package("vote-engine")
            .bin("vote-engine")
            .current_release()
            .run()
            .unwrap_or_else(|e| panic!("cannot build the vote-engine binary: {e}"));
        run.path().to_owned()
    })
}

/// An engine command line being put together.
#[derive(Debug, Clone, Default)]
pub struct EngineCommand {
    args: Vec<String>,
    envs: Vec<(String, String)>,
}

impl EngineCommand {
    /// No arguments, and none of the engine's environment variables inherited from the test's
    /// environment.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds arguments (flags, or a subcommand such as `migrate`).
    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        self.args.extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable.
    pub fn env(mut self, key: &str, value: &str) -> Self {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    fn command(&self) -> Command {
        let mut command = Command::new(engine_binary());
        // The test's own environment must not change what the engine is told.
        for (key, _) in std::env::vars_os() {
            if let Some(key) = key.to_str()
                && is_engine_variable(key)
            {
                command.env_remove(key);
            }
        }
        command
            .args(&self.args)
            .envs(self.envs.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        command
    }

    /// Starts the engine and waits until it serves its ops port and reports ready.
    pub async fn start(self) -> EngineProcess {
        let engine = self.spawn().await;
        engine.wait_ready(Duration::from_secs(30)).await;
        engine
    }

    /// Starts the engine and waits until it serves its ops port (not necessarily ready).
    pub async fn spawn(self) -> EngineProcess {
        let mut engine = self.spawn_process();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(port) = ops_port(&engine.output()) {
                engine.ops_port = Some(port);
                return engine;
            }
            if let Ok(Some(status)) = engine.child.try_wait() {
                engine.drain_output().await;
                panic!("vote-engine exited with {status} before serving:\n{}", engine.tail());
            }
            assert!(
                Instant::now() < deadline,
                "vote-engine did not start within {START_TIMEOUT:?}:\n{}",
                engine.tail()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts the engine without waiting for anything (for runs that are expected to fail or
    /// to block before serving).
    pub fn spawn_process(self) -> EngineProcess {
        let mut child =
            self.command().spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", engine_binary().display()));
        let output = Arc::new(Mutex::new(String::new()));
        let readers = vec![
            collect(child.stdout.take().expect("piped stdout"), output.clone()),
            collect(child.stderr.take().expect("piped stderr"), output.clone()),
        ];
        EngineProcess { child, output, readers, ops_port: None }
    }

    /// Runs the engine to its end (a subcommand, or a run that must fail), returning its exit
    /// status and output.
    pub async fn run_to_exit(self, within: Duration) -> (ExitStatus, String) {
        let mut engine = self.spawn_process();
        let status = engine.wait_exit(within).await;
        (status, engine.output())
    }
}

/// The engine's own settings (docs/contract.md), which a test's environment must not leak into.
fn is_engine_variable(key: &str) -> bool {
    const PREFIXES: [&str; 3] = ["RABBITMQ_", "POSTGRES_", "BATCH_"];
    const NAMES: [&str; 15] = [
        "AMQP_URL",
        "DATABASE_URL",
        "MAX_RETRY_ATTEMPTS",
        "RETRY_DELAY_MS",
        "RETRY_DELAY_SECONDS",
        "PROMETHEUS_PORT",
        "LOG_LEVEL",
        "LOG_FORMAT",
        "METRICS_MAX_LAWS",
        "RUN_MIGRATIONS",
        "SHUTDOWN_TIMEOUT_MS",
        "SHUTDOWN_TIMEOUT_SECONDS",
        "MAX_INFLIGHT_BATCHES",
        "DEAD_LETTER_EXCHANGE",
        "DEAD_LETTER_QUEUE",
    ];
    PREFIXES.iter().any(|p| key.starts_with(p)) || NAMES.contains(&key)
}

fn collect(stream: impl AsyncRead + Unpin + Send + 'static, output: Arc<Mutex<String>>) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut lines = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => output.lock().unwrap_or_else(|p| p.into_inner()).push_str(&String::from_utf8_lossy(&line)),
            }
        }
    })
}

/// The ops port from the engine's "serving" line, in either log format (text logs may be
/// coloured).
fn ops_port(output: &str) -> Option<u16> {
    let line = strip_ansi(output.lines().find(|l| l.contains(SERVING_LINE))?);
    let start = line.find("\"port\":").map(|i| i + 7).or_else(|| line.find("port=").map(|i| i + 5))?;
    let digits: String = line[start..].chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

/// `line` without ANSI escape sequences (`ESC [ ... letter`).
fn strip_ansi(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            chars.by_ref().find(char::is_ascii_alphabetic);
        } else {
            plain.push(c);
        }
    }
    plain
}

/// A running engine process. Dropping it kills the process.
pub struct EngineProcess {
    child: Child,
    output: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    ops_port: Option<u16>,
}

impl EngineProcess {
    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id().expect("the engine process has not been reaped")
    }

    /// The port of /metrics, /healthz and /readyz.
    pub fn ops_port(&self) -> u16 {
        self.ops_port.expect("the engine was started with spawn() or start()")
    }

    /// Everything the engine printed so far, stdout and stderr interleaved by line.
    pub fn output(&self) -> String {
        self.output.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    fn tail(&self) -> String {
        let output = self.output();
        let lines: Vec<&str> = output.lines().collect();
        lines[lines.len().saturating_sub(TAIL_LINES)..].join("\n")
    }

    /// Panics, showing the engine's last lines, unless the process is still running.
    pub fn assert_running(&mut self, when: &str) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!("vote-engine exited ({status}) {when}:\n{}", self.tail());
        }
    }

    /// The HTTP status of `/readyz`, or `None` when the ops port does not answer.
    pub async fn readyz(&self) -> Option<u16> {
        let url = format!("http://127.0.0.1:{}/readyz", self.ops_port());
        let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().ok()?;
        client.get(url).send().await.ok().map(|r| r.status().as_u16())
    }

    /// Waits until `/readyz` answers 200.
    pub async fn wait_ready(&self, within: Duration) {
        self.wait_readyz(200, within).await;
    }

    /// Waits until `/readyz` answers `status`.
    pub async fn wait_readyz(&self, status: u16, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            let seen = self.readyz().await;
            if seen == Some(status) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/readyz did not answer {status} within {within:?} (last: {seen:?}):\n{}",
                self.tail()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        let url = format!("http://127.0.0.1:{}/metrics", self.ops_port());
        let response = reqwest::get(&url).await.unwrap_or_else(|e| panic!("GET {url}: {e}\n{}", self.tail()));
        response.text().await.unwrap_or_else(|e| panic!("GET {url}: {e}"))
    }

    /// One sample of `/metrics`, e.g. `deliveries_unacked`; panics when the series is absent.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.metrics().await;
        metric(&text, series).unwrap_or_else(|| panic!("{series} is not in /metrics:\n{text}"))
    }

    /// A labelled counter such as `aggregation_errors_total{error_type="db_conflict"}`, which
    /// appears at its first increment: 0 while absent.
    pub async fn counter(&self, series: &str) -> f64 {
        metric(&self.metrics().await, series).unwrap_or(0.0)
    }

    /// SIGKILL: the process gets no chance to flush, commit or ack anything.
    pub async fn kill9(mut self) -> String {
        self.child.start_kill().expect("send SIGKILL");
        let status = self.wait_exit(Duration::from_secs(10)).await;
        assert!(!status.success(), "a killed engine cannot exit cleanly: {status}");
        self.output()
    }

    /// SIGTERM, then waits for the exit; returns the status and how long the exit took.
    pub async fn terminate(mut self, within: Duration) -> (ExitStatus, Duration, String) {
        let pid = self.pid().to_string();
        let sent = std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("run kill");
        assert!(sent.success(), "kill -TERM {pid} failed");
        let started = Instant::now();
        let status = self.wait_exit(within).await;
        (status, started.elapsed(), self.output())
    }

    /// Waits for the process to exit (killing it and panicking past `within`), then for its
    /// output to be fully read.
    async fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let status = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("wait for vote-engine"),
            Err(_) => {
                let _ = self.child.start_kill();
                panic!("vote-engine did not exit within {within:?}:\n{}", self.tail());
            }
        };
        self.drain_output().await;
        status
    }

    async fn drain_output(&mut self) {
        for reader in self.readers.drain(..) {
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if std::thread::panicking() && self.ops_port.is_some() {
            eprintln!("--- last lines of vote-engine (pid {:?}) ---\n{}", self.child.id(), self.tail());
        }
    }
}

/// The value of one series in Prometheus text (`name` or `name{labels}` exactly as exported).
pub fn metric(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        l.strip_prefix(series).and_then(|rest| rest.strip_prefix(' ')).and_then(|v| v.trim().parse().ok())
    })
}

/// The number of samples of a metric family in Prometheus text (its series).
pub fn series_count(text: &str, name: &str) -> usize {
    text.lines()
        .filter(|l| l.strip_prefix(name).is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' ')))
        .count()
}

#[cfg(test)]
mod tests {
    use super::ops_port;

    #[test]
    fn finds_the_ops_port_in_json_and_coloured_text() {
        let json = r#"{"level":"INFO","message":"serving /metrics, /healthz and /readyz","port":41705}"#;
        let text = "\u{1b}[32m INFO\u{1b}[0m vote_engine: serving /metrics, /healthz and /readyz \u{1b}[3mport\u{1b}[0m\u{1b}[2m=\u{1b}[0m8001";
        assert_eq!(ops_port(json), Some(41705));
        assert_eq!(ops_port(text), Some(8001));
        assert_eq!(ops_port("starting"), None);
    }
}
