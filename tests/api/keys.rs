//! API keys over HTTP (§2): roles, errors, audit, expiry, and revocation reaching open
//! live searches.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use parking::{
    domain::{AuditContext, Role},
    service::KeyService,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::{
    helpers::{
        TestApp, assert_problem, create_key, error_fields, rfc3339, spawn_app, spawn_app_with,
        vehicle,
    },
    ws::{assert_nothing_pushed, connect_as, expect_close_within, next, search},
};

async fn create(app: &TestApp, body: &Value) -> reqwest::Response {
    app.admin(Method::POST, "/api/v1/keys")
        .json(body)
        .send()
        .await
        .unwrap()
}

async fn create_ok(app: &TestApp, body: &Value) -> Value {
    let response = create(app, body).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

async fn revoke(app: &TestApp, id: &str) -> reqwest::Response {
    app.admin(Method::DELETE, &format!("/api/v1/keys/{id}"))
        .send()
        .await
        .unwrap()
}

async fn list(app: &TestApp) -> Vec<Value> {
    let page = app.admin_json(Method::GET, "/api/v1/keys").await;
    page["items"].as_array().unwrap().clone()
}

async fn status_with(app: &TestApp, key: &str) -> StatusCode {
    app.list_with_key(key).await.status()
}

#[tokio::test]
async fn an_admin_creates_a_key_that_is_shown_once_and_works_at_once() {
    let app = spawn_app().await;
    let created = create_ok(&app, &json!({"name": "gate 2", "role": "operator"})).await;
    let secret = created["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("pk_") && secret.len() >= 46, "{secret}");
    assert_eq!(created["name"], "gate 2");
    assert_eq!(created["role"], "operator");
    assert_eq!(created["expires_at"], Value::Null);
    assert_eq!(created["last_used_at"], Value::Null);
    assert_eq!(created["revoked_at"], Value::Null);
    let keys: Vec<&str> = created
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "expires_at",
            "id",
            "key",
            "last_used_at",
            "name",
            "revoked_at",
            "role"
        ]
    );
    assert_eq!(status_with(&app, &secret).await, StatusCode::OK);

    let listed = app
        .admin(Method::GET, "/api/v1/keys")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let hash = parking::domain::ApiKeySecret::from_presented(&secret).hash();
    assert!(!listed.contains(&secret), "a listing shows a secret");
    assert!(!listed.contains(hash.as_str()), "a listing shows a hash");
    let listed: Value = serde_json::from_str(&listed).unwrap();
    let mine = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == created["id"])
        .unwrap();
    let mut without_secret = created.clone();
    without_secret.as_object_mut().unwrap().remove("key");
    // Listing after one use: only last_used_at may differ.
    assert_eq!(mine["name"], without_secret["name"]);
    assert_eq!(mine["created_at"], without_secret["created_at"]);
    assert!(mine.get("key").is_none());
}

#[tokio::test]
async fn revoking_over_http_refuses_the_key_at_once_and_a_second_revocation_is_404() {
    let app = spawn_app().await;
    let created = create_ok(&app, &json!({"name": "temp", "role": "operator"})).await;
    let secret = created["key"].as_str().unwrap();
    let id = created["id"].to_string();
    assert_eq!(status_with(&app, secret).await, StatusCode::OK);
    assert_eq!(revoke(&app, &id).await.status(), StatusCode::NO_CONTENT);
    assert_problem(app.list_with_key(secret).await, 401).await;
    assert_problem(revoke(&app, &id).await, 404).await;
    assert_problem(revoke(&app, "999").await, 404).await;
    assert_problem(revoke(&app, "not-a-number").await, 404).await;
    let listed = list(&app).await;
    let mine = listed.iter().find(|k| k["id"] == created["id"]).unwrap();
    assert!(mine["revoked_at"].is_string());
}

#[tokio::test]
async fn keys_are_for_admins_only() {
    let app = spawn_app().await;
    for (method, path) in [
        (Method::GET, "/api/v1/keys"),
        (Method::POST, "/api/v1/keys"),
        (Method::DELETE, "/api/v1/keys/1"),
    ] {
        let as_operator = app
            .client
            .request(method.clone(), app.url(path))
            .header("X-API-Key", &app.operator_key)
            .json(&json!({"name": "x", "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_problem(as_operator, 403).await;
        let anonymous = app
            .client
            .request(method, app.url(path))
            .json(&json!({"name": "x", "role": "admin"}))
            .send()
            .await
            .unwrap();
        assert_problem(anonymous, 401).await;
    }
    assert_eq!(list(&app).await.len(), 2, "nothing was created");
}

#[tokio::test]
async fn a_bad_key_request_names_every_failing_field() {
    let app = spawn_app().await;
    let cases = [
        (json!({}), vec!["name", "role"]),
        (json!({"name": "", "role": "root"}), vec!["name", "role"]),
        (
            json!({"name": 7, "role": "admin", "expires_at": "tomorrow"}),
            vec!["name", "expires_at"],
        ),
        (
            json!({"name": "x", "role": "admin", "expires_at": rfc3339(Utc::now() - TimeDelta::minutes(1))}),
            vec!["expires_at"],
        ),
        (
            json!({"name": "x", "role": "admin", "scope": "all"}),
            vec!["scope"],
        ),
    ];
    for (body, fields) in cases {
        let problem = assert_problem(create(&app, &body).await, 422).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    assert_eq!(list(&app).await.len(), 2, "nothing was created");
}

#[tokio::test]
async fn the_last_active_admin_key_cannot_be_revoked() {
    let app = spawn_app().await;
    // Key 1 is PARKING_ADMIN_KEY, the only admin key.
    let problem = assert_problem(revoke(&app, "1").await, 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("last active admin key")
    );
    assert_eq!(status_with(&app, &app.admin_key).await, StatusCode::OK);
    let second = create_ok(&app, &json!({"name": "second admin", "role": "admin"})).await;
    assert_eq!(revoke(&app, "1").await.status(), StatusCode::NO_CONTENT);
    let second_key = second["key"].as_str().unwrap();
    let last = app
        .client
        .delete(app.url(&format!("/api/v1/keys/{}", second["id"])))
        .header("X-API-Key", second_key)
        .send()
        .await
        .unwrap();
    assert_problem(last, 409).await;
}

#[tokio::test]
async fn an_expired_key_is_refused_like_a_revoked_one() {
    let app = spawn_app().await;
    let expires = Utc::now() + TimeDelta::milliseconds(1500);
    let created = create_ok(
        &app,
        &json!({"name": "visitor", "role": "operator", "expires_at": rfc3339(expires)}),
    )
    .await;
    assert_eq!(created["expires_at"], rfc3339(expires));
    let secret = created["key"].as_str().unwrap();
    assert_eq!(status_with(&app, secret).await, StatusCode::OK);
    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(1600)).await;
    assert_eq!(status_with(&app, secret).await, StatusCode::UNAUTHORIZED);
    assert_problem(revoke(&app, &created["id"].to_string()).await, 404).await;
}

#[tokio::test]
async fn key_changes_are_audited_without_the_secret() {
    let app = spawn_app().await;
    let created = app
        .admin(Method::POST, "/api/v1/keys")
        .header("X-Request-Id", "r-key-create")
        .json(&json!({"name": "audited", "role": "operator"}))
        .send()
        .await
        .unwrap();
    let created: Value = created.json().await.unwrap();
    let revoked = app
        .admin(Method::DELETE, &format!("/api/v1/keys/{}", created["id"]))
        .header("X-Request-Id", "r-key-revoke")
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 204);
    let entries = app.audit_entries(&[("limit", "500")]).await;
    let find = |request_id: &str| {
        entries
            .iter()
            .find(|e| e["request_id"] == request_id)
            .unwrap()
    };
    let id = created["id"].to_string();
    assert_eq!(find("r-key-create")["action"], "api_key.created");
    assert_eq!(find("r-key-create")["entity_id"], id);
    assert_eq!(find("r-key-create")["actor"], "PARKING_ADMIN_KEY (key 1)");
    assert_eq!(
        find("r-key-create")["details"],
        json!({"name": "audited", "role": "operator"})
    );
    assert_eq!(find("r-key-revoke")["action"], "api_key.revoked");
    assert_eq!(find("r-key-revoke")["entity_id"], id);
    let everything = serde_json::to_string(&entries).unwrap();
    let secret = created["key"].as_str().unwrap();
    let hash = parking::domain::ApiKeySecret::from_presented(secret).hash();
    assert!(!everything.contains(secret) && !everything.contains(hash.as_str()));
}

#[tokio::test]
async fn last_use_is_recorded_to_the_minute_without_a_write_per_request() {
    let app = spawn_app().await;
    let (record, secret) = create_key(&app.state, "counter", Role::Operator).await;
    for _ in 0..20 {
        assert_eq!(status_with(&app, secret.expose()).await, StatusCode::OK);
    }
    app.state.keys.refresh().await.unwrap();
    let keys = list(&app).await;
    let mine = keys.iter().find(|k| k["id"] == record.id).unwrap();
    let used =
        chrono::DateTime::parse_from_rfc3339(mine["last_used_at"].as_str().unwrap()).unwrap();
    let now = Utc::now();
    assert_eq!(used.timestamp() % 60, 0, "kept to the minute");
    assert!(now.timestamp() - used.timestamp() < 120, "{used} vs {now}");
}

/// Opens a live search with a fresh operator key and waits for one `added` frame, so the
/// connection is known to be subscribed.
async fn subscribed_search(app: &TestApp, key: &str) -> crate::ws::Socket {
    let mut ws = connect_as(app, key).await;
    search(&mut ws, "s1", "", 20).await;
    app.register_ok(&vehicle("RV01AAA")).await;
    assert_eq!(next(&mut ws).await["type"], "added");
    ws
}

#[tokio::test]
async fn revoking_a_key_over_http_closes_its_live_searches_with_1008_within_a_second() {
    let app = spawn_app().await;
    let created = create_ok(&app, &json!({"name": "tablet", "role": "operator"})).await;
    let mut ws = subscribed_search(&app, created["key"].as_str().unwrap()).await;
    // Another key's connection stays open.
    let mut other = connect_as(&app, &app.operator_key).await;
    assert_eq!(revoke(&app, &created["id"].to_string()).await.status(), 204);
    app.register_ok(&vehicle("RV02BBB")).await;
    let before = expect_close_within(&mut ws, CloseCode::Policy, Duration::from_secs(1)).await;
    assert!(
        before.iter().all(|frame| frame["type"] != "added"),
        "a revoked key still received vehicles: {before:?}"
    );
    assert_nothing_pushed(&mut other).await;
}

#[tokio::test]
async fn a_revocation_made_by_another_process_reaches_open_live_searches() {
    let app = spawn_app().await;
    let (record, secret) = create_key(&app.state, "kiosk", Role::Operator).await;
    let mut ws = subscribed_search(&app, secret.expose()).await;
    // What `parking keys revoke` (or another instance) does: its own store on the database.
    let url = parking::config::Settings::from_defaults(&parking::config::Overrides {
        bind: None,
        database: Some(app.database.url()),
    })
    .unwrap()
    .database;
    let other = parking::store::open(&url, parking::store::OpenOptions::default())
        .await
        .unwrap();
    KeyService::new(other.clone(), parking::projection::Freshness::none())
        .revoke(record.id, &AuditContext::command_line())
        .await
        .unwrap();
    expect_close_within(&mut ws, CloseCode::Policy, Duration::from_secs(1)).await;
    assert_eq!(
        status_with(&app, secret.expose()).await,
        StatusCode::UNAUTHORIZED
    );
    other.close().await;
}

#[tokio::test]
async fn an_expiring_key_loses_its_live_search_within_a_second_of_expiry() {
    let app = spawn_app().await;
    let expires = Utc::now() + TimeDelta::milliseconds(1500);
    let created = create_ok(
        &app,
        &json!({"name": "day pass", "role": "operator", "expires_at": rfc3339(expires)}),
    )
    .await;
    let mut ws = subscribed_search(&app, created["key"].as_str().unwrap()).await;
    let left = (expires - Utc::now()).to_std().unwrap_or_default();
    expect_close_within(&mut ws, CloseCode::Policy, left + Duration::from_secs(1)).await;
    assert!(Utc::now() >= expires);
}

#[tokio::test]
async fn one_key_cannot_take_every_live_search_slot() {
    let app = spawn_app_with(|s| s.websocket.max_connections_per_key = 2).await;
    let _first = connect_as(&app, &app.operator_key).await;
    let _second = connect_as(&app, &app.operator_key).await;
    let third = app
        .client
        .get(app.ws_url().replacen("ws", "http", 1))
        .header("X-API-Key", &app.operator_key)
        .header("Connection", "upgrade")
        .header("Upgrade", "websocket")
        .header("Sec-WebSocket-Version", "13")
        .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(third, 429).await;
    assert!(problem["detail"].as_str().unwrap().contains("this API key"));
    // Another key still gets in.
    let mut admin = connect_as(&app, &app.admin_key).await;
    assert_nothing_pushed(&mut admin).await;
}
