//! `GET /api/v1/vehicles/export.csv` (§9): every parked vehicle as CSV, streamed, read back
//! with a standard CSV reader.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, error_fields, spawn_app, vehicle};

async fn export(app: &TestApp, query: &str) -> reqwest::Response {
    app.admin(Method::GET, &format!("/api/v1/vehicles/export.csv{query}"))
        .send()
        .await
        .unwrap()
}

/// The rows of a CSV body, the header first.
fn records(body: &str) -> Vec<Vec<String>> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(body.as_bytes())
        .records()
        .map(|record| record.unwrap().iter().map(str::to_owned).collect())
        .collect()
}

#[tokio::test]
async fn admins_export_every_parked_vehicle_with_personal_columns_on_request() {
    let app = spawn_app().await;
    let first = app.register_ok(&vehicle("EXP1")).await;
    let mut tricky = vehicle("EXP2");
    tricky["contact_name"] = json!("=HYPERLINK(\"x\"), \"Bob\"");
    let second = app.register_ok(&tricky).await;

    let response = export(&app, "").await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    assert_eq!(
        response.headers()["content-disposition"],
        "attachment; filename=\"vehicles.csv\""
    );
    let body = response.text().await.unwrap();
    assert!(body.ends_with("\r\n"));
    assert!(!body.contains("Ada") && !body.contains("2079460958"));
    let rows = records(&body);
    assert_eq!(
        rows,
        [
            vec!["number_plate", "entry_timestamp", "expires_at"],
            vec![
                "EXP1",
                first["entry_timestamp"].as_str().unwrap(),
                first["expires_at"].as_str().unwrap()
            ],
            vec![
                "EXP2",
                second["entry_timestamp"].as_str().unwrap(),
                second["expires_at"].as_str().unwrap()
            ],
        ]
    );

    let personal = export(&app, "?personal=true").await.text().await.unwrap();
    let rows = records(&personal);
    assert_eq!(
        rows[0],
        [
            "number_plate",
            "entry_timestamp",
            "expires_at",
            "contact_name",
            "phone_number"
        ]
    );
    assert_eq!(rows[1][3..], ["Ada Lovelace", "+442079460958"]);
    // Quotes and commas survive the round trip; a formula is defused for spreadsheets.
    assert_eq!(rows[2][3], "'=HYPERLINK(\"x\"), \"Bob\"");

    let audited = app.audit_entries(&[("action", "vehicles.exported")]).await;
    let personal_flags: Vec<&Value> = audited.iter().map(|e| &e["details"]["personal"]).collect();
    assert_eq!(personal_flags, [&json!(true), &json!(false)]);
}

#[tokio::test]
async fn pages_follow_each_other_in_entry_order_without_gaps() {
    let app = spawn_app().await;
    // 2,500 vehicles straight into the database (the export reads it page by page).
    let now_ms = chrono::Utc::now().timestamp_millis();
    app.database
        .execute(
            &format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2500) \
                 INSERT INTO vehicles (number_plate, plate_folded, contact_name, name_folded, \
                 phone_number, entry_ms, created_ms, updated_ms) \
                 SELECT 'EX' || i, 'EX' || i, 'Seeded', 'seeded', '+442079460958', \
                 {now_ms} - 3000000 + (i / 2) * 1000, {now_ms}, {now_ms} FROM n"
            ),
            &[],
        )
        .await;
    let body = export(&app, "").await.text().await.unwrap();
    let rows = records(&body);
    assert_eq!(rows.len(), 2501);
    let plates: std::collections::HashSet<&str> =
        rows[1..].iter().map(|row| row[0].as_str()).collect();
    assert_eq!(plates.len(), 2500);
    let entries: Vec<chrono::DateTime<chrono::Utc>> = rows[1..]
        .iter()
        .map(|row| row[1].parse().unwrap())
        .collect();
    assert!(
        entries.windows(2).all(|pair| pair[0] <= pair[1]),
        "oldest entry first"
    );
}

#[tokio::test]
async fn only_admins_export_and_the_flag_is_checked() {
    let app = spawn_app().await;
    let as_operator = app.get("/api/v1/vehicles/export.csv").send().await.unwrap();
    assert_problem(as_operator, 403).await;
    let problem = assert_problem(export(&app, "?personal=yes").await, 400).await;
    assert_eq!(error_fields(&problem), ["personal"]);
    assert!(
        app.audit_entries(&[("action", "vehicles.exported")])
            .await
            .is_empty()
    );
}
