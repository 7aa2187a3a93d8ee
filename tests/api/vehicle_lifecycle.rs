//! GET, PATCH and DELETE of one vehicle.

use chrono::{DateTime, Utc};
use serde_json::json;

use crate::helpers::{assert_problem, error_fields, spawn_app, vehicle};

#[tokio::test]
async fn a_vehicle_is_found_by_any_spelling_of_its_plate() {
    let app = spawn_app().await;
    let created = app.register_ok(&vehicle("AB12CDE")).await;
    for spelling in ["AB12CDE", "ab12cde", "ab-12 cde", "A.B.1.2.C.D.E"] {
        let response = app.get_vehicle(spelling).await;
        assert_eq!(response.status(), 200, "{spelling}");
        assert_eq!(response.json::<serde_json::Value>().await.unwrap(), created);
    }
}

#[tokio::test]
async fn an_absent_or_impossible_plate_is_404() {
    let app = spawn_app().await;
    assert_problem(app.get_vehicle("ZZ99ZZZ").await, 404).await;
    assert_problem(app.get_vehicle("!").await, 404).await;
    assert_problem(app.get_vehicle(&"A".repeat(40)).await, 404).await;
}

#[tokio::test]
async fn patch_changes_contact_details_and_updated_at_only() {
    let app = spawn_app().await;
    let created = app.register_ok(&vehicle("AB12CDE")).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let response = app
        .patch_vehicle(
            "ab 12 cde",
            &json!({"contact_name": " Grace Hopper ", "phone_number": "07911 123456"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    let patched: serde_json::Value = response.json().await.unwrap();
    assert_eq!(patched["contact_name"], "Grace Hopper");
    assert_eq!(patched["phone_number"], "+447911123456");
    for unchanged in [
        "id",
        "number_plate",
        "entry_timestamp",
        "expires_at",
        "created_at",
    ] {
        assert_eq!(patched[unchanged], created[unchanged], "{unchanged}");
    }
    let updated: DateTime<Utc> = patched["updated_at"].as_str().unwrap().parse().unwrap();
    let before: DateTime<Utc> = created["updated_at"].as_str().unwrap().parse().unwrap();
    assert!(updated > before);
    let fetched: serde_json::Value = app.get_vehicle("AB12CDE").await.json().await.unwrap();
    assert_eq!(fetched, patched);

    let only_phone = app
        .patch_vehicle("AB12CDE", &json!({"phone_number": "+44 20 7946 0958"}))
        .await;
    let only_phone: serde_json::Value = only_phone.json().await.unwrap();
    assert_eq!(only_phone["contact_name"], "Grace Hopper");
    assert_eq!(only_phone["phone_number"], "+442079460958");
}

#[tokio::test]
async fn patch_validates_every_field_and_changes_nothing_on_error() {
    let app = spawn_app().await;
    let created = app.register_ok(&vehicle("AB12CDE")).await;
    let problem = assert_problem(
        app.patch_vehicle("AB12CDE", &json!({"contact_name": "", "phone_number": "x"}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["contact_name", "phone_number"]);
    let problem = assert_problem(app.patch_vehicle("AB12CDE", &json!({})).await, 422).await;
    assert_eq!(error_fields(&problem), ["body"]);
    let problem = assert_problem(
        app.patch_vehicle("AB12CDE", &json!({"number_plate": "NEW1"}))
            .await,
        422,
    )
    .await;
    assert_eq!(error_fields(&problem), ["number_plate"]);
    let fetched: serde_json::Value = app.get_vehicle("AB12CDE").await.json().await.unwrap();
    assert_eq!(fetched, created);
}

#[tokio::test]
async fn patch_of_an_absent_vehicle_is_404() {
    let app = spawn_app().await;
    assert_problem(
        app.patch_vehicle("NONE1", &json!({"contact_name": "Bob"}))
            .await,
        404,
    )
    .await;
}

#[tokio::test]
async fn delete_then_404_then_the_plate_can_be_registered_again() {
    let app = spawn_app().await;
    let first = app.register_ok(&vehicle("AB12CDE")).await;
    let response = app.delete_vehicle("ab-12-cde").await;
    assert_eq!(response.status(), 204);
    assert!(response.bytes().await.unwrap().is_empty());
    assert_problem(app.get_vehicle("AB12CDE").await, 404).await;
    assert_problem(app.delete_vehicle("AB12CDE").await, 404).await;
    let second = app.register_ok(&vehicle("AB12CDE")).await;
    assert_ne!(second["id"], first["id"]);
}

#[tokio::test]
async fn unicode_plates_get_an_encoded_location_that_resolves() {
    let app = spawn_app().await;
    let response = app.register(&vehicle("äö 12")).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(location, "/api/v1/vehicles/%C3%84%C3%9612");
    let fetched = app.get(&location).send().await.unwrap();
    assert_eq!(fetched.status(), 200);
    let body: serde_json::Value = fetched.json().await.unwrap();
    assert_eq!(body["number_plate"], "ÄÖ12");
}
