//! Exact retention: an expired vehicle is never returned and its plate is free at once.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::json;

use crate::helpers::{assert_problem, minutes_ago, rfc3339, spawn_app, vehicle};

#[tokio::test]
async fn an_expired_vehicle_disappears_everywhere_and_its_plate_is_free_at_once() {
    let app = spawn_app().await;
    let mut old = vehicle("OLD123");
    old["entry_timestamp"] = json!(rfc3339(minutes_ago(120)));
    app.register_ok(&old).await;
    app.register_ok(&vehicle("NEW123")).await;

    // Two hours in, a one-hour retention has already expired the first vehicle.
    app.set_retention_hours(1).await;

    assert_problem(app.get_vehicle("OLD123").await, 404).await;
    assert_problem(
        app.patch_vehicle("OLD123", &json!({"contact_name": "X"}))
            .await,
        404,
    )
    .await;
    assert_problem(app.delete_vehicle("OLD123").await, 404).await;
    for query in [vec![], vec![("q", "OLD")], vec![("order", "entry_asc")]] {
        let listed = app.list_ok(&query).await;
        let plates: Vec<_> = listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["number_plate"].clone())
            .collect();
        assert!(!plates.contains(&json!("OLD123")), "{query:?}: {plates:?}");
    }

    let again = app.register_ok(&vehicle("old 123")).await;
    assert_eq!(again["number_plate"], "OLD123");
    assert_eq!(app.get_vehicle("OLD123").await.status(), 200);
}

#[tokio::test]
async fn expires_at_follows_the_retention_in_force_now() {
    let app = spawn_app().await;
    let created = app.register_ok(&vehicle("AB12CDE")).await;
    let entry: DateTime<Utc> = created["entry_timestamp"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    app.set_retention_hours(48).await;
    let fetched: serde_json::Value = app.get_vehicle("AB12CDE").await.json().await.unwrap();
    let expires: DateTime<Utc> = fetched["expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires, entry + TimeDelta::hours(48));
}

#[tokio::test]
async fn a_shorter_retention_applies_to_new_registrations_at_once() {
    let app = spawn_app().await;
    app.set_retention_hours(1).await;
    let mut body = vehicle("AB12CDE");
    body["entry_timestamp"] = json!(rfc3339(Utc::now() - TimeDelta::minutes(61)));
    assert_problem(app.register(&body).await, 422).await;
    body["entry_timestamp"] = json!(rfc3339(Utc::now() - TimeDelta::minutes(59)));
    assert_eq!(app.register(&body).await.status(), 201);
}

/// Natural expiry, not a retention cut: a vehicle registered to expire two seconds later is
/// returned by every read until that instant and by none after it, a `removed` frame is
/// pushed then, and its plate can be registered again at the boundary.
#[tokio::test]
async fn a_vehicle_expires_on_its_own_at_its_expires_at_everywhere_at_once() {
    use crate::ws::{connect, next, search};
    let app = spawn_app().await;
    app.set_retention_hours(1).await;
    let mut body = vehicle("NAT123");
    body["entry_timestamp"] = json!(rfc3339(
        Utc::now() - TimeDelta::hours(1) + TimeDelta::seconds(2)
    ));
    let created = app.register_ok(&body).await;
    let expires_at: DateTime<Utc> = created["expires_at"].as_str().unwrap().parse().unwrap();
    let mut ws = connect(&app).await;
    assert_eq!(search(&mut ws, "n", "NAT", 10).await["total"], 1);

    // Reads around the instant: a 200 only for a request sent before it, a 404 only for one
    // answered after it.
    let mut seen_gone = false;
    while Utc::now() < expires_at + TimeDelta::milliseconds(300) {
        let sent = Utc::now();
        let status = app.get_vehicle("NAT123").await.status().as_u16();
        let answered = Utc::now();
        match status {
            200 => {
                assert!(sent < expires_at, "returned after it expired");
                assert!(!seen_gone, "back after it had gone");
            }
            404 => {
                assert!(answered >= expires_at, "gone before it expired");
                seen_gone = true;
            }
            other => panic!("status {other}"),
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(seen_gone);

    let removed = next(&mut ws).await;
    assert_eq!(
        removed,
        json!({"type": "removed", "id": "n", "number_plate": "NAT123"})
    );
    let listed = app.list_ok(&[("q", "NAT123")]).await;
    assert_eq!(listed["items"], json!([]));
    assert_eq!(app.list_ok(&[]).await["items"], json!([]));
    assert_eq!(search(&mut ws, "m", "NAT", 10).await["total"], 0);
    // The expired row is still in the table until the purge, yet the plate is free.
    assert_eq!(app.database.count_rows("vehicles").await, 1);
    let again = app.register_ok(&vehicle("NAT123")).await;
    assert_eq!(again["number_plate"], "NAT123");
    assert_eq!(app.database.count_rows("vehicles").await, 1);
}
