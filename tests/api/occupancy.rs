//! Occupancy and capacity (§9): hourly counts after a known sequence of entries, exits and
//! expiries, the `occupancy` frame, and look-alike warnings at registration.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};
use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, assert_problem, error_fields, rfc3339, spawn_app, vehicle},
    ws::{assert_nothing_pushed, connect, next_any},
};

async fn park_at(app: &TestApp, plate: &str, entered: DateTime<Utc>) {
    let mut body = vehicle(plate);
    body["entry_timestamp"] = json!(rfc3339(entered));
    app.register_ok(&body).await;
}

async fn occupancy(app: &TestApp, hours: &str) -> Value {
    let response = app
        .get("/api/v1/occupancy")
        .query(&[("hours", hours)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

fn column(series: &Value, field: &str) -> Vec<i64> {
    series["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hour| hour[field].as_i64().unwrap())
        .collect()
}

/// The start of the current hour, after waiting out the last seconds of an hour so that the
/// test and the server agree on which hour is current.
async fn this_hour() -> DateTime<Utc> {
    let now = Utc::now();
    let hour = now.duration_trunc(TimeDelta::hours(1)).unwrap();
    if hour + TimeDelta::hours(1) - now < TimeDelta::seconds(20) {
        tokio::time::sleep(
            (hour + TimeDelta::hours(1) - now + TimeDelta::seconds(1))
                .to_std()
                .unwrap(),
        )
        .await;
        return Utc::now().duration_trunc(TimeDelta::hours(1)).unwrap();
    }
    hour
}

#[tokio::test]
async fn entries_exits_and_expiries_give_the_hourly_series() {
    let app = spawn_app().await;
    let h0 = this_hour().await;
    let minutes = TimeDelta::minutes;
    park_at(&app, "OCC1", h0 - TimeDelta::hours(4) + minutes(10)).await; // expires below
    park_at(&app, "OCC2", h0 - TimeDelta::hours(2) + minutes(10)).await;
    park_at(&app, "OCC3", h0 - TimeDelta::hours(2) + minutes(20)).await; // leaves now
    park_at(&app, "OCC4", h0 - TimeDelta::hours(1) + minutes(30)).await;
    app.register_ok(&vehicle("OCC5")).await; // enters now
    assert_eq!(app.delete_vehicle("OCC3").await.status(), 204);
    // OCC1's retention ends at h0 - 1h + 10 min: an expiry, not an exit.
    app.set_retention_hours(3).await;

    let expected = |occupancy: &Value| {
        assert_eq!(occupancy["parked"], 3);
        assert_eq!(occupancy["capacity"], Value::Null);
        let hours: Vec<&str> = occupancy["series"]
            .as_array()
            .unwrap()
            .iter()
            .map(|hour| hour["hour"].as_str().unwrap())
            .collect();
        let first = (h0 - TimeDelta::hours(5)).to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let last = h0.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        assert_eq!(
            (hours.len(), hours[0], hours[5]),
            (6, first.as_str(), last.as_str())
        );
        assert_eq!(column(occupancy, "entries"), [0, 1, 0, 2, 1, 1]);
        assert_eq!(column(occupancy, "exits"), [0, 0, 0, 0, 0, 1]);
        assert_eq!(column(occupancy, "parked"), [0, 1, 1, 3, 3, 3]);
    };
    // Before the purge the expired row is still in the table; after it, only counts remain.
    expected(&occupancy(&app, "6").await);
    app.run_purge_job().await;
    assert_eq!(app.database.count_rows("vehicles").await, 3);
    expected(&occupancy(&app, "6").await);

    // A clear counts every parked vehicle as an exit in the current hour.
    let cleared = app
        .admin(Method::POST, "/api/v1/maintenance/clear")
        .json(&json!({"confirm": true, "backup": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    let after = occupancy(&app, "6").await;
    assert_eq!(after["parked"], 0);
    assert_eq!(column(&after, "exits"), [0, 0, 0, 0, 0, 4]);
    assert_eq!(column(&after, "parked"), [0, 1, 1, 3, 3, 0]);
}

#[tokio::test]
async fn the_series_length_is_checked_and_defaults_to_a_day() {
    let app = spawn_app().await;
    let default: Value = app.get_json("/api/v1/occupancy").await;
    assert_eq!(default["series"].as_array().unwrap().len(), 24);
    assert_eq!(
        occupancy(&app, "720").await["series"]
            .as_array()
            .unwrap()
            .len(),
        720
    );
    for (hours, status) in [
        ("0", 422),
        ("721", 422),
        ("-1", 422),
        ("ten", 400),
        ("1.5", 400),
    ] {
        let response = app
            .get("/api/v1/occupancy")
            .query(&[("hours", hours)])
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, status).await;
        assert_eq!(error_fields(&problem), ["hours"], "{hours}");
    }
    let anonymous = app
        .client
        .get(app.url("/api/v1/occupancy"))
        .send()
        .await
        .unwrap();
    assert_problem(anonymous, 401).await;
}

#[tokio::test]
async fn admins_set_the_capacity_and_it_is_audited() {
    let app = spawn_app().await;
    let as_operator = app
        .client
        .put(app.url("/api/v1/config/capacity"))
        .header("X-API-Key", &app.operator_key)
        .json(&json!({"capacity": 10}))
        .send()
        .await
        .unwrap();
    assert_problem(as_operator, 403).await;
    for body in [
        json!({"capacity": 0}),
        json!({"capacity": 1_000_001}),
        json!({"capacity": "200"}),
        json!({"capacity": 2.5}),
        json!({}),
    ] {
        let response = app
            .admin(Method::PUT, "/api/v1/config/capacity")
            .json(&body)
            .send()
            .await
            .unwrap();
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), ["capacity"], "{body}");
    }
    let set = app
        .admin(Method::PUT, "/api/v1/config/capacity")
        .json(&json!({"capacity": 200}))
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 200);
    assert_eq!(set.json::<Value>().await.unwrap(), json!({"capacity": 200}));
    assert_eq!(occupancy(&app, "1").await["capacity"], 200);
    let entries = app
        .audit_entries(&[("action", "config.capacity_updated")])
        .await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0]["details"], json!({"from": null, "to": 200}));
}

#[tokio::test]
async fn every_live_search_hears_when_occupancy_changes() {
    let app = spawn_app().await;
    // No search sent: occupancy concerns every connection.
    let mut ws = connect(&app).await;
    app.register_ok(&vehicle("FRAME1")).await;
    assert_eq!(
        next_any(&mut ws).await,
        json!({"type": "occupancy", "parked": 1, "capacity": null})
    );
    app.admin(Method::PUT, "/api/v1/config/capacity")
        .json(&json!({"capacity": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        next_any(&mut ws).await,
        json!({"type": "occupancy", "parked": 1, "capacity": 5})
    );
    // A change that leaves the count as it was is no news.
    let patched = app
        .patch_vehicle("FRAME1", &json!({"contact_name": "Grace Hopper"}))
        .await;
    assert_eq!(patched.status(), 200);
    assert_eq!(app.delete_vehicle("FRAME1").await.status(), 204);
    assert_eq!(
        next_any(&mut ws).await,
        json!({"type": "occupancy", "parked": 0, "capacity": 5})
    );
    assert_nothing_pushed(&mut ws).await;
}

/// Registers `plate` and returns its `similar_plates`.
async fn similar(app: &TestApp, plate: &str) -> Value {
    let response = app.register(&vehicle(plate)).await;
    assert_eq!(response.status(), 201, "{plate}");
    response.json::<Value>().await.unwrap()["similar_plates"].clone()
}

#[tokio::test]
async fn a_plate_that_differs_only_by_look_alikes_is_flagged_at_registration() {
    let app = spawn_app().await;
    // Every look-alike pair of the contract, each between two plates that differ by it alone.
    let pairs = [
        ('0', 'O'),
        ('0', 'D'),
        ('O', 'Q'),
        ('1', 'I'),
        ('I', 'L'),
        ('2', 'Z'),
        ('5', 'S'),
        ('8', 'B'),
    ];
    for (i, (first, second)) in pairs.into_iter().enumerate() {
        let parked = format!("KM{first}T{}", 3 + i);
        let misread = format!("KM{second}T{}", 3 + i);
        assert_eq!(similar(&app, &parked).await, json!([]), "{parked}");
        assert_eq!(similar(&app, &misread).await, json!([parked]), "{misread}");
    }
    // Several at once, sorted; a plate that differs by other characters is not similar.
    assert_eq!(similar(&app, "AB12CDE").await, json!([]));
    assert_eq!(similar(&app, "A812CDE").await, json!(["AB12CDE"]));
    assert_eq!(
        similar(&app, "AB1ZC0E").await,
        json!(["A812CDE", "AB12CDE"])
    );
    assert_eq!(similar(&app, "AB12CDF").await, json!([]));
    // Once the first has left, it is no longer a warning.
    assert_eq!(app.delete_vehicle("AB12CDE").await.status(), 204);
    assert_eq!(
        similar(&app, "A8I2CDE").await,
        json!(["A812CDE", "AB1ZC0E"])
    );
}
