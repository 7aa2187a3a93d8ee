//! `GET /api/v1/maintenance/purge-preview` (§9): what the purge will delete in the next hours.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, minutes_ago, rfc3339, spawn_app, vehicle};

#[tokio::test]
async fn the_preview_counts_what_the_purge_will_delete_by_hour() {
    let app = spawn_app().await;
    app.set_retention_hours(2).await;
    for (plate, minutes) in [
        ("PREV1X", 150),
        ("PREV2X", 90),
        ("PREV3X", 30),
        ("PREV4X", 0),
    ] {
        let mut body = vehicle(plate);
        body["entry_timestamp"] = json!(rfc3339(minutes_ago(minutes)));
        // The expired one is registered before the retention is shortened: entries already
        // expired are refused.
        if minutes == 150 {
            app.set_retention_hours(3).await;
            app.register_ok(&body).await;
            app.set_retention_hours(2).await;
        } else {
            app.register_ok(&body).await;
        }
    }

    let one_hour: Value = app
        .admin_json(Method::GET, "/api/v1/maintenance/purge-preview?hours=1")
        .await;
    // The vehicle already expired and the one expiring in 30 minutes.
    assert_eq!(one_hour["count"], 2);
    let by_hour = one_hour["by_hour"].as_array().unwrap();
    assert_eq!(by_hour.len(), 2, "the current hour and the next");
    let sum: i64 = by_hour.iter().map(|h| h["count"].as_i64().unwrap()).sum();
    assert_eq!(sum, 2);
    assert!(
        by_hour[0]["count"].as_i64().unwrap() >= 1,
        "the expired one counts now"
    );
    let hour =
        |h: &Value| chrono::DateTime::parse_from_rfc3339(h["hour"].as_str().unwrap()).unwrap();
    assert_eq!((hour(&by_hour[1]) - hour(&by_hour[0])).num_minutes(), 60);
    let cutoff =
        chrono::DateTime::parse_from_rfc3339(one_hour["cutoff"].as_str().unwrap()).unwrap();
    let expected = chrono::Utc::now() - chrono::TimeDelta::hours(1);
    assert!(
        (cutoff.to_utc() - expected).num_seconds().abs() < 5,
        "now + 1 h − 2 h"
    );

    let two_hours: Value = app
        .admin_json(Method::GET, "/api/v1/maintenance/purge-preview?hours=2")
        .await;
    // All four: the newest entered just before the preview began.
    assert_eq!(two_hours["count"], 4);
    let default: Value = app
        .admin_json(Method::GET, "/api/v1/maintenance/purge-preview")
        .await;
    assert_eq!(default["count"], 4, "24 hours by default");
    assert_eq!(default["by_hour"].as_array().unwrap().len(), 25);

    // The purge an hour from now is the purge with the retention an hour shorter now.
    app.set_retention_hours(1).await;
    let purged = app
        .admin_json(Method::POST, "/api/v1/maintenance/purge")
        .await;
    assert_eq!(purged["deleted"], one_hour["count"]);
}

#[tokio::test]
async fn a_preview_out_of_range_or_by_a_non_admin_is_refused() {
    let app = spawn_app().await;
    for (query, status) in [("hours=0", 422), ("hours=169", 422), ("hours=soon", 400)] {
        let response = app
            .admin(
                Method::GET,
                &format!("/api/v1/maintenance/purge-preview?{query}"),
            )
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, status).await;
        assert_eq!(error_fields(&problem), ["hours"], "{query}");
    }
    let as_operator = app
        .client
        .get(app.url("/api/v1/maintenance/purge-preview"))
        .header("X-API-Key", &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_problem(as_operator, 403).await;
}
