//! Metrics, CORS, timeouts, panics and security headers.

use std::time::Duration;

use axum::{Router, routing::get};
use serde_json::json;

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
            "http_requests_total",
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
        "http_request_duration_seconds_count",
        &[("route", "/api/v1/vehicles"), ("status", "201")],
    );
    assert_eq!(histogram, 3.0);
    assert!(text.contains("http_request_duration_seconds_bucket"));
    assert_eq!(sample(&text, "vehicles_parked", &[]), 3.0);
    assert_eq!(sample(&text, "websocket_connections", &[]), 0.0);
    assert_eq!(sample(&text, "purge_runs_total", &[]), 1.0);
    assert_eq!(sample(&text, "purge_deleted_vehicles_total", &[]), 0.0);
    assert_eq!(sample(&text, "rate_limited_requests_total", &[]), 1.0);
    let last_backup = sample(&text, "backup_last_success_timestamp_seconds", &[]);
    assert!((last_backup - chrono::Utc::now().timestamp() as f64).abs() < 60.0);
    assert!(sample(&text, "db_pool_connections", &[("pool", "writer")]) >= 1.0);
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
    assert!(own.text().await.unwrap().contains("vehicles_parked"));
    stop.cancel();
}

#[tokio::test]
async fn cors_answers_allowed_origins_only() {
    let app = spawn_app_with(|s| s.cors_origins = vec!["https://desk.example".into()]).await;
    let allowed = app
        .get("/api/v1/vehicles")
        .header("Origin", "https://desk.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://desk.example"
    );
    let exposed = allowed.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    assert!(exposed.contains("x-request-id") && exposed.contains("ratelimit-remaining"));
    let refused = app
        .get("/api/v1/vehicles")
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        !refused
            .headers()
            .contains_key("access-control-allow-origin")
    );

    let preflight = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/vehicles"))
        .header("Origin", "https://desk.example")
        .header("Access-Control-Request-Method", "POST")
        .header("Access-Control-Request-Headers", "x-api-key, content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), 200);
    assert_eq!(
        preflight.headers()["access-control-allow-origin"],
        "https://desk.example"
    );
    assert!(
        preflight.headers()["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase()
            .contains("x-api-key")
    );

    let default = spawn_app().await;
    let response = default
        .get("/api/v1/vehicles")
        .header("Origin", "https://desk.example")
        .send()
        .await
        .unwrap();
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin"),
        "no CORS unless configured"
    );
}

/// Serves a test-only router through the service's own middleware.
async fn serve_with_middleware(
    app: &crate::helpers::TestApp,
    routes: Router<parking::app::AppState>,
) -> String {
    let router =
        parking::http::with_middleware(routes, &app.state, &[]).with_state(app.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    url
}

async fn boom() -> &'static str {
    panic!("internal detail that must not leak")
}

#[tokio::test]
async fn a_panicking_handler_is_a_problem_500_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let routes = Router::new()
        .route("/boom", get(boom))
        .route("/fine", get(|| async { "fine" }));
    let url = serve_with_middleware(&app, routes).await;
    for _ in 0..2 {
        let response = app.client.get(format!("{url}/boom")).send().await.unwrap();
        let body = assert_problem(response, 500).await;
        assert!(!body.to_string().contains("internal detail"));
    }
    assert_eq!(
        app.client
            .get(format!("{url}/fine"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "fine"
    );
}

#[tokio::test]
async fn a_request_over_the_timeout_is_a_problem_503() {
    let app = spawn_app_with(|s| s.request_timeout = Duration::from_millis(200)).await;
    let routes = Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            "late"
        }),
    );
    let url = serve_with_middleware(&app, routes).await;
    let response = app.client.get(format!("{url}/slow")).send().await.unwrap();
    let problem = assert_problem(response, 503).await;
    assert_eq!(problem["detail"], "the request took too long");
}

#[tokio::test]
async fn the_docs_page_sends_security_headers() {
    let app = spawn_app().await;
    let page = app.public_get("/docs/").await;
    let headers = page.headers();
    assert!(
        headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'")
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    let api = app.get("/api/v1/vehicles").send().await.unwrap();
    assert_eq!(api.headers()["x-content-type-options"], "nosniff");
    assert_eq!(json!(api.status().as_u16()), 200);
}
