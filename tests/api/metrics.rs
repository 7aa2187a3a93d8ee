//! Prometheus metrics: names, help, exact counts, bounded labels, and `promtool`'s verdict
//! on a real scrape.

use std::io::Write;

use reqwest::Method;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with, vehicle};

/// The value of one sample of a Prometheus text exposition; labels must all match.
pub fn sample(text: &str, name: &str, labels: &[(&str, &str)]) -> f64 {
    text.lines()
        .filter(|line| !line.starts_with('#'))
        .filter_map(|line| {
            let (series, value) = line.rsplit_once(' ')?;
            let (metric, rest) = series.split_once('{').unwrap_or((series, ""));
            (metric == name
                && labels
                    .iter()
                    .all(|(k, v)| rest.contains(&format!("{k}=\"{v}\""))))
            .then(|| value.parse::<f64>().ok())
            .flatten()
        })
        .sum()
}

#[tokio::test]
async fn metrics_count_known_traffic_by_route_template() {
    let app = spawn_app_with(|s| {
        s.rate_limit = Some(parking::config::RateLimit {
            per_sec: 1,
            burst: 6,
        })
    })
    .await;
    for plate in ["MET1", "MET2", "MET3"] {
        app.register_ok(&vehicle(plate)).await;
    }
    assert_eq!(app.get_vehicle("SECRET99").await.status(), 404);
    assert_eq!(app.get_vehicle("MET1").await.status(), 200);
    app.list_ok(&[]).await;
    assert_eq!(app.list(&[]).await.status(), 429);
    app.run_purge_job().await;
    app.admin_json(reqwest::Method::POST, "/api/v1/maintenance/backup")
        .await;

    let response = app.public_get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    let requests = |method, route, status| {
        sample(
            &text,
            "parking_http_requests_total",
            &[("method", method), ("route", route), ("status", status)],
        )
    };
    assert_eq!(requests("POST", "/api/v1/vehicles", "201"), 3.0);
    assert_eq!(requests("GET", "/api/v1/vehicles/{plate}", "404"), 1.0);
    assert_eq!(requests("GET", "/api/v1/vehicles/{plate}", "200"), 1.0);
    assert_eq!(requests("GET", "/api/v1/vehicles", "429"), 1.0);
    assert!(
        !text.contains("SECRET99") && !text.contains("MET1"),
        "labels are templates, never plates"
    );
    let histogram = sample(
        &text,
        "parking_http_request_duration_seconds_count",
        &[("route", "/api/v1/vehicles"), ("status", "201")],
    );
    assert_eq!(histogram, 3.0);
    assert!(text.contains("parking_http_request_duration_seconds_bucket"));
    assert_eq!(sample(&text, "parking_vehicles_parked", &[]), 3.0);
    assert_eq!(sample(&text, "parking_websocket_connections", &[]), 0.0);
    assert_eq!(sample(&text, "parking_purge_runs_total", &[]), 1.0);
    assert_eq!(
        sample(&text, "parking_purge_deleted_vehicles_total", &[]),
        0.0
    );
    assert_eq!(
        sample(&text, "parking_rate_limited_requests_total", &[]),
        1.0
    );
    let last_backup = sample(&text, "parking_backup_last_success_timestamp_seconds", &[]);
    assert!((last_backup - chrono::Utc::now().timestamp() as f64).abs() < 60.0);
    assert!(sample(&text, "parking_db_pool_connections", &[]) >= 1.0);
    promtool_accepts(&text);
}

#[tokio::test]
async fn metrics_can_have_an_address_of_their_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut settings = parking::config::Settings::from_defaults(&parking::config::Overrides {
        bind: Some("127.0.0.1:0".into()),
        database: Some(format!("sqlite://{}", dir.path().join("m.db").display())),
    })
    .unwrap();
    settings.metrics_bind = Some("127.0.0.1:0".parse().unwrap());
    settings.admin_key = Some(parking::domain::ApiKeySecret::from_presented(
        "metrics-admin-key-123456",
    ));
    let app = parking::app::App::build(&settings)
        .await
        .unwrap()
        .without_background_jobs();
    let (main, metrics) = (app.local_addr(), app.metrics_addr().unwrap());
    let stop = tokio_util::sync::CancellationToken::new();
    let stopped = stop.clone();
    tokio::spawn(app.run_until_stopped(async move { stopped.cancelled().await }));
    let client = reqwest::Client::new();
    let on_main = client
        .get(format!("http://{main}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(on_main.status(), 404);
    let own = client
        .get(format!("http://{metrics}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(own.status(), 200);
    assert!(
        own.text()
            .await
            .unwrap()
            .contains("parking_vehicles_parked")
    );
    stop.cancel();
}

/// `promtool check metrics` (Debian's `prometheus` package; CI installs it) on a scrape.
fn promtool_accepts(text: &str) {
    let mut child = std::process::Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("promtool is needed for this test: apt-get install prometheus");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.status.success() && said.trim().is_empty(),
        "promtool: {said}"
    );
}

#[tokio::test]
async fn every_metric_is_namespaced_and_described() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("HELP1")).await;
    let text = app.public_get("/metrics").await.text().await.unwrap();
    let names: std::collections::BTreeSet<&str> = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| line.split(['{', ' ']).next().unwrap())
        .collect();
    assert!(names.len() >= 8, "{names:?}");
    for name in names {
        assert!(name.starts_with("parking_"), "{name} has no namespace");
        let family = name
            .trim_end_matches("_bucket")
            .trim_end_matches("_sum")
            .trim_end_matches("_count");
        assert!(
            text.contains(&format!("# HELP {family} ")),
            "{family} has no help"
        );
        assert!(
            text.contains(&format!("# TYPE {family} ")),
            "{family} has no type"
        );
    }
    promtool_accepts(&text);
}

#[tokio::test]
async fn made_up_methods_and_paths_add_no_series() {
    let app = spawn_app().await;
    let series = |text: &str| text.lines().filter(|l| !l.starts_with('#')).count();
    // One request of each kind first, so every series that can exist does.
    app.client
        .request(
            Method::from_bytes(b"XQWERTY0").unwrap(),
            app.url("/health/live"),
        )
        .send()
        .await
        .unwrap();
    app.public_get("/no/such/path/0").await;
    let before = series(&app.public_get("/metrics").await.text().await.unwrap());
    for i in 1..60 {
        let method = Method::from_bytes(format!("XQWERTY{i}").as_bytes()).unwrap();
        let response = app
            .client
            .request(method, app.url("/health/live"))
            .send()
            .await
            .unwrap();
        assert_problem(response, 405).await;
        app.public_get(&format!("/no/such/path/{i}")).await;
    }
    let text = app.public_get("/metrics").await.text().await.unwrap();
    // The scrapes themselves add at most their own series.
    assert!(
        series(&text) <= before + 30,
        "{} series after, {before} before",
        series(&text)
    );
    assert!(!text.contains("XQWERTY") && !text.contains("/no/such/path"));
    let other = sample(
        &text,
        "parking_http_requests_total",
        &[("method", "other"), ("status", "405")],
    );
    assert_eq!(other, 60.0);
}

#[tokio::test]
async fn made_up_keys_are_refused_by_the_limiter_before_any_lookup() {
    let app = spawn_app_with(|s| {
        s.rate_limit = Some(parking::config::RateLimit {
            per_sec: 1,
            burst: 2,
        })
    })
    .await;
    let lookups = |text: &str| sample(text, "parking_api_key_lookups_total", &[]);
    let guess = |i: u32| {
        app.client
            .get(app.url("/api/v1/vehicles"))
            .header("X-API-Key", format!("pk_guess_{i}"))
            .send()
    };
    assert_eq!(guess(0).await.unwrap().status(), 401);
    assert_eq!(guess(1).await.unwrap().status(), 401);
    let spent = lookups(&app.public_get("/metrics").await.text().await.unwrap());
    assert_eq!(spent, 2.0);
    for i in 2..50 {
        assert_eq!(guess(i).await.unwrap().status(), 429);
    }
    let text = app.public_get("/metrics").await.text().await.unwrap();
    assert_eq!(lookups(&text), spent, "a refused guess cost a lookup");
}
