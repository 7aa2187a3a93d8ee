//! Rate limiting: per key, per IP before authentication, shared through Redis.

use std::time::Duration;

use parking::config::RateLimit;
use reqwest::Response;

use crate::helpers::{TestApp, assert_problem, spawn_app_with};

fn limited(per_sec: u32, burst: u32) -> impl FnOnce(&mut parking::config::Settings) {
    move |s| s.rate_limit = Some(RateLimit { per_sec, burst })
}

fn header(response: &Response, name: &str) -> u64 {
    response.headers()[name].to_str().unwrap().parse().unwrap()
}

async fn list_as(app: &TestApp, key: &str) -> Response {
    app.list_with_key(key).await
}

#[tokio::test]
async fn a_burst_over_the_limit_is_429_with_headers_and_the_budget_refills() {
    let app = spawn_app_with(limited(2, 3)).await;
    for remaining in [2, 1, 0] {
        let response = list_as(&app, &app.operator_key).await;
        assert_eq!(response.status(), 200);
        assert_eq!(header(&response, "ratelimit-limit"), 3);
        assert_eq!(header(&response, "ratelimit-remaining"), remaining);
        assert!(header(&response, "ratelimit-reset") >= 1);
    }
    let refused = list_as(&app, &app.operator_key).await;
    assert_eq!(header(&refused, "retry-after"), 1);
    assert_eq!(header(&refused, "ratelimit-remaining"), 0);
    let problem = assert_problem(refused, 429).await;
    assert_eq!(problem["title"], "Too Many Requests");

    // Another key has its own budget.
    assert_eq!(list_as(&app, &app.admin_key).await.status(), 200);

    // One token comes back every 500 ms: after 700 ms exactly one is there (the margins of
    // 200 ms either way keep a slow machine from giving the wrong count).
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_eq!(list_as(&app, &app.operator_key).await.status(), 200);
    assert_eq!(list_as(&app, &app.operator_key).await.status(), 429);
}

#[tokio::test]
async fn every_api_response_carries_the_headers_and_other_routes_none() {
    let app = spawn_app_with(limited(100, 100)).await;
    for path in [
        "/api/v1/vehicles",
        "/api/v1/vehicles/NONE1",
        "/api/v1/nowhere",
        "/api/v1/openapi.json",
    ] {
        let response = app.get(path).send().await.unwrap();
        assert!(
            response.headers().contains_key("ratelimit-remaining"),
            "{path}"
        );
    }
    let unauthenticated = app.public_get("/api/v1/vehicles").await;
    assert_eq!(unauthenticated.status(), 401);
    assert!(unauthenticated.headers().contains_key("ratelimit-limit"));
    // A method the API route does not take is still an API response.
    let wrong_method = app
        .admin(reqwest::Method::PUT, "/api/v1/vehicles")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    assert!(wrong_method.headers().contains_key("ratelimit-limit"));
    for path in ["/health/live", "/health/ready", "/metrics", "/", "/nowhere"] {
        let response = app.public_get(path).await;
        assert!(
            !response.headers().contains_key("ratelimit-limit"),
            "{path}"
        );
        // Every route, guarded or not, has its request context.
        assert!(response.headers().contains_key("x-request-id"), "{path}");
    }
}

#[tokio::test]
async fn before_authentication_the_budget_is_the_client_ip() {
    let app = spawn_app_with(limited(1, 3)).await;
    // A key in use is recognised without a lookup; its first use costs its address one request.
    assert_eq!(list_as(&app, &app.operator_key).await.status(), 200);
    for _ in 0..2 {
        assert_eq!(app.public_get("/api/v1/vehicles").await.status(), 401);
    }
    assert_problem(app.public_get("/api/v1/vehicles").await, 429).await;
    // Unknown keys do not open new budgets.
    let guessed = app
        .client
        .get(app.url("/api/v1/vehicles"))
        .header("X-API-Key", "pk_guess")
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status(), 429);
    // A valid key in use has its own.
    assert_eq!(list_as(&app, &app.operator_key).await.status(), 200);
}

#[tokio::test]
async fn x_forwarded_for_counts_only_from_trusted_proxies() {
    let untrusted = spawn_app_with(limited(1, 1)).await;
    let from = |app: &TestApp, ip: &str| {
        app.client
            .get(app.url("/api/v1/vehicles"))
            .header("X-Forwarded-For", ip.to_owned())
            .send()
    };
    assert_eq!(from(&untrusted, "1.1.1.1").await.unwrap().status(), 401);
    assert_eq!(
        from(&untrusted, "2.2.2.2").await.unwrap().status(),
        429,
        "the header is ignored"
    );

    let trusted = spawn_app_with(|s| {
        s.rate_limit = Some(RateLimit {
            per_sec: 1,
            burst: 1,
        });
        s.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    })
    .await;
    assert_eq!(from(&trusted, "1.1.1.1").await.unwrap().status(), 401);
    assert_eq!(
        from(&trusted, "2.2.2.2").await.unwrap().status(),
        401,
        "each client has its own budget"
    );
    assert_eq!(from(&trusted, "1.1.1.1").await.unwrap().status(), 429);
}

#[tokio::test]
async fn two_instances_sharing_redis_share_one_budget() {
    let prefix = format!("test-{}", ulid::Ulid::new());
    let shared = |prefix: String| {
        move |s: &mut parking::config::Settings| {
            s.rate_limit = Some(RateLimit {
                per_sec: 1,
                burst: 4,
            });
            s.redis_url = Some("redis://127.0.0.1:6379".into());
            s.redis_prefix = prefix;
        }
    };
    let a = spawn_app_with(shared(prefix.clone())).await;
    let b = spawn_app_with(shared(prefix)).await;
    // Both know the same admin key (id 1), as instances on one database would.
    let statuses = [
        list_as(&a, &a.admin_key).await.status(),
        list_as(&b, &b.admin_key).await.status(),
        list_as(&a, &a.admin_key).await.status(),
        list_as(&b, &b.admin_key).await.status(),
    ];
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let refused = list_as(&b, &b.admin_key).await;
    assert_eq!(refused.headers()["ratelimit-remaining"], "0");
    assert_problem(refused, 429).await;
    assert_problem(list_as(&a, &a.admin_key).await, 429).await;

    let ready = a.public_get("/health/ready").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["checks"]["redis"], "ok");
}

#[tokio::test]
async fn when_redis_is_unreachable_limits_fall_back_to_the_instance_and_readiness_says_so() {
    let app = spawn_app_with(|s| {
        s.rate_limit = Some(RateLimit {
            per_sec: 1,
            burst: 2,
        });
        s.redis_url = Some("redis://127.0.0.1:1".into());
    })
    .await;
    assert_eq!(list_as(&app, &app.operator_key).await.status(), 200);
    assert_eq!(list_as(&app, &app.operator_key).await.status(), 200);
    assert_problem(list_as(&app, &app.operator_key).await, 429).await;

    let ready = app.public_get("/health/ready").await;
    let problem = assert_problem(ready, 503).await;
    assert_eq!(
        problem["checks"],
        serde_json::json!({"database": "ok", "redis": "unavailable", "backups": "ok"})
    );

    let metrics = app.public_get("/metrics").await.text().await.unwrap();
    let errors = crate::metrics::sample(&metrics, "parking_rate_limit_backend_errors_total", &[]);
    assert!(errors >= 3.0, "{errors}");
}

#[tokio::test]
async fn searches_over_the_websocket_count_against_the_same_budget() {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::{Message, client::IntoClientRequest};

    let app = spawn_app_with(limited(1, 3)).await;
    let mut request = app.ws_url().into_client_request().unwrap();
    request
        .headers_mut()
        .insert("X-API-Key", app.operator_key.parse().unwrap());
    // The upgrade itself takes one request from the budget.
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let mut codes = Vec::new();
    for _ in 0..3 {
        ws.send(Message::Text(
            r#"{"type":"search","id":"s","query":"ab"}"#.into(),
        ))
        .await
        .unwrap();
        loop {
            if let Some(Ok(Message::Text(text))) = ws.next().await {
                let frame: serde_json::Value = serde_json::from_str(&text).unwrap();
                codes.push(
                    frame["code"]
                        .as_str()
                        .unwrap_or(frame["type"].as_str().unwrap())
                        .to_owned(),
                );
                break;
            }
        }
    }
    assert_eq!(codes, ["results", "results", "rate_limited"]);
    assert_eq!(
        list_as(&app, &app.operator_key).await.status(),
        429,
        "HTTP shares the spent budget"
    );
}

#[tokio::test]
async fn pings_over_the_websocket_count_against_the_budget_too() {
    use crate::ws::{connect, next, send};

    let app = spawn_app_with(limited(1, 3)).await;
    // The upgrade takes one request from the budget, leaving two.
    let mut ws = connect(&app).await;
    let mut answers = Vec::new();
    for _ in 0..3 {
        send(&mut ws, serde_json::json!({"type": "ping"})).await;
        let frame = next(&mut ws).await;
        answers.push(
            frame["code"]
                .as_str()
                .unwrap_or(frame["type"].as_str().unwrap())
                .to_owned(),
        );
    }
    assert_eq!(answers, ["pong", "pong", "rate_limited"]);
}
