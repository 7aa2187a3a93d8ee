//! CORS, timeouts, panics and security headers.

use std::time::Duration;

use axum::{Router, routing::get};
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};

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
    for header in ["x-request-id", "x-trace-id", "ratelimit-remaining"] {
        assert!(
            exposed.contains(header),
            "{header} is not exposed: {exposed}"
        );
    }
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
    let allowed_headers = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_lowercase();
    for header in ["x-api-key", "traceparent"] {
        assert!(
            allowed_headers.contains(header),
            "{header} is not allowed: {allowed_headers}"
        );
    }

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

/// Panics after waiting: by then the handler runs as a task of its own.
async fn boom_later() -> &'static str {
    tokio::time::sleep(Duration::from_millis(10)).await;
    panic!("internal detail that must not leak")
}

#[tokio::test]
async fn a_panicking_handler_is_a_problem_500_and_the_server_keeps_serving() {
    let app = spawn_app().await;
    let routes = Router::new()
        .route("/boom", get(boom))
        .route("/boom-later", get(boom_later))
        .route("/fine", get(|| async { "fine" }));
    let url = serve_with_middleware(&app, routes).await;
    for path in ["/boom", "/boom-later"] {
        let response = app.client.get(format!("{url}{path}")).send().await.unwrap();
        let body = assert_problem(response, 500).await;
        assert!(!body.to_string().contains("internal detail"));
    }
    // Each 500 is reported as an error of kind `request` (traces off, as by default).
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("parking_errors_total{kind=\"request\"} 2\n"),
        "{metrics}"
    );
    assert!(metrics.contains("parking_errors_total{kind=\"purge\"} 0\n"));
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
