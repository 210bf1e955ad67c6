//! A headless Chromium driven over the DevTools protocol (JSON over a WebSocket): open a page,
//! evaluate JavaScript in it, take a screenshot. Chromium comes from Debian
//! (`scripts/setup-services.sh` installs it); CHROMIUM names another binary.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine as _;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A running headless Chromium with its own fresh profile; killed when dropped.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    port: u16,
}

impl Browser {
    /// Starts Chromium with remote debugging on a free port.
    pub fn launch() -> Self {
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        assert!(
            Path::new(&binary).exists(),
            "{binary} is missing: run scripts/setup-services.sh (it installs chromium)"
        );
        let profile = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(vote_runtime::testing::unique_name("chromium"));
        std::fs::create_dir_all(&profile).unwrap();
        let child = Command::new(&binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("start {binary}: {e}"));
        // Chromium writes the port it picked into the profile.
        let active = profile.join("DevToolsActivePort");
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        let port = loop {
            if let Some(port) = std::fs::read_to_string(&active).ok().and_then(|t| t.lines().next()?.parse().ok()) {
                break port;
            }
            assert!(std::time::Instant::now() < deadline, "Chromium did not open its debugging port in 30 s");
            std::thread::sleep(Duration::from_millis(50));
        };
        Self { child, profile, port }
    }

    /// Opens `url` in a new tab.
    pub async fn open(&self, url: &str) -> Page {
        let target: Value = reqwest::Client::new()
            .put(format!("http://127.0.0.1:{}/json/new?{url}", self.port))
            .send()
            .await
            .expect("DevTools answers")
            .json()
            .await
            .expect("a DevTools target");
        let ws = target["webSocketDebuggerUrl"].as_str().unwrap_or_else(|| panic!("no debugger URL in {target}"));
        let (socket, _) = tokio_tungstenite::connect_async(ws).await.expect("connect to the page");
        Page { socket, next_id: 0 }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One tab.
pub struct Page {
    socket: Socket,
    next_id: u64,
}

impl Page {
    /// Calls a DevTools method and returns its result (events in between are skipped).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let request = json!({"id": id, "method": method, "params": params}).to_string();
        self.socket.send(Message::Text(request.into())).await.expect("send to the page");
        loop {
            let message = tokio::time::timeout(Duration::from_secs(30), self.socket.next())
                .await
                .unwrap_or_else(|_| panic!("{method}: no answer in 30 s"))
                .expect("page connection open")
                .expect("page message");
            let Message::Text(text) = message else { continue };
            let answer: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if answer["id"] == id {
                assert!(answer["error"].is_null(), "{method}: {answer}");
                return answer["result"].clone();
            }
        }
    }

    /// The value of a JavaScript expression (promises awaited).
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call("Runtime.evaluate", json!({"expression": expression, "returnByValue": true, "awaitPromise": true}))
            .await;
        assert!(result["exceptionDetails"].is_null(), "{expression}: {result}");
        result["result"]["value"].clone()
    }

    /// Saves a PNG of the whole page as a `width` pixel wide screen would show it.
    pub async fn screenshot(&mut self, path: &Path, width: u32, height: u32, mobile: bool) {
        let metrics = json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
        self.call("Emulation.setDeviceMetricsOverride", metrics).await;
        tokio::time::sleep(Duration::from_millis(800)).await;
        let shot = self.call("Page.captureScreenshot", json!({"format": "png", "captureBeyondViewport": false})).await;
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }
}
