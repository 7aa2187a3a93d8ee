//! The retention report (§9): what retention did on a day — rows purged, erased and held,
//! backups deleted, the oldest record held — signed, and checked by `parking verify-report`.

use chrono::{TimeDelta, Utc};
use parking::{domain::AuditContext, service::BackupTrigger};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{
        TestApp, assert_problem, error_fields, minutes_ago, rfc3339, spawn_app_with, vehicle,
    },
    process::parking,
};

async fn register_at(app: &TestApp, plate: &str, minutes: i64) -> Value {
    let mut body = vehicle(plate);
    body["entry_timestamp"] = json!(rfc3339(minutes_ago(minutes)));
    app.register_ok(&body).await
}

/// Runs `parking verify-report FILE` on the test's database; its exit status and stderr.
async fn verify(app: &TestApp, report: &str) -> (bool, String) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.json");
    std::fs::write(&file, report).unwrap();
    let out = parking()
        .args(["--database", &app.database.url(), "verify-report"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn todays_report_counts_what_retention_did_and_its_signature_catches_any_change() {
    let app = spawn_app_with(|s| s.backup_keep = 1).await;
    let held = register_at(&app, "REPO1X", 150).await;
    register_at(&app, "REPO2X", 120).await;
    register_at(&app, "REPO3X", 90).await;
    app.register_ok(&vehicle("REPO4X")).await;
    app.register_ok(&vehicle("ERAS1X")).await;
    let until = rfc3339(Utc::now() + TimeDelta::days(5));
    let placed = app
        .admin(Method::POST, "/api/v1/vehicles/REPO1X/hold")
        .json(&json!({"reason": "court order", "until": until}))
        .send()
        .await
        .unwrap();
    assert_eq!(placed.status(), 200);
    app.set_retention_hours(1).await;
    let purged = app
        .admin_json(Method::POST, "/api/v1/maintenance/purge")
        .await;
    assert_eq!(purged["deleted"], 2);
    let erased = app
        .admin(Method::POST, "/api/v1/subjects/erase")
        .json(&json!({"number_plate": "ERAS1X", "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200);
    // Two scheduled backups, one kept: rotation deletes one.
    for _ in 0..2 {
        app.state
            .backups
            .create(BackupTrigger::Scheduled, &AuditContext::system())
            .await
            .unwrap();
    }
    assert_eq!(app.state.backups.rotate(Utc::now()).await.unwrap(), 1);

    let report = app
        .admin_json(Method::GET, "/api/v1/maintenance/retention-report")
        .await;
    let today = Utc::now().date_naive().format("%Y-%m-%d").to_string();
    assert_eq!(report["day"], today);
    assert_eq!(report["retention_hours"], 1);
    assert_eq!(report["purged"], 2);
    assert_eq!(report["erased"], 1);
    assert_eq!(report["held"], 1);
    assert_eq!(report["backups_deleted"], 1);
    assert_eq!(
        chrono::DateTime::parse_from_rfc3339(report["oldest_record"].as_str().unwrap()).unwrap(),
        chrono::DateTime::parse_from_rfc3339(held["entry_timestamp"].as_str().unwrap()).unwrap(),
        "the held vehicle is the oldest record"
    );
    assert!(
        report["signature"]
            .as_str()
            .unwrap()
            .starts_with("hmac-sha256:")
    );
    let by_day = app
        .admin_json(
            Method::GET,
            &format!("/api/v1/maintenance/retention-report?day={today}"),
        )
        .await;
    assert_eq!(by_day["purged"], 2);

    // A saved report checks out, however it is laid out; any change is caught.
    let saved = serde_json::to_string_pretty(&report).unwrap();
    let (valid, said) = verify(&app, &saved).await;
    assert!(valid, "{said}");
    assert!(said.contains("the signature is valid"), "{said}");
    for (field, value) in [
        ("purged", json!(1)),
        ("held", json!(0)),
        ("day", json!("2026-01-01")),
    ] {
        let mut altered = report.clone();
        altered[field] = value;
        let (valid, said) = verify(&app, &altered.to_string()).await;
        assert!(!valid, "an altered {field} passed");
        assert!(said.contains("altered"), "{said}");
    }
    let mut unsigned = report.clone();
    unsigned.as_object_mut().unwrap().remove("signature");
    assert!(!verify(&app, &unsigned.to_string()).await.0);
}

#[tokio::test]
async fn a_day_without_activity_reports_zeros_and_bad_days_are_refused() {
    let app = spawn_app_with(|_| {}).await;
    let quiet = app
        .admin_json(
            Method::GET,
            "/api/v1/maintenance/retention-report?day=2026-01-15",
        )
        .await;
    assert_eq!(quiet["day"], "2026-01-15");
    assert_eq!(
        (
            &quiet["purged"],
            &quiet["erased"],
            &quiet["held"],
            &quiet["backups_deleted"]
        ),
        (&json!(0), &json!(0), &Value::Null, &json!(0))
    );
    for (day, status) in [
        (
            (Utc::now() + TimeDelta::days(2))
                .format("%Y-%m-%d")
                .to_string(),
            422,
        ),
        ("yesterday".to_owned(), 400),
        ("2026-13-01".to_owned(), 400),
    ] {
        let response = app
            .admin(
                Method::GET,
                &format!("/api/v1/maintenance/retention-report?day={day}"),
            )
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, status).await;
        assert_eq!(error_fields(&problem), ["day"], "{day}");
    }
    let as_operator = app
        .client
        .get(app.url("/api/v1/maintenance/retention-report"))
        .header("X-API-Key", &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_problem(as_operator, 403).await;
}
