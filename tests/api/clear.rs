//! POST /api/v1/maintenance/clear.

use serde_json::{Value, json};

use crate::helpers::{
    TestApp, assert_problem, count_rows, error_fields, spawn_app, spawn_app_with, vehicle,
};

async fn clear(app: &TestApp, body: &Value) -> reqwest::Response {
    app.admin(reqwest::Method::POST, "/api/v1/maintenance/clear")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn clear_without_confirmation_is_refused_and_deletes_nothing() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("KEEP1")).await;
    for body in [
        json!({}),
        json!({"confirm": false}),
        json!({"confirm": "yes"}),
        json!({"confirm": 1}),
    ] {
        let problem = assert_problem(clear(&app, &body).await, 422).await;
        assert_eq!(error_fields(&problem), ["confirm"], "{body}");
    }
    assert_eq!(app.database.count_rows("vehicles").await, 1);
    assert!(
        !app.backup_dir.exists() || std::fs::read_dir(&app.backup_dir).unwrap().next().is_none(),
        "no backup either"
    );
    let operator = app
        .client
        .post(app.url("/api/v1/maintenance/clear"))
        .header("X-API-Key", &app.operator_key)
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_problem(operator, 403).await;
    assert_eq!(app.database.count_rows("vehicles").await, 1);
}

#[tokio::test]
async fn clear_writes_a_verified_backup_first_that_holds_the_vehicles() {
    let app = spawn_app().await;
    for plate in ["CLR1", "CLR2", "CLR3"] {
        app.register_ok(&vehicle(plate)).await;
    }
    let response = clear(&app, &json!({"confirm": true})).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["deleted"], 3);
    let file = body["backup"]["file"].as_str().unwrap();
    assert!(
        file.starts_with("parking-") && file.ends_with("-pre-clear.db"),
        "{file}"
    );
    let path = app.backup_dir.join(file);
    assert_eq!(
        body["backup"]["size_bytes"],
        std::fs::metadata(&path).unwrap().len()
    );

    parking::store::sqlite::verify_file(&path).await.unwrap();
    assert_eq!(
        count_rows(&path, "vehicles").await,
        3,
        "the backup holds the cleared vehicles"
    );
    assert_eq!(app.database.count_rows("vehicles").await, 0);
    assert_eq!(app.list_ok(&[]).await["items"], json!([]));

    let cleared = app.audit_entries(&[("action", "vehicles.cleared")]).await;
    assert_eq!(cleared.len(), 1);
    assert_eq!(cleared[0]["details"], json!({"deleted": 3, "backup": file}));
    let backups = app.audit_entries(&[("action", "backup.created")]).await;
    assert_eq!(backups[0]["details"]["trigger"], "pre-clear");
}

#[tokio::test]
async fn clear_without_backup_writes_none() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("CLR1")).await;
    let body: Value = clear(&app, &json!({"confirm": true, "backup": false}))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body, json!({"deleted": 1, "backup": null}));
    assert!(!app.backup_dir.exists());
}

#[tokio::test]
async fn when_the_backup_fails_nothing_is_deleted() {
    let app = spawn_app_with(|settings| {
        // A backup folder that cannot be created: its parent is a file.
        let blocker = settings.backup_dir.with_file_name("not-a-folder");
        std::fs::write(&blocker, b"x").unwrap();
        settings.backup_dir = blocker.join("backups");
    })
    .await;
    app.register_ok(&vehicle("SAFE1")).await;
    let problem = assert_problem(clear(&app, &json!({"confirm": true})).await, 500).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was deleted")
    );
    assert_eq!(app.database.count_rows("vehicles").await, 1);
    assert_eq!(app.get_vehicle("SAFE1").await.status(), 200);
    assert!(
        app.audit_entries(&[("action", "vehicles.cleared")])
            .await
            .is_empty()
    );
}
