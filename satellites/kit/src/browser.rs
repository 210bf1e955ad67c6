//! A headless Chromium driven by `chromiumoxide`, for the satellites' page tests (feature
//! `browser`): open a page, evaluate JavaScript in it, take a screenshot. Chromium comes from
//! Debian (`scripts/test.sh` installs it); CHROMIUM names another binary.

use std::path::{Path, PathBuf};
use std::time::Duration;

use chromiumoxide::cdp::browser_protocol::emulation::SetDeviceMetricsOverrideParams;
use chromiumoxide::cdp::browser_protocol::page::CaptureScreenshotFormat;
use chromiumoxide::page::ScreenshotParams;
use chromiumoxide::{BrowserConfig, Page};
use futures::StreamExt;
use serde_json::Value;
use tokio::task::JoinHandle;

/// A running headless Chromium with its own fresh profile.
pub struct Browser {
    browser: chromiumoxide::Browser,
    events: JoinHandle<()>,
    profile: PathBuf,
}

impl Browser {
    /// Starts Chromium.
    pub async fn launch() -> Self {
        let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
        assert!(
            Path::new(&binary).exists(),
            "{binary} is missing: scripts/test.sh installs it (apt-get install chromium), or set CHROMIUM"
        );
        let profile = std::env::temp_dir().join(vote_runtime::testing::unique_name("chromium"));
        let config = BrowserConfig::builder()
            .chrome_executable(&binary)
            .user_data_dir(&profile)
            .no_sandbox()
            .window_size(1280, 900)
            .args(["--disable-gpu", "--disable-quic", "--disable-dev-shm-usage"])
            .launch_timeout(Duration::from_secs(30))
            .build()
            .expect("a browser configuration");
        let (browser, mut handler) =
            chromiumoxide::Browser::launch(config).await.unwrap_or_else(|e| panic!("start {binary}: {e}"));
        // The handler carries every message between the browser and its pages.
        let events = tokio::spawn(async move { while handler.next().await.is_some() {} });
        Self { browser, events, profile }
    }

    /// Opens `url` in a new tab.
    pub async fn open(&self, url: &str) -> Tab {
        Tab(self.browser.new_page(url).await.unwrap_or_else(|e| panic!("open {url}: {e}")))
    }

    /// Closes the browser and removes its profile.
    pub async fn close(mut self) {
        self.browser.close().await.expect("close the browser");
        self.browser.wait().await.expect("the browser exits");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A browser not closed (a failed test) is killed by chromiumoxide as it is dropped.
        self.events.abort();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// One tab.
pub struct Tab(Page);

impl Tab {
    /// The value of a JavaScript expression (promises awaited); `null` for `undefined`.
    pub async fn eval(&self, expression: &str) -> Value {
        let result = self.0.evaluate(expression).await.unwrap_or_else(|e| panic!("{expression}: {e}"));
        result.value().cloned().unwrap_or(Value::Null)
    }

    /// Saves a PNG of the page as a screen `width` x `height` pixels shows it.
    pub async fn screenshot(&self, path: &Path, width: u32, height: u32, mobile: bool) {
        self.0
            .execute(SetDeviceMetricsOverrideParams::new(i64::from(width), i64::from(height), 1.0, mobile))
            .await
            .expect("set the screen size");
        // Let the page lay itself out again at the new size.
        tokio::time::sleep(Duration::from_millis(800)).await;
        let params = ScreenshotParams::builder().format(CaptureScreenshotFormat::Png).build();
        self.0.save_screenshot(params, path).await.expect("save the screenshot");
    }
}
