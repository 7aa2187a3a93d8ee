//! The operator page in a real browser: Debian's Chromium driven over WebDriver (chromedriver),
//! against the app on a loopback port. No test tool downloads a browser of its own.

mod car_park;
mod flows;
mod keys_and_failures;
mod privacy;

use std::{path::PathBuf, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator, elements::Element};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::helpers::TestApp;

pub const PHONE: (u32, u32) = (360, 740);
pub const DESKTOP: (u32, u32) = (1280, 800);

/// How long a page may take to show what a step waits for.
const PATIENCE: Duration = Duration::from_secs(10);

pub struct Browser {
    pub client: Client,
    size: (u32, u32),
    _driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// A fresh headless Chromium with its own profile, its window `size` wide and high.
    pub async fn open(size: (u32, u32)) -> Self {
        let port = free_port();
        let driver = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver is needed: apt-get install chromium chromium-driver");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--no-first-run", "--disable-default-apps",
                    "--disable-extensions", "--disable-quic",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={},{}", size.0, size.1),
                ],
            }
        });
        let Value::Object(capabilities) = capabilities else {
            unreachable!()
        };
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = None;
        for _ in 0..100 {
            match ClientBuilder::new(HttpConnector::new())
                .capabilities(capabilities.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let browser = Self {
                        client,
                        size,
                        _driver: driver,
                        _profile: profile,
                    };
                    browser.resize(size).await;
                    return browser;
                }
                Err(error) => last_error = Some(error),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("cannot start a browser session: {last_error:?}");
    }

    /// Sets the viewport (not the window) to `size`, so screenshots are exactly that.
    pub async fn resize(&self, size: (u32, u32)) {
        self.client.set_window_size(size.0, size.1).await.unwrap();
        let inner = self
            .client
            .execute("return [window.innerWidth, window.innerHeight];", vec![])
            .await
            .unwrap();
        let (w, h) = (
            inner[0].as_u64().unwrap() as u32,
            inner[1].as_u64().unwrap() as u32,
        );
        self.client
            .set_window_size(
                size.0 + (size.0 - w.min(size.0)),
                size.1 + (size.1 - h.min(size.1)),
            )
            .await
            .unwrap();
    }

    pub async fn goto(&self, app: &TestApp, path: &str) {
        self.client.goto(&app.url(path)).await.unwrap();
    }

    /// Opens the page and signs in with `key`, waiting for the live search to connect.
    pub async fn sign_in(&self, app: &TestApp, key: &str) {
        self.goto(app, "/").await;
        self.fill("#sign-in-key", key).await;
        self.click("#sign-in-form button[type=submit]").await;
        self.wait_visible("#view-find").await;
        self.wait_for_js("return document.querySelector('#live-status').dataset.state === 'live';")
            .await;
    }

    pub async fn find(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css} did not appear: {e}"))
    }

    /// Clicks the element at `css`, as a person would once it is there: one re-rendered
    /// between finding and clicking it (live results are) is found again, and one in a view
    /// still being shown (navigation is a `hashchange` task away) is waited for, within the
    /// usual patience.
    pub async fn click(&self, css: &str) {
        use fantoccini::error::{CmdError, ErrorStatus};
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match self.find(css).await.click().await {
                Ok(()) => return,
                Err(CmdError::Standard(e))
                    if matches!(
                        e.error,
                        ErrorStatus::StaleElementReference | ErrorStatus::ElementNotInteractable
                    ) && tokio::time::Instant::now() < deadline =>
                {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot click {css}: {e}"),
            }
        }
    }

    /// Replaces the value of the input at `css` by typing `text`.
    pub async fn fill(&self, css: &str, text: &str) {
        let input = self.find(css).await;
        input.clear().await.unwrap();
        input.send_keys(text).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// Runs `script` (which returns a value) in the page.
    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Polls `script` until it returns `true`.
    pub async fn wait_for_js(&self, script: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            if self.js(script).await == Value::Bool(true) {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "waited {PATIENCE:?} for: {script}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_visible(&self, css: &str) {
        self.wait_for_js(&format!(
            "const e = document.querySelector({css:?}); return !!e && !e.closest('[hidden]') && e.getClientRects().length > 0;"
        ))
        .await;
    }

    pub async fn wait_text(&self, css: &str, needle: &str) {
        self.wait_for_js(&format!(
            "const e = document.querySelector({css:?}); return !!e && e.textContent.includes({needle:?});"
        ))
        .await;
    }

    /// The plates shown in the Find results, in order.
    pub async fn result_plates(&self) -> Vec<String> {
        let plates = self
            .js("return [...document.querySelectorAll('#results .result')].map(b => b.dataset.plate);")
            .await;
        plates
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .collect()
    }

    /// Types `query` into the search box and waits until the results shown are its answer.
    pub async fn search(&self, query: &str) {
        self.fill("#q", query).await;
        self.wait_for_js(&format!(
            "return document.querySelector('#results').dataset.query === {:?};",
            query.trim()
        ))
        .await;
    }

    /// Saves a screenshot as `<name>-<width>x<height>.png` in the test output folder.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshots_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}-{}x{}.png", self.size.0, self.size.1));
        std::fs::write(&path, png).unwrap();
        path
    }

    /// Nothing on the page is wider than the window (tables scroll inside their own box).
    pub async fn assert_fits_width(&self, view: &str) {
        let wider = self
            .js(
                "const w = document.documentElement.clientWidth; \
                 return [...document.querySelectorAll('body *')] \
                   .filter(e => !(e.parentElement && e.parentElement.closest('.table-wrap')) && !e.closest('dialog, [hidden]') && e.getBoundingClientRect().right > w + 1) \
                   .map(e => e.tagName + '#' + e.id + '.' + e.className);",
            )
            .await;
        assert_eq!(wider, Value::Array(vec![]), "{view}: wider than the window");
        let widths = self
            .js("return [document.documentElement.scrollWidth, document.documentElement.clientWidth];")
            .await;
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{view}: the page scrolls sideways: {widths}"
        );
    }

    /// Every URL the page has fetched (document, scripts, styles, API calls, WebSocket).
    pub async fn fetched_urls(&self) -> Vec<String> {
        let urls = self
            .js("return [location.href, ...performance.getEntriesByType('resource').map(e => e.name)];")
            .await;
        urls.as_array()
            .unwrap()
            .iter()
            .map(|u| u.as_str().unwrap().to_owned())
            .collect()
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}

/// Where screenshots are kept: the test output folder Cargo gives integration tests.
pub fn screenshots_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("screenshots")
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
