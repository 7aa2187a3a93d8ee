//! Legal holds (§9): an admin keeps one vehicle past its retention until a set end; the purge
//! and the expiry sweep skip it; lifting it, or its end, expires it like any other.

use std::time::Duration;

use chrono::{TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, assert_problem, error_fields, minutes_ago, rfc3339, spawn_app, vehicle},
    ws::{connect, next, search},
};

/// A vehicle that entered 90 minutes ago, registered while the retention is 24 hours.
async fn register_old(app: &TestApp, plate: &str) -> Value {
    let mut body = vehicle(plate);
    body["entry_timestamp"] = json!(rfc3339(minutes_ago(90)));
    app.register_ok(&body).await
}

async fn hold(app: &TestApp, plate: &str, body: Value) -> reqwest::Response {
    app.admin(Method::POST, &format!("/api/v1/vehicles/{plate}/hold"))
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_held_vehicle_outlives_its_retention_and_the_purge_until_its_hold_ends() {
    let app = spawn_app().await;
    register_old(&app, "HOLD1X").await;
    register_old(&app, "GONE1X").await;
    let until = Utc::now() + TimeDelta::seconds(4);
    let held = hold(
        &app,
        "hold-1x",
        json!({"reason": "police request 2026/114", "until": rfc3339(until)}),
    )
    .await;
    assert_eq!(held.status(), 200);
    let held: Value = held.json().await.unwrap();
    assert_eq!(held["hold"]["reason"], "police request 2026/114");
    assert_eq!(held["number_plate"], "HOLD1X");

    // The retention now ends an hour after entry: half an hour ago for both.
    app.set_retention_hours(1).await;
    let read: Value = app.get_vehicle("HOLD1X").await.json().await.unwrap();
    assert_eq!(read["hold"], held["hold"]);
    assert_eq!(
        read["expires_at"], read["hold"]["until"],
        "kept until the hold ends"
    );
    assert_eq!(app.get_vehicle("GONE1X").await.status(), 404);
    let listed = app.list_ok(&[]).await;
    let plates: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number_plate"].as_str().unwrap())
        .collect();
    assert_eq!(plates, ["HOLD1X"]);
    let occupancy = app.admin_json(Method::GET, "/api/v1/occupancy").await;
    assert_eq!(occupancy["parked"], 1);
    // Registering the held plate again is a conflict: the vehicle is still there.
    assert_eq!(app.register(&vehicle("HOLD1X")).await.status(), 409);

    let purged = app
        .admin_json(Method::POST, "/api/v1/maintenance/purge")
        .await;
    assert_eq!(purged["deleted"], 1, "the expired one only");
    let mut ws = connect(&app).await;
    let results = search(&mut ws, "h", "HOLD1X", 10).await;
    assert_eq!(results["total"], 1);
    assert_eq!(
        results["items"][0]["hold"]["reason"],
        "police request 2026/114"
    );

    // At the hold's end it expires: pushed as removed, gone from reads, purged.
    let removed = tokio::time::timeout(Duration::from_secs(8), next(&mut ws))
        .await
        .unwrap();
    assert_eq!(
        removed,
        json!({"type": "removed", "id": "h", "number_plate": "HOLD1X"})
    );
    assert!(Utc::now() >= until, "not before the hold's end");
    assert_eq!(app.get_vehicle("HOLD1X").await.status(), 404);
    let purged = app
        .admin_json(Method::POST, "/api/v1/maintenance/purge")
        .await;
    assert_eq!(purged["deleted"], 1);
    assert_eq!(app.register(&vehicle("HOLD1X")).await.status(), 201);
}

#[tokio::test]
async fn lifting_a_hold_expires_a_vehicle_past_its_retention_at_once_and_both_are_audited() {
    let app = spawn_app().await;
    register_old(&app, "HOLD2X").await;
    let until = Utc::now() + TimeDelta::days(30);
    let held = hold(
        &app,
        "HOLD2X",
        json!({"reason": "insurance claim", "until": rfc3339(until)}),
    )
    .await;
    assert_eq!(held.status(), 200);
    // Placing it again replaces it.
    let again = hold(
        &app,
        "HOLD2X",
        json!({"reason": "insurance claim 2", "until": rfc3339(until)}),
    )
    .await;
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["hold"]["reason"], "insurance claim 2");
    app.set_retention_hours(1).await;
    assert_eq!(app.get_vehicle("HOLD2X").await.status(), 200);

    let lifted = app
        .admin(Method::DELETE, "/api/v1/vehicles/HOLD2X/hold")
        .send()
        .await
        .unwrap();
    assert_eq!(lifted.status(), 204);
    assert_eq!(app.get_vehicle("HOLD2X").await.status(), 404);
    let again = app
        .admin(Method::DELETE, "/api/v1/vehicles/HOLD2X/hold")
        .send()
        .await
        .unwrap();
    assert_problem(again, 404).await;

    let placed = app.audit_entries(&[("action", "vehicle.held")]).await;
    assert_eq!(placed.len(), 2);
    assert_eq!(placed[0]["details"]["reason"], "insurance claim 2");
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(placed[0]["details"]["until"].as_str().unwrap())
            .unwrap()
            .timestamp_millis(),
        until.timestamp_millis()
    );
    let lifted = app
        .audit_entries(&[("action", "vehicle.hold_lifted")])
        .await;
    assert_eq!(lifted.len(), 1);
    assert_eq!(lifted[0]["entity_id"], placed[0]["entity_id"]);
    for entry in placed.iter().chain(&lifted) {
        let text = entry.to_string();
        assert!(
            !text.contains("HOLD2X") && !text.contains("Lovelace"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn a_hold_within_retention_changes_nothing_when_lifted() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("HOLD3X")).await;
    let until = Utc::now() + TimeDelta::days(2);
    assert_eq!(
        hold(
            &app,
            "HOLD3X",
            json!({"reason": "dispute", "until": rfc3339(until)})
        )
        .await
        .status(),
        200
    );
    let read: Value = app.get_vehicle("HOLD3X").await.json().await.unwrap();
    assert_eq!(
        read["expires_at"], read["hold"]["until"],
        "the later of the two"
    );
    let lifted = app
        .admin(Method::DELETE, "/api/v1/vehicles/HOLD3X/hold")
        .send()
        .await
        .unwrap();
    assert_eq!(lifted.status(), 204);
    let read: Value = app.get_vehicle("HOLD3X").await.json().await.unwrap();
    assert!(read.get("hold").is_none());
    assert_ne!(read["expires_at"], rfc3339(until));
}

#[tokio::test]
async fn holds_are_for_admins_with_a_reason_naming_nobody_and_an_end_within_a_year() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("HOLD4X")).await;
    let soon = rfc3339(Utc::now() + TimeDelta::days(1));
    let as_operator = app
        .client
        .post(app.url("/api/v1/vehicles/HOLD4X/hold"))
        .header("X-API-Key", &app.operator_key)
        .json(&json!({"reason": "dispute", "until": soon}))
        .send()
        .await
        .unwrap();
    assert_problem(as_operator, 403).await;

    let cases = [
        (json!({}), vec!["reason", "until"]),
        (
            json!({"reason": "Ada Lovelace asked", "until": soon}),
            vec!["reason"],
        ),
        (
            json!({"reason": "car HOLD 4X", "until": soon}),
            vec!["reason"],
        ),
        (
            json!({"reason": "dispute", "until": rfc3339(minutes_ago(1))}),
            vec!["until"],
        ),
        (
            json!({"reason": "dispute", "until": rfc3339(Utc::now() + TimeDelta::days(367))}),
            vec!["until"],
        ),
        (
            json!({"reason": "dispute", "until": "next week"}),
            vec!["until"],
        ),
    ];
    for (body, fields) in cases {
        let problem = assert_problem(hold(&app, "HOLD4X", body.clone()).await, 422).await;
        assert_eq!(error_fields(&problem), fields, "{body}");
    }
    let read: Value = app.get_vehicle("HOLD4X").await.json().await.unwrap();
    assert!(read.get("hold").is_none(), "nothing held after refusals");
    assert_problem(
        hold(&app, "NOPE9X", json!({"reason": "dispute", "until": soon})).await,
        404,
    )
    .await;
    assert!(
        app.audit_entries(&[("action", "vehicle.held")])
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_backup_keeps_a_held_vehicle_past_its_retention() {
    let app = spawn_app().await;
    register_old(&app, "HOLD5X").await;
    register_old(&app, "GONE5X").await;
    let until = rfc3339(Utc::now() + TimeDelta::days(3));
    assert_eq!(
        hold(
            &app,
            "HOLD5X",
            json!({"reason": "court order", "until": until})
        )
        .await
        .status(),
        200
    );
    app.set_retention_hours(1).await;
    let backup = app
        .admin_json(Method::POST, "/api/v1/maintenance/backup")
        .await;
    let path = app.backup_dir.join(backup["file"].as_str().unwrap());
    let mut conn = crate::helpers::open_file(&path).await;
    let kept: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT number_plate, hold_reason FROM vehicles")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(
        kept,
        [("HOLD5X".to_owned(), Some("court order".to_owned()))]
    );
}

#[tokio::test]
async fn the_purge_preview_counts_a_held_vehicle_when_its_hold_ends() {
    let app = spawn_app().await;
    register_old(&app, "HOLD6X").await;
    register_old(&app, "HOLD7X").await;
    let soon = Utc::now() + TimeDelta::minutes(150);
    let later = Utc::now() + TimeDelta::days(3);
    for (plate, until) in [("HOLD6X", soon), ("HOLD7X", later)] {
        let placed = hold(
            &app,
            plate,
            json!({"reason": "dispute", "until": rfc3339(until)}),
        )
        .await;
        assert_eq!(placed.status(), 200);
    }
    // Both are past their retention once it is an hour: only the holds keep them.
    app.set_retention_hours(1).await;
    let preview = app
        .admin_json(Method::GET, "/api/v1/maintenance/purge-preview?hours=3")
        .await;
    assert_eq!(preview["count"], 1, "the hold ending within 3 hours");
    let hour = |v: &Value| chrono::DateTime::parse_from_rfc3339(v.as_str().unwrap()).unwrap();
    let counted: Vec<&Value> = preview["by_hour"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|h| h["count"] == 1)
        .collect();
    assert_eq!(counted.len(), 1);
    let starts = hour(&counted[0]["hour"]);
    assert!(
        starts <= soon && soon < starts + TimeDelta::hours(1),
        "counted in the hour the hold ends"
    );
    let week = app
        .admin_json(Method::GET, "/api/v1/maintenance/purge-preview?hours=168")
        .await;
    assert_eq!(week["count"], 2);
    let purged = app
        .admin_json(Method::POST, "/api/v1/maintenance/purge")
        .await;
    assert_eq!(purged["deleted"], 0, "nothing is due yet");
}
