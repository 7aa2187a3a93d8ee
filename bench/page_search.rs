//! The operator page's search as a person at a gate sees it: in headless Chromium (Debian's,
//! through chromedriver), signed in, a query typed one key every 60 ms; measured from the
//! last key to the moment the page shows that query's results. Prints one JSON line with the
//! percentiles.
//!
//!   cargo run --release --example page_search -- BASE_URL KEY SAMPLES

use std::{process::Stdio, time::Duration};

use fantoccini::{ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::{Value, json};

/// Types `arguments[0]` into the search box a key at a time and calls back with the
/// milliseconds from the last key to the rendering of its results.
const TYPE_AND_TIME: &str = r#"
const [query, gap, done] = arguments;
const input = document.querySelector('#q');
const list = document.querySelector('#results');
input.value = '';
input.dispatchEvent(new Event('input'));
let typed = 0;
const key = () => {
  typed += 1;
  input.value = query.slice(0, typed);
  input.dispatchEvent(new Event('input'));
  if (typed < query.length) { setTimeout(key, gap); return; }
  const last = performance.now();
  if (list.dataset.query === query) { done(0); return; }
  const seen = new MutationObserver(() => {
    if (list.dataset.query === query) { seen.disconnect(); done(performance.now() - last); }
  });
  seen.observe(list, { attributes: true, attributeFilter: ['data-query'] });
};
setTimeout(key, 200);
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, key, samples] = args.as_slice() else {
        return Err("usage: page_search BASE_URL KEY SAMPLES".into());
    };
    let samples: usize = samples.parse()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let mut driver = tokio::process::Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()?;
    let profile = tempfile::tempdir()?;
    let Value::Object(capabilities) = json!({"goog:chromeOptions": {
        "binary": "/usr/bin/chromium",
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", format!("--user-data-dir={}", profile.path().display())],
    }}) else {
        unreachable!()
    };
    let mut client = None;
    for _ in 0..100 {
        if let Ok(connected) = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            client = Some(connected);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let client = client.ok_or("cannot start a browser session")?;
    client.goto(base).await?;
    client
        .find(Locator::Css("#sign-in-key"))
        .await?
        .send_keys(key)
        .await?;
    client
        .find(Locator::Css("#sign-in-form button"))
        .await?
        .click()
        .await?;
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("#live-status[data-state='live']"))
        .await?;
    // Plate fragments and names as staff type them; the seeded plates are two letters, two
    // digits, three letters.
    let queries = [
        "ab1", "kd4", "xy7", "ada lov", "turing", "bq2", "zz9", "mn0", "hop", "r23",
    ];
    let mut millis = Vec::with_capacity(samples);
    for i in 0..samples {
        let query = queries[i % queries.len()];
        let taken = client
            .execute_async(TYPE_AND_TIME, vec![json!(query), json!(60)])
            .await?;
        millis.push(taken.as_f64().unwrap_or(f64::NAN));
    }
    millis.sort_by(f64::total_cmp);
    let at = |p: f64| millis[((p / 100.0) * (millis.len() - 1) as f64).round() as usize];
    println!(
        "{{\"samples\": {}, \"last_key_to_results_p50_ms\": {:.1}, \"p99_ms\": {:.1}, \"max_ms\": {:.1}}}",
        millis.len(),
        at(50.0),
        at(99.0),
        millis[millis.len() - 1]
    );
    client.close().await?;
    let _ = driver.kill().await;
    Ok(())
}
