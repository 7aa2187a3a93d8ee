//! API keys and roles (§2).

use axum::{Router, routing::get};
use parking::{
    domain::{AuditContext, Role},
    http::auth::Admin,
};

use crate::helpers::{assert_problem, create_key, spawn_app, vehicle};

#[tokio::test]
async fn requests_without_a_valid_key_are_401_with_a_challenge() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/vehicles");
    let requests = [
        app.client.get(&url),
        app.client
            .get(&url)
            .header("X-API-Key", "pk_not-a-real-key"),
        app.client.get(&url).header("X-API-Key", ""),
        app.client
            .get(&url)
            .header("Authorization", "Bearer pk_not-a-real-key"),
        app.client
            .get(&url)
            .header("Authorization", format!("Basic {}", app.operator_key)),
        // A key in the query string is for the WebSocket only: URLs end up in logs.
        app.client
            .get(format!("{url}?api_key={}", app.operator_key)),
    ];
    for request in requests {
        let response = request.send().await.unwrap();
        assert_eq!(response.headers()["www-authenticate"], "Bearer");
        assert_problem(response, 401).await;
    }
}

#[tokio::test]
async fn a_key_is_accepted_as_x_api_key_or_bearer_token() {
    let app = spawn_app().await;
    let url = app.url("/api/v1/vehicles");
    let by_header = app.client.get(&url).header("X-API-Key", &app.operator_key);
    assert_eq!(by_header.send().await.unwrap().status(), 200);
    let by_bearer = app.client.get(&url).bearer_auth(&app.admin_key);
    assert_eq!(by_bearer.send().await.unwrap().status(), 200);
    let lower_case_scheme = app
        .client
        .get(&url)
        .header("Authorization", format!("bearer {}", app.operator_key));
    assert_eq!(lower_case_scheme.send().await.unwrap().status(), 200);
}

#[tokio::test]
async fn operators_may_do_everything_with_vehicles() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("OP123")).await;
    assert_eq!(app.get_vehicle("OP123").await.status(), 200);
    let patched = app
        .patch_vehicle("OP123", &serde_json::json!({"contact_name": "Bob"}))
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(app.delete_vehicle("OP123").await.status(), 204);
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = spawn_app().await;
    let (record, secret) = create_key(&app.state, "temp", Role::Operator).await;
    let request = || {
        app.client
            .get(app.url("/api/v1/vehicles"))
            .header("X-API-Key", secret.expose())
    };
    assert_eq!(request().send().await.unwrap().status(), 200);
    app.state
        .keys
        .revoke(record.id, &AuditContext::system())
        .await
        .unwrap();
    assert_problem(request().send().await.unwrap(), 401).await;
    assert!(
        app.state
            .keys
            .revoke(record.id, &AuditContext::system())
            .await
            .is_err(),
        "revoking twice is refused"
    );
}

/// §2's 403: a known key whose role is too low. Served over real HTTP by a route that uses the
/// service's own `Admin` extractor and state.
#[tokio::test]
async fn a_known_key_with_too_low_a_role_is_403() {
    let app = spawn_app().await;
    let router = Router::new()
        .route("/admin-only", get(|_: Admin| async { "ok" }))
        .with_state(app.state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/admin-only", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let as_operator = app.client.get(&url).header("X-API-Key", &app.operator_key);
    let response = as_operator.send().await.unwrap();
    assert_eq!(response.status(), 403);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let as_admin = app.client.get(&url).header("X-API-Key", &app.admin_key);
    assert_eq!(as_admin.send().await.unwrap().status(), 200);
    let as_nobody = app.client.get(&url).send().await.unwrap();
    assert_eq!(as_nobody.status(), 401);
}

#[tokio::test]
async fn the_openapi_document_needs_no_key() {
    let app = spawn_app().await;
    let response = app.public_get("/api/v1/openapi.json").await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn keys_are_stored_only_as_hashes() {
    let app = spawn_app().await;
    let raw = std::fs::read(&app.db_path).unwrap();
    let wal = std::fs::read(app.db_path.with_extension("db-wal")).unwrap_or_default();
    for bytes in [raw, wal] {
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains(&app.operator_key));
        assert!(!text.contains(&app.admin_key));
    }
}
