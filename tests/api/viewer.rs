//! The `viewer` role (§2, §9): reads and searches with phone numbers masked in every HTTP
//! answer and live frame, no changes, and one number at a time revealed through an audited
//! call that needs a reason.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, assert_problem, create_key, error_fields, spawn_app, vehicle},
    ws::{connect_as, next, search},
};
use parking::domain::Role;

const FULL: &str = "+442079460958";
const MASKED: &str = "+44\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}\u{2022}958";

async fn viewer_key(app: &TestApp) -> String {
    create_key(&app.state, "gate screen", Role::Viewer)
        .await
        .1
        .expose()
        .to_owned()
}

async fn get_as(app: &TestApp, key: &str, path: &str) -> reqwest::Response {
    app.client
        .get(app.url(path))
        .header("X-API-Key", key)
        .send()
        .await
        .unwrap()
}

async fn reveal(app: &TestApp, key: &str, plate: &str, body: Value) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/vehicles/{plate}/reveal")))
        .header("X-API-Key", key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_viewer_reads_and_lists_vehicles_with_the_phone_number_masked() {
    let app = spawn_app().await;
    let viewer = viewer_key(&app).await;
    app.register_ok(&vehicle("VIEW1X")).await;

    let one: Value = get_as(&app, &viewer, "/api/v1/vehicles/view-1x")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(one["phone_number"], MASKED);
    assert_eq!(one["contact_name"], "Ada Lovelace");
    assert_eq!(one["number_plate"], "VIEW1X");
    for path in ["/api/v1/vehicles", "/api/v1/vehicles?q=VIEW1"] {
        let page: Value = get_as(&app, &viewer, path).await.json().await.unwrap();
        assert_eq!(page["items"][0]["phone_number"], MASKED, "{path}");
    }
    // Other roles see the number.
    let full: Value = app.get_vehicle("VIEW1X").await.json().await.unwrap();
    assert_eq!(full["phone_number"], FULL);
    // Counts are for viewers too.
    assert_eq!(
        get_as(&app, &viewer, "/api/v1/occupancy").await.status(),
        200
    );
}

#[tokio::test]
async fn a_viewer_cannot_find_a_vehicle_by_the_digits_it_cannot_see() {
    let app = spawn_app().await;
    let viewer = viewer_key(&app).await;
    app.register_ok(&vehicle("VIEW2X")).await;
    let as_operator = app.list_ok(&[("q", "7946")]).await;
    assert_eq!(as_operator["items"].as_array().unwrap().len(), 1);
    let page: Value = get_as(&app, &viewer, "/api/v1/vehicles?q=7946")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
    // The digits it can see do not find it either: searching is by plate and name.
    let page: Value = get_as(&app, &viewer, "/api/v1/vehicles?q=958")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(page["items"], json!([]));
}

#[tokio::test]
async fn a_viewer_may_not_change_anything() {
    let app = spawn_app().await;
    let viewer = viewer_key(&app).await;
    app.register_ok(&vehicle("VIEW3X")).await;
    let attempts = [
        (Method::POST, "/api/v1/vehicles", Some(vehicle("VIEW4X"))),
        (
            Method::PATCH,
            "/api/v1/vehicles/VIEW3X",
            Some(json!({"contact_name": "Someone Else"})),
        ),
        (Method::DELETE, "/api/v1/vehicles/VIEW3X", None),
        (Method::GET, "/api/v1/vehicles/export.csv", None),
        (Method::GET, "/api/v1/audit", None),
        (Method::POST, "/api/v1/maintenance/purge", None),
        (Method::GET, "/api/v1/keys", None),
    ];
    for (method, path, body) in attempts {
        let mut request = app
            .client
            .request(method.clone(), app.url(path))
            .header("X-API-Key", &viewer);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        assert_problem(response, 403).await;
    }
    let unchanged: Value = app.get_vehicle("VIEW3X").await.json().await.unwrap();
    assert_eq!(unchanged["contact_name"], "Ada Lovelace");
}

#[tokio::test]
async fn live_search_frames_for_a_viewer_carry_masked_numbers() {
    let app = spawn_app().await;
    let viewer = viewer_key(&app).await;
    app.register_ok(&vehicle("VIEW5X")).await;
    let watched = app
        .admin(Method::PUT, "/api/v1/watchlist/VIEW6X")
        .json(&json!({"note": "unpaid fees"}))
        .send()
        .await
        .unwrap();
    assert_eq!(watched.status(), 201);

    let mut ws = connect_as(&app, &viewer).await;
    let results = search(&mut ws, "s1", "VIEW", 10).await;
    assert_eq!(results["items"][0]["phone_number"], MASKED);
    // A phone-digit query matches nothing for a viewer.
    let by_digits = search(&mut ws, "s2", "2079460958", 10).await;
    assert_eq!(by_digits["total"], 0);

    let _ = search(&mut ws, "s3", "VIEW", 10).await;
    app.register_ok(&vehicle("VIEW6X")).await;
    let mut seen = Vec::new();
    for _ in 0..2 {
        seen.push(next(&mut ws).await);
    }
    let alert = seen.iter().find(|f| f["type"] == "alert").unwrap();
    let added = seen.iter().find(|f| f["type"] == "added").unwrap();
    assert_eq!(alert["vehicle"]["phone_number"], MASKED);
    assert_eq!(added["vehicle"]["phone_number"], MASKED);
    assert_eq!(added["vehicle"]["number_plate"], "VIEW6X");
}

#[tokio::test]
async fn revealing_a_number_needs_a_reason_free_of_personal_data_and_is_audited() {
    let app = spawn_app().await;
    let viewer = viewer_key(&app).await;
    app.register_ok(&vehicle("VIEW7X")).await;

    let missing = assert_problem(reveal(&app, &viewer, "VIEW7X", json!({})).await, 422).await;
    assert_eq!(error_fields(&missing), ["reason"]);
    for naming in [
        "owner Ada Lovelace asked",
        "view 7x blocks exit",
        "call 7946 0958",
    ] {
        let refused = reveal(&app, &viewer, "VIEW7X", json!({"reason": naming})).await;
        let problem = assert_problem(refused, 422).await;
        assert_eq!(error_fields(&problem), ["reason"], "{naming}");
        assert!(!problem.to_string().contains(naming), "no echo");
    }
    assert_problem(
        reveal(
            &app,
            &viewer,
            "NOPE1X",
            json!({"reason": "blocks the fire exit"}),
        )
        .await,
        404,
    )
    .await;
    let none = app
        .audit_entries(&[("action", "vehicle.phone_revealed")])
        .await;
    assert!(
        none.is_empty(),
        "refused reveals are not recorded as reveals"
    );

    let revealed = reveal(
        &app,
        &viewer,
        "view-7x",
        json!({"reason": "blocks the fire exit"}),
    )
    .await;
    assert_eq!(revealed.status(), 200);
    let body: Value = revealed.json().await.unwrap();
    assert_eq!(
        body,
        json!({"number_plate": "VIEW7X", "phone_number": FULL})
    );

    let entries = app
        .audit_entries(&[("action", "vehicle.phone_revealed")])
        .await;
    assert_eq!(entries.len(), 1);
    let entry = &entries[0];
    assert_eq!(entry["details"], json!({"reason": "blocks the fire exit"}));
    assert!(
        entry["actor"]
            .as_str()
            .unwrap()
            .starts_with("gate screen (key ")
    );
    assert_eq!(entry["entity"], "vehicle");
    let text = entry.to_string();
    for personal in ["VIEW7X", "Ada", "Lovelace", "7946"] {
        assert!(!text.contains(personal), "{personal} in the audit entry");
    }
    // The entry is under the plate's pseudonym, like the registration's.
    let created = app.audit_entries(&[("action", "vehicle.created")]).await;
    assert_eq!(entry["entity_id"], created[0]["entity_id"]);
}

#[tokio::test]
async fn admins_create_viewer_keys_over_http() {
    let app = spawn_app().await;
    let created = app
        .admin(Method::POST, "/api/v1/keys")
        .json(&json!({"name": "lobby screen", "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["role"], "viewer");
    let key = created["key"].as_str().unwrap();
    assert_eq!(get_as(&app, key, "/api/v1/vehicles").await.status(), 200);
    let bad = app
        .admin(Method::POST, "/api/v1/keys")
        .json(&json!({"name": "x", "role": "auditor"}))
        .send()
        .await
        .unwrap();
    assert_eq!(error_fields(&assert_problem(bad, 422).await), ["role"]);
}
