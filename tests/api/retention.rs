//! GET and PUT /api/v1/config/retention.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, spawn_app};

#[tokio::test]
async fn operators_read_the_retention_period() {
    let app = spawn_app().await;
    let response = app.get("/api/v1/config/retention").send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["retention_hours"], 24);
    assert!(
        body["updated_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .is_ok()
    );
    assert_eq!(body.as_object().unwrap().len(), 2);
}

#[tokio::test]
async fn only_admins_change_it() {
    let app = spawn_app().await;
    let body = json!({"retention_hours": 12});
    assert_problem(app.put_retention(&body, &app.operator_key).await, 403).await;
    assert_problem(app.put_retention(&body, "pk_unknown").await, 401).await;
    let response = app.put_retention(&body, &app.admin_key).await;
    assert_eq!(response.status(), 200);
    let changed: Value = response.json().await.unwrap();
    assert_eq!(changed["retention_hours"], 12);
    let read: Value = app.get_json("/api/v1/config/retention").await;
    assert_eq!(read, changed);
}

#[tokio::test]
async fn out_of_range_or_non_integer_values_are_422_and_change_nothing() {
    let app = spawn_app().await;
    for body in [
        json!({"retention_hours": 0}),
        json!({"retention_hours": 8761}),
        json!({"retention_hours": -5}),
        json!({"retention_hours": "24"}),
        json!({"retention_hours": 24.5}),
        json!({"retention_hours": null}),
        json!({}),
    ] {
        let problem = assert_problem(app.put_retention(&body, &app.admin_key).await, 422).await;
        assert_eq!(error_fields(&problem), ["retention_hours"], "{body}");
    }
    for hours in [1, 8760] {
        let response = app
            .put_retention(&json!({"retention_hours": hours}), &app.admin_key)
            .await;
        assert_eq!(response.status(), 200, "{hours}");
    }
    let read: Value = app.get_json("/api/v1/config/retention").await;
    assert_eq!(read["retention_hours"], 8760);
}

#[tokio::test]
async fn a_change_is_audited_with_actor_and_request_id() {
    let app = spawn_app().await;
    let response = app
        .client
        .put(app.url("/api/v1/config/retention"))
        .header("X-API-Key", &app.admin_key)
        .header("X-Request-Id", "ret-change-1")
        .json(&json!({"retention_hours": 6}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let entries = app
        .audit_entries(&[("action", "config.retention_updated")])
        .await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["entity"], "config");
    assert_eq!(entry["entity_id"], "retention");
    assert_eq!(entry["actor"], "PARKING_ADMIN_KEY (key 1)");
    assert_eq!(entry["request_id"], "ret-change-1");
    assert_eq!(entry["details"], json!({"from_hours": 24, "to_hours": 6}));
}
