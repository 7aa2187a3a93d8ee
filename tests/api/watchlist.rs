//! The watchlist (§9): admins watch plates; a registration that matches one (look-alikes
//! included) is an `alert` on every live search; entries are audited without their note and
//! kept only as long as the retention period allows.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, assert_problem, error_fields, spawn_app, vehicle},
    ws::{assert_nothing_pushed, connect, next, search},
};

const NOTE: &str = "Blocked the fire exit twice; call security";

async fn put_watch(app: &TestApp, plate: &str, body: &Value) -> reqwest::Response {
    app.admin(Method::PUT, &format!("/api/v1/watchlist/{plate}"))
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn admins_watch_plates_by_any_spelling() {
    let app = spawn_app().await;
    let added = put_watch(&app, "ab-12%20cde", &json!({"note": NOTE})).await;
    assert_eq!(added.status(), 201);
    let entry: Value = added.json().await.unwrap();
    assert_eq!(entry["number_plate"], "AB12CDE");
    assert_eq!(entry["note"], NOTE);
    assert_eq!(entry["created_at"], entry["updated_at"]);
    let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "created_at",
            "expires_at",
            "note",
            "number_plate",
            "updated_at"
        ]
    );

    let replaced = put_watch(&app, "AB12CDE", &json!({"note": "  Towed once  "})).await;
    assert_eq!(replaced.status(), 200);
    let replaced: Value = replaced.json().await.unwrap();
    assert_eq!(replaced["note"], "Towed once");
    assert_eq!(replaced["created_at"], entry["created_at"]);

    let read = app
        .admin_json(Method::GET, "/api/v1/watchlist/ab12cde")
        .await;
    assert_eq!(read, replaced);
    put_watch(&app, "XY99", &json!({"note": "second"})).await;
    let list = app.admin_json(Method::GET, "/api/v1/watchlist").await;
    let plates: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["number_plate"].as_str().unwrap())
        .collect();
    assert_eq!(plates, ["AB12CDE", "XY99"]);

    let removed = app
        .admin(Method::DELETE, "/api/v1/watchlist/AB12CDE")
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    for method in [Method::GET, Method::DELETE] {
        let gone = app
            .admin(method, "/api/v1/watchlist/AB12CDE")
            .send()
            .await
            .unwrap();
        assert_problem(gone, 404).await;
    }
}

#[tokio::test]
async fn bad_notes_and_plates_are_422_and_operators_are_refused() {
    let app = spawn_app().await;
    for (plate, body, fields) in [
        ("AB12CDE", json!({}), vec!["note"]),
        ("AB12CDE", json!({"note": "   "}), vec!["note"]),
        ("AB12CDE", json!({"note": 7}), vec!["note"]),
        ("AB12CDE", json!({"note": "x".repeat(501)}), vec!["note"]),
        ("AB12CDE", json!({"note": "bell\u{7}"}), vec!["note"]),
        ("%21%21", json!({"note": "ok"}), vec!["number_plate"]),
    ] {
        let problem = assert_problem(put_watch(&app, plate, &body).await, 422).await;
        assert_eq!(error_fields(&problem), fields, "{plate} {body}");
    }
    let unknown = put_watch(&app, "AB12CDE", &json!({"note": "ok", "why": 1})).await;
    assert_problem(unknown, 422).await;
    for (method, path) in [
        (Method::GET, "/api/v1/watchlist"),
        (Method::GET, "/api/v1/watchlist/AB12CDE"),
        (Method::PUT, "/api/v1/watchlist/AB12CDE"),
        (Method::DELETE, "/api/v1/watchlist/AB12CDE"),
    ] {
        let response = app
            .client
            .request(method, app.url(path))
            .header("X-API-Key", &app.operator_key)
            .json(&json!({"note": "ok"}))
            .send()
            .await
            .unwrap();
        assert_problem(response, 403).await;
    }
    assert_eq!(app.database.count_rows("watchlist").await, 0);
}

#[tokio::test]
async fn a_matching_registration_alerts_every_live_search() {
    let app = spawn_app().await;
    put_watch(&app, "AB12CDE", &json!({"note": NOTE})).await;
    // One connection searching for something else, one that has not searched at all.
    let mut searching = connect(&app).await;
    search(&mut searching, "s", "ZZZ", 10).await;
    let mut idle = connect(&app).await;

    // A look-alike spelling of the watched plate (a misread at the gate) alerts too.
    let created = app.register_ok(&vehicle("A812CDE")).await;
    for ws in [&mut searching, &mut idle] {
        let alert = next(ws).await;
        assert_eq!(alert["type"], "alert");
        assert_eq!(alert["note"], NOTE);
        assert_eq!(alert["vehicle"], created);
        assert_nothing_pushed(ws).await;
    }
    // Other plates, and changes to a registered vehicle, are no alert.
    app.register_ok(&vehicle("AB12CDF")).await;
    let patched = app
        .patch_vehicle("A812CDE", &json!({"contact_name": "Grace Hopper"}))
        .await;
    assert_eq!(patched.status(), 200);
    assert_nothing_pushed(&mut idle).await;

    // Once the plate is no longer watched, its arrival is news to nobody.
    app.admin(Method::DELETE, "/api/v1/watchlist/AB12CDE")
        .send()
        .await
        .unwrap();
    app.register_ok(&vehicle("AB12CDE")).await;
    assert_nothing_pushed(&mut idle).await;
}

#[tokio::test]
async fn changes_are_audited_under_a_pseudonym_without_the_note() {
    let app = spawn_app().await;
    put_watch(&app, "AB12CDE", &json!({"note": NOTE})).await;
    put_watch(&app, "AB12CDE", &json!({"note": "Towed once"})).await;
    app.admin(Method::DELETE, "/api/v1/watchlist/AB12CDE")
        .send()
        .await
        .unwrap();
    let entries = app.audit_entries(&[("entity_id", "ab 12 cde")]).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        ["watchlist.removed", "watchlist.updated", "watchlist.added"]
    );
    for entry in &entries {
        assert_eq!(entry["entity"], "watchlist");
        assert_eq!(entry["details"], json!({}));
        let text = entry.to_string();
        assert!(
            !text.contains("AB12CDE") && !text.contains("fire exit") && !text.contains("Towed")
        );
    }
}

#[tokio::test]
async fn entries_expire_with_the_retention_period_and_are_purged() {
    let app = spawn_app().await;
    app.set_retention_hours(1).await;
    put_watch(&app, "OLD1", &json!({"note": "old"})).await;
    put_watch(&app, "NEW1", &json!({"note": "new"})).await;
    // OLD1 was last changed two hours ago: past the retention period.
    app.database
        .execute(
            "UPDATE watchlist SET updated_ms = updated_ms - 7200000, created_ms = created_ms - 7200000 \
             WHERE number_plate = 'OLD1'",
            &[],
        )
        .await;
    let gone = app
        .admin(Method::GET, "/api/v1/watchlist/OLD1")
        .send()
        .await
        .unwrap();
    assert_problem(gone, 404).await;
    let list = app.admin_json(Method::GET, "/api/v1/watchlist").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);

    app.run_purge_job().await;
    assert_eq!(app.database.count_rows("watchlist").await, 1);
    let purged = app.audit_entries(&[("action", "watchlist.purged")]).await;
    assert_eq!(purged.len(), 1);
    assert_eq!(purged[0]["details"], json!({"deleted": 1}));
    // Watching it again starts afresh.
    assert_eq!(
        put_watch(&app, "OLD1", &json!({"note": "again"}))
            .await
            .status(),
        201
    );
}
