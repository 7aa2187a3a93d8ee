//! The retention purge: exact, batched, audited, and never stalling the API.

use std::time::{Duration, Instant};

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::helpers::{TestApp, minutes_ago, rfc3339, spawn_app, vehicle};

async fn park_at(app: &TestApp, plate: &str, minutes: i64) {
    let mut body = vehicle(plate);
    body["entry_timestamp"] = json!(rfc3339(minutes_ago(minutes)));
    app.register_ok(&body).await;
}

#[tokio::test]
async fn expired_vehicles_are_invisible_at_once_and_deleted_by_the_job() {
    let app = spawn_app().await;
    for plate in ["OLD1", "OLD2", "OLD3"] {
        park_at(&app, plate, 120).await;
    }
    park_at(&app, "NEW1", 10).await;
    app.set_retention_hours(1).await;

    // Invisible before any purge...
    assert_eq!(app.get_vehicle("OLD1").await.status(), 404);
    assert_eq!(app.list_ok(&[]).await["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        app.database.count_rows("vehicles").await,
        4,
        "still stored until purged"
    );

    // ...and gone from the file after one run of the job.
    app.run_purge_job().await;
    assert_eq!(app.database.count_rows("vehicles").await, 1);
    assert_eq!(app.get_vehicle("NEW1").await.status(), 200);

    let purges = app.audit_entries(&[("action", "vehicles.purged")]).await;
    assert_eq!(purges.len(), 1, "one entry per run");
    assert_eq!(purges[0]["details"]["deleted"], 3);
    assert_eq!(purges[0]["actor"], "system");
    assert_eq!(purges[0]["entity"], "vehicles");

    app.run_purge_job().await;
    assert_eq!(
        app.audit_entries(&[("action", "vehicles.purged")])
            .await
            .len(),
        1,
        "a run that deletes nothing writes nothing"
    );
}

#[tokio::test]
async fn purge_now_reports_the_count_and_cutoff() {
    let app = spawn_app().await;
    park_at(&app, "OLD1", 120).await;
    park_at(&app, "NEW1", 30).await;
    app.set_retention_hours(1).await;
    let before = Utc::now();
    let response = app
        .admin(reqwest::Method::POST, "/api/v1/maintenance/purge")
        .header("X-Request-Id", "purge-now")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["deleted"], 1);
    let cutoff: chrono::DateTime<Utc> = body["cutoff"].as_str().unwrap().parse().unwrap();
    assert!(
        cutoff >= before - TimeDelta::hours(1) - TimeDelta::seconds(1)
            && cutoff <= Utc::now() - TimeDelta::hours(1)
    );
    let purges = app.audit_entries(&[("action", "vehicles.purged")]).await;
    assert_eq!(purges[0]["request_id"], "purge-now");
    assert_eq!(purges[0]["actor"], "PARKING_ADMIN_KEY (key 1)");

    let again: Value = app
        .admin_json(reqwest::Method::POST, "/api/v1/maintenance/purge")
        .await;
    assert_eq!(again["deleted"], 0);
    let operator = app
        .client
        .post(app.url("/api/v1/maintenance/purge"))
        .header("X-API-Key", &app.operator_key)
        .send()
        .await
        .unwrap();
    assert_eq!(operator.status(), 403);
}

/// Seeds rows straight into the database: 100,000 registrations over HTTP would take minutes.
async fn seed_expired(app: &TestApp, count: i64) {
    let entry_ms = (Utc::now() - TimeDelta::hours(48)).timestamp_millis();
    app.database
        .execute(
            "WITH RECURSIVE n(i) AS (SELECT CAST(1 AS BIGINT) UNION ALL SELECT i + 1 FROM n WHERE i < $1) \
             INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, phone_number, \
             entry_ms, created_ms, updated_ms) \
             SELECT 'EX' || i, 'EX' || i, 'Expired Person', 'expired person', '+442079460958', $2, $2, $2 FROM n",
            &[count, entry_ms],
        )
        .await;
}

#[tokio::test]
async fn purging_100k_rows_keeps_reads_answering() {
    let app = spawn_app().await;
    seed_expired(&app, 100_000).await;
    app.register_ok(&vehicle("LIVE1")).await;

    let purge = {
        let (client, url, key) = (
            app.client.clone(),
            app.url("/api/v1/maintenance/purge"),
            app.admin_key.clone(),
        );
        tokio::spawn(async move {
            let started = Instant::now();
            let body: Value = client
                .post(url)
                .header("X-API-Key", key)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            (body, started.elapsed())
        })
    };
    let mut reads = 0;
    let mut slowest = Duration::ZERO;
    while !purge.is_finished() {
        let started = Instant::now();
        let response = app.get_vehicle("LIVE1").await;
        assert_eq!(response.status(), 200, "a read failed during the purge");
        slowest = slowest.max(started.elapsed());
        reads += 1;
    }
    let (body, took) = purge.await.unwrap();
    assert_eq!(body["deleted"], 100_000);
    assert!(reads >= 5, "only {reads} reads completed while purging");
    eprintln!("purged 100000 rows in {took:?}; {reads} reads meanwhile, slowest {slowest:?}");
    // Reads never wait for the purge: each batch is a short transaction, and reads do not
    // need the writer at all.
    assert!(
        slowest < Duration::from_millis(500),
        "a read waited {slowest:?} during the purge"
    );
    assert_eq!(app.database.count_rows("vehicles").await, 1);
    let purges = app.audit_entries(&[("action", "vehicles.purged")]).await;
    assert_eq!(purges.len(), 1);
    assert_eq!(
        purges[0]["details"]["deleted"], 100_000,
        "batches add up in one entry"
    );
}

#[tokio::test]
async fn audit_entries_past_their_retention_are_purged() {
    let app = spawn_app().await;
    let old_ms = (Utc::now() - TimeDelta::days(366)).timestamp_millis();
    app.database
        .execute(
            "INSERT INTO audit_logs (ts_ms, action, entity, actor, details) \
             VALUES ($1, 'vehicle.deleted', 'vehicle', 'system', '{}')",
            &[old_ms],
        )
        .await;
    let before = app.database.count_rows("audit_logs").await;
    app.run_purge_job().await;
    assert_eq!(app.database.count_rows("audit_logs").await, before - 1);
    assert!(
        !app.audit_entries(&[("limit", "500")]).await.is_empty(),
        "recent entries stay"
    );
}
