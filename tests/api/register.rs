//! POST /api/v1/vehicles.

use chrono::{DateTime, TimeDelta, Utc};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, error_fields, minutes_ago, rfc3339, spawn_app, vehicle};

fn time(value: &serde_json::Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn registering_returns_201_with_location_and_the_normalised_vehicle() {
    let app = spawn_app().await;
    let before = Utc::now() - TimeDelta::milliseconds(1);
    let response = app
        .register(&json!({
            "number_plate": "ab-12 cde",
            "contact_name": "  Ada Lovelace ",
            "phone_number": "020 7946 0958",
        }))
        .await;
    assert_eq!(response.status(), 201);
    assert_eq!(response.headers()["location"], "/api/v1/vehicles/AB12CDE");
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: serde_json::Value = response.json().await.unwrap();
    assert!(body["id"].as_i64().is_some_and(|id| id > 0));
    assert_eq!(body["number_plate"], "AB12CDE");
    assert_eq!(body["contact_name"], "Ada Lovelace");
    assert_eq!(body["phone_number"], "+442079460958");
    let entry = time(&body["entry_timestamp"]);
    assert!(
        entry >= before && entry <= Utc::now(),
        "entry defaults to now"
    );
    assert_eq!(time(&body["expires_at"]), entry + TimeDelta::hours(24));
    assert_eq!(body["created_at"], body["updated_at"]);
    assert_eq!(body["similar_plates"], json!([]));
    let keys: Vec<_> = body.as_object().unwrap().keys().cloned().collect();
    assert_eq!(keys.len(), 9, "exactly the contract's fields: {keys:?}");
}

#[tokio::test]
async fn an_explicit_entry_time_is_kept_and_starts_the_retention_clock() {
    let app = spawn_app().await;
    // The API keeps millisecond precision.
    let entry = rfc3339(minutes_ago(90)).parse::<DateTime<Utc>>().unwrap();
    let mut body = vehicle("XY34ZZZ");
    body["entry_timestamp"] = json!(rfc3339(entry));
    let created = app.register_ok(&body).await;
    assert_eq!(time(&created["entry_timestamp"]), entry);
    assert_eq!(time(&created["expires_at"]), entry + TimeDelta::hours(24));
}

#[tokio::test]
async fn the_same_plate_written_differently_is_a_conflict() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("AB12CDE")).await;
    let problem = assert_problem(app.register(&vehicle("ab.12-cde")).await, 409).await;
    assert_eq!(problem["title"], "Conflict");
    let listed = app.list_ok(&[]).await;
    assert_eq!(
        listed["items"].as_array().unwrap().len(),
        1,
        "nothing was overwritten"
    );
    assert_eq!(listed["items"][0]["number_plate"], "AB12CDE");
}

#[tokio::test]
async fn every_invalid_field_is_listed_in_one_422() {
    let app = spawn_app().await;
    let response = app
        .register(&json!({
            "number_plate": "!",
            "contact_name": "   ",
            "phone_number": "not a phone",
            "entry_timestamp": "soon",
        }))
        .await;
    let problem = assert_problem(response, 422).await;
    assert_eq!(problem["title"], "Unprocessable Content");
    assert_eq!(
        error_fields(&problem),
        [
            "number_plate",
            "contact_name",
            "phone_number",
            "entry_timestamp"
        ]
    );
    assert_eq!(problem["detail"], "4 fields are invalid");
}

#[tokio::test]
async fn a_single_invalid_field_is_named_in_the_detail() {
    let app = spawn_app().await;
    let mut body = vehicle("AB12CDE");
    body["phone_number"] = json!("12");
    let problem = assert_problem(app.register(&body).await, 422).await;
    assert_eq!(
        problem["detail"],
        "phone_number is not a valid phone number"
    );
    assert_eq!(error_fields(&problem), ["phone_number"]);
}

#[tokio::test]
async fn letters_in_a_phone_number_are_refused_not_turned_into_digits() {
    let app = spawn_app().await;
    for phone in [
        "+44 20 79AB 0958",
        "0800 FLOWERS",
        "+1 800 MY APPLE",
        "020 7946 O958",
    ] {
        let mut body = vehicle("PH0NE1");
        body["phone_number"] = json!(phone);
        let problem = assert_problem(app.register(&body).await, 422).await;
        assert_eq!(error_fields(&problem), ["phone_number"], "{phone}");
        let mut patch = json!({"phone_number": phone});
        app.register_ok(&vehicle("PH0NE2")).await;
        let problem = assert_problem(app.patch_vehicle("PH0NE2", &patch).await, 422).await;
        assert_eq!(error_fields(&problem), ["phone_number"], "{phone}");
        patch["phone_number"] = json!("+44 (20) 7946-0958");
        assert_eq!(app.patch_vehicle("PH0NE2", &patch).await.status(), 200);
        assert_eq!(app.delete_vehicle("PH0NE2").await.status(), 204);
    }
    assert_eq!(app.get_vehicle("PH0NE1").await.status(), 404);
}

#[tokio::test]
async fn missing_and_wrongly_typed_fields_are_reported_together() {
    let app = spawn_app().await;
    let response = app
        .register(&json!({"number_plate": 1234, "phone_number": ["+44 20 7946 0958"]}))
        .await;
    let problem = assert_problem(response, 422).await;
    assert_eq!(
        error_fields(&problem),
        ["number_plate", "contact_name", "phone_number"]
    );
    let messages: Vec<_> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].clone())
        .collect();
    assert_eq!(
        messages,
        [
            json!("must be a string"),
            json!("is required"),
            json!("must be a string")
        ]
    );
}

#[tokio::test]
async fn entry_times_in_the_future_or_past_retention_are_rejected() {
    let app = spawn_app().await;
    let cases = [
        (Utc::now() + TimeDelta::minutes(6), 422),
        (
            Utc::now() - TimeDelta::hours(24) - TimeDelta::seconds(1),
            422,
        ),
        (Utc::now() + TimeDelta::minutes(4), 201),
        (Utc::now() - TimeDelta::hours(23), 201),
    ];
    for (i, (entry, status)) in cases.into_iter().enumerate() {
        let mut body = vehicle(&format!("TIME{i}"));
        body["entry_timestamp"] = json!(rfc3339(entry));
        let response = app.register(&body).await;
        assert_eq!(response.status().as_u16(), status, "case {i}");
        if status == 422 {
            let problem = assert_problem(response, 422).await;
            assert_eq!(error_fields(&problem), ["entry_timestamp"]);
        }
    }
}

#[tokio::test]
async fn unknown_fields_are_rejected_rather_than_ignored() {
    let app = spawn_app().await;
    let mut body = vehicle("AB12CDE");
    body["colour"] = json!("red");
    let problem = assert_problem(app.register(&body).await, 422).await;
    assert_eq!(error_fields(&problem), ["colour"]);
    assert_eq!(app.get_vehicle("AB12CDE").await.status(), 404);
}

#[tokio::test]
async fn plate_and_name_limits_are_enforced() {
    let app = spawn_app().await;
    for (plate, status) in [
        ("A", 422),
        ("AB", 201),
        ("ABCDEFGHJK12", 201),
        ("ABCDEFGHJK123", 422),
        ("AB_12", 422),
    ] {
        let response = app.register(&vehicle(plate)).await;
        assert_eq!(response.status().as_u16(), status, "plate {plate}");
    }
    let mut body = vehicle("NAME1");
    body["contact_name"] = json!("x".repeat(101));
    assert_problem(app.register(&body).await, 422).await;
    body["contact_name"] = json!("Ada\u{7}Lovelace");
    assert_problem(app.register(&body).await, 422).await;
    body["contact_name"] = json!("é".repeat(100));
    assert_eq!(app.register(&body).await.status(), 201);
}

/// Concurrent registrations are committed in groups; a group holding a taken plate must still
/// answer every request as if it had been alone.
#[tokio::test]
async fn concurrent_registrations_with_duplicates_get_exactly_one_201_per_plate() {
    let app = spawn_app().await;
    let mut requests = Vec::new();
    for round in 0..2 {
        for i in 0..20 {
            let (client, url, key) = (
                app.client.clone(),
                app.url("/api/v1/vehicles"),
                app.operator_key.clone(),
            );
            let plate = if round == 0 {
                format!("DUP{i}")
            } else {
                format!("dup-{i}")
            };
            requests.push(tokio::spawn(async move {
                client
                    .post(url)
                    .header("X-API-Key", key)
                    .json(&vehicle(&plate))
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            }));
        }
    }
    let mut statuses = Vec::new();
    for request in requests {
        statuses.push(request.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        20,
        "{statuses:?}"
    );
    assert_eq!(app.database.count_rows("vehicles").await, 20);
    let created = app
        .audit_entries(&[("action", "vehicle.created"), ("limit", "500")])
        .await;
    assert_eq!(created.len(), 20, "one audit entry per stored vehicle");
    let listed = app.list_ok(&[("limit", "500")]).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 20);
}

/// Group commit writes many registrations with one statement; each `201` must describe the
/// vehicle of its own request, never a neighbour in the same group.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_201_of_a_group_commit_describes_its_own_vehicle() {
    let app = spawn_app().await;
    let mut requests = Vec::new();
    for i in 0..200 {
        let (client, url, key) = (
            app.client.clone(),
            app.url("/api/v1/vehicles"),
            app.operator_key.clone(),
        );
        requests.push(tokio::spawn(async move {
            let body = json!({
                "number_plate": format!("gc-{i:03}"),
                "contact_name": format!("Driver {i}"),
                "phone_number": format!("+44 20 7946 0{i:03}"),
            });
            let response = client
                .post(url)
                .header("X-API-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), 201);
            (i, response.json::<Value>().await.unwrap())
        }));
    }
    let mut ids = std::collections::HashSet::new();
    for request in requests {
        let (i, created) = request.await.unwrap();
        let created = crate::helpers::without_similar_plates(created);
        assert_eq!(created["number_plate"], format!("GC{i:03}"));
        assert_eq!(created["contact_name"], format!("Driver {i}"));
        assert_eq!(created["phone_number"], format!("+44207946{i:04}"));
        let stored: Value = app
            .get_vehicle(&format!("GC{i:03}"))
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(stored, created, "the 201 and a later GET disagree");
        assert!(
            ids.insert(created["id"].as_i64().unwrap()),
            "an id answered twice"
        );
    }
}
