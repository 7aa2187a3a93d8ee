//! Errors are problem+json, never a 500, and never echo personal data.

use serde_json::json;

use crate::helpers::{assert_problem, error_fields, spawn_app, vehicle};

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    for body in [
        "{bad",
        "",
        "{\"number_plate\": \"AB12\",}",
        "\u{feff}{}",
        // Garbage after a complete value is malformed too, whatever the value holds.
        "{\"a\": 1}}",
        "{\"number_plate\": \"AB12\", \"contact_name\": \"Ada\", \"phone_number\": \"+442079460958\"} x",
        "{} {}",
    ] {
        let response = app.post_raw(body, Some("application/json")).await;
        let problem = assert_problem(response, 400).await;
        assert!(
            problem["detail"]
                .as_str()
                .unwrap()
                .contains("not valid JSON"),
            "{body:?}"
        );
    }
}

#[tokio::test]
async fn json_of_the_wrong_shape_is_422() {
    let app = spawn_app().await;
    for body in ["[]", "\"AB12CDE\"", "42", "null"] {
        let response = app.post_raw(body, Some("application/json")).await;
        let problem = assert_problem(response, 422).await;
        assert_eq!(error_fields(&problem), ["body"], "{body}");
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_415() {
    let app = spawn_app().await;
    let body = vehicle("AB12CDE").to_string();
    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        assert_problem(app.post_raw(body.clone(), content_type).await, 415).await;
    }
    assert_eq!(app.get_vehicle("AB12CDE").await.status(), 404);
}

#[tokio::test]
async fn a_body_over_64_kib_is_413() {
    let app = spawn_app().await;
    let mut body = vehicle("AB12CDE");
    body["contact_name"] = json!("x".repeat(70 * 1024));
    let problem = assert_problem(app.register(&body).await, 413).await;
    assert_eq!(problem["title"], "Content Too Large");
    // Streamed without a length, the limit still holds.
    let chunks = futures_chunks(vehicle("AB12CDE").to_string() + &" ".repeat(70 * 1024));
    let response = app
        .post_raw(reqwest::Body::wrap_stream(chunks), Some("application/json"))
        .await;
    assert_problem(response, 413).await;
    assert_eq!(app.get_vehicle("AB12CDE").await.status(), 404);
}

fn futures_chunks(
    text: String,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> = text
        .into_bytes()
        .chunks(4096)
        .map(|c| Ok(c.to_vec()))
        .collect();
    futures_util::stream::iter(chunks)
}

#[tokio::test]
async fn unknown_routes_are_404_and_wrong_methods_405() {
    let app = spawn_app().await;
    assert_problem(app.get("/api/v1/nothing-here").send().await.unwrap(), 404).await;
    assert_problem(app.public_get("/nothing-here").await, 404).await;
    let response = app
        .client
        .put(app.url("/api/v1/vehicles"))
        .header("X-API-Key", &app.operator_key)
        .send()
        .await
        .unwrap();
    let allow = response.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET") && allow.contains("POST"), "{allow}");
    assert_problem(response, 405).await;
    let response = app
        .client
        .post(app.url("/api/v1/vehicles/AB12CDE"))
        .send()
        .await
        .unwrap();
    assert_problem(response, 405).await;
}

#[tokio::test]
async fn error_bodies_never_echo_the_rejected_personal_data() {
    let app = spawn_app().await;
    let secret_name = format!("Secret{}", "Z".repeat(120));
    let response = app
        .register(&json!({
            "number_plate": "SECRET PLATE 123456",
            "contact_name": secret_name,
            "phone_number": "+44 555 SECRET",
        }))
        .await;
    let text = response.text().await.unwrap();
    for leaked in ["SECRET", "Secret", "555"] {
        assert!(!text.contains(leaked), "{leaked} echoed in {text}");
    }
    let response = app
        .register(&json!({"number_plate": {"nested": "SECRETVALUE"}}))
        .await;
    assert!(!response.text().await.unwrap().contains("SECRETVALUE"));
    let response = app.get_vehicle("SECRET9").await;
    assert!(!response.text().await.unwrap().contains("SECRET9"));
}

/// Hostile input of every kind gets a 4xx, the connection stays usable, and stored data is
/// untouched.
#[tokio::test]
async fn hostile_input_never_causes_a_500() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("KEEP123")).await;
    let deep = "[".repeat(100_000);
    let bodies: Vec<Vec<u8>> = vec![
        deep.into_bytes(),
        b"{\"number_plate\": \"\xff\xfe\"}".to_vec(),
        b"{\"number_plate\": \"AB\\u0000CD\", \"contact_name\": \"x\", \"phone_number\": \"1\"}".to_vec(),
        br#"{"number_plate": "AB12", "entry_timestamp": "99999-01-01T00:00:00Z"}"#.to_vec(),
        br#"{"number_plate": "AB12", "entry_timestamp": 1e999}"#.to_vec(),
        br#"{"number_plate": "\ud800"}"#.to_vec(),
        format!(r#"{{"phone_number": "+{}"}}"#, "9".repeat(5000)).into_bytes(),
        "{\"number_plate\": \"🚗🚗\", \"contact_name\": \"👩‍🔧\", \"phone_number\": \"+44 20 7946 0958\"}".as_bytes().to_vec(),
    ];
    for body in bodies {
        let response = app.post_raw(body, Some("application/json")).await;
        let status = response.status().as_u16();
        assert!((400..500).contains(&status), "status {status}");
    }
    // Each gets the answer the contract gives it, not merely something other than a 500.
    let paths = [
        ("/api/v1/vehicles/%FF%FE", 400),
        ("/api/v1/vehicles/%00", 404),
        ("/api/v1/vehicles/..%2F..%2Fetc", 404),
        ("/api/v1/vehicles?limit=-1&limit=2", 400),
        ("/api/v1/vehicles?entered_after=%FF", 400),
        ("/api/v1/vehicles?cursor=%00%00", 400),
        ("/api/v1/vehicles?q=%25%5F%27%22;--", 200),
    ];
    for (path, expected) in paths {
        let status = app.get(path).send().await.unwrap().status().as_u16();
        assert_eq!(status, expected, "{path}");
    }
    assert_eq!(app.get_vehicle("KEEP123").await.status(), 200);
    assert_eq!(app.list_ok(&[]).await["items"].as_array().unwrap().len(), 1);
}
