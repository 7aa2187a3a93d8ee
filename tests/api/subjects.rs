//! Subject access and erasure (§9): everything held about a plate or a phone number — live
//! records, audit entries under its pseudonym, and the backups that hold it (opened, not
//! guessed) — and deleting it on request.

use reqwest::Method;
use serde_json::{Value, json};

use crate::{
    helpers::{TestApp, assert_problem, error_fields, spawn_app, vehicle},
    ws::{connect, next, search},
};

fn person(plate: &str, name: &str, phone: &str) -> Value {
    let mut body = vehicle(plate);
    body["contact_name"] = json!(name);
    body["phone_number"] = json!(phone);
    body
}

async fn post(app: &TestApp, path: &str, body: Value) -> reqwest::Response {
    app.admin(Method::POST, path)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Two vehicles of one person (one phone), one watched; a stranger; a look-alike plate.
async fn setup(app: &TestApp) {
    app.register_ok(&person("SUBJ1X", "Sam Subject", "+44 20 7946 0111"))
        .await;
    app.register_ok(&person("SUBJ2X", "Sam Subject", "020 7946 0111"))
        .await;
    app.register_ok(&person("5UBJ1X", "Lena Lookalike", "+44 20 7946 0222"))
        .await;
    app.register_ok(&person("OTHER1X", "Olga Other", "+44 20 7946 0333"))
        .await;
    let watched = app
        .admin(Method::PUT, "/api/v1/watchlist/SUBJ1X")
        .json(&json!({"note": "parks across two bays"}))
        .send()
        .await
        .unwrap();
    assert_eq!(watched.status(), 201);
}

fn plates(items: &Value) -> Vec<&str> {
    items
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["number_plate"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn subject_access_finds_the_live_records_the_audit_entries_and_the_backups_holding_them() {
    let app = spawn_app().await;
    setup(&app).await;
    let backup = app
        .admin_json(Method::POST, "/api/v1/maintenance/backup")
        .await;
    // Registered after the backup: live only.
    app.patch_vehicle("SUBJ2X", &json!({"contact_name": "Sam Q Subject"}))
        .await;

    // By phone, in another format: both vehicles, the watched plate's entry.
    let by_phone = post(
        &app,
        "/api/v1/subjects/search",
        json!({"phone_number": "(020) 7946-0111"}),
    )
    .await;
    assert_eq!(by_phone.status(), 200);
    let by_phone: Value = by_phone.json().await.unwrap();
    assert_eq!(plates(&by_phone["vehicles"]), ["SUBJ1X", "SUBJ2X"]);
    assert_eq!(by_phone["vehicles"][0]["phone_number"], "+442079460111");
    assert_eq!(plates(&by_phone["watchlist"]), ["SUBJ1X"]);
    let actions: Vec<&str> = by_phone["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "vehicle.updated",
            "watchlist.added",
            "vehicle.created",
            "vehicle.created"
        ],
        "newest first, both plates' pseudonyms"
    );
    assert_eq!(
        by_phone["backups"],
        json!([{
            "file": backup["file"],
            "created_at": by_phone["backups"][0]["created_at"],
            "expires_at": by_phone["backups"][0]["expires_at"],
            "vehicles": 2,
            "watchlist": 1,
        }])
    );
    let created = chrono::DateTime::parse_from_rfc3339(
        by_phone["backups"][0]["created_at"].as_str().unwrap(),
    )
    .unwrap();
    let expires = chrono::DateTime::parse_from_rfc3339(
        by_phone["backups"][0]["expires_at"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!((expires - created).num_hours(), 24, "the retention period");

    // By plate in any spelling: that plate only, not its look-alike.
    let by_plate: Value = post(
        &app,
        "/api/v1/subjects/search",
        json!({"number_plate": "subj-1x"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(plates(&by_plate["vehicles"]), ["SUBJ1X"]);
    assert_eq!(by_plate["backups"][0]["vehicles"], 1);

    // Nobody: nothing, and no backup.
    let nobody: Value = post(
        &app,
        "/api/v1/subjects/search",
        json!({"number_plate": "NOBODY1"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(
        nobody,
        json!({"vehicles": [], "watchlist": [], "audit": [], "backups": []})
    );

    // Each search is audited, with counts only.
    let searched = app.audit_entries(&[("action", "subject.searched")]).await;
    assert_eq!(searched.len(), 3);
    assert_eq!(
        searched[2]["details"],
        json!({"vehicles": 2, "watchlist": 1, "backups": 1})
    );
    for entry in &searched {
        let text = entry.to_string();
        for personal in ["SUBJ", "Sam", "0111", "NOBODY"] {
            assert!(!text.contains(personal), "{personal} in {text}");
        }
    }
}

#[tokio::test]
async fn erasure_deletes_every_record_of_the_subject_now_and_names_the_backups_still_holding_it() {
    let app = spawn_app().await;
    setup(&app).await;
    let backup = app
        .admin_json(Method::POST, "/api/v1/maintenance/backup")
        .await;
    let mut ws = connect(&app).await;
    let _ = search(&mut ws, "s", "SUBJ", 10).await;

    let unconfirmed = post(
        &app,
        "/api/v1/subjects/erase",
        json!({"phone_number": "+442079460111"}),
    )
    .await;
    assert_eq!(
        error_fields(&assert_problem(unconfirmed, 422).await),
        ["confirm"]
    );
    assert_eq!(
        app.get_vehicle("SUBJ1X").await.status(),
        200,
        "nothing deleted"
    );

    let erased = post(
        &app,
        "/api/v1/subjects/erase",
        json!({"phone_number": "020 7946 0111", "confirm": true}),
    )
    .await;
    assert_eq!(erased.status(), 200);
    let erased: Value = erased.json().await.unwrap();
    assert_eq!(erased["erased"], json!({"vehicles": 2, "watchlist": 1}));
    assert_eq!(erased["backups"][0]["file"], backup["file"]);
    assert_eq!(erased["backups"][0]["vehicles"], 2);

    for plate in ["SUBJ1X", "SUBJ2X"] {
        assert_eq!(app.get_vehicle(plate).await.status(), 404, "{plate}");
    }
    for plate in ["5UBJ1X", "OTHER1X"] {
        assert_eq!(app.get_vehicle(plate).await.status(), 200, "{plate} kept");
    }
    let watch = app
        .admin(Method::GET, "/api/v1/watchlist/SUBJ1X")
        .send()
        .await
        .unwrap();
    assert_eq!(watch.status(), 404);
    let mut removed = vec![next(&mut ws).await, next(&mut ws).await];
    removed.sort_by_key(|f| f["number_plate"].as_str().unwrap().to_owned());
    assert_eq!(
        removed,
        [
            json!({"type": "removed", "id": "s", "number_plate": "SUBJ1X"}),
            json!({"type": "removed", "id": "s", "number_plate": "SUBJ2X"}),
        ]
    );
    // Nothing left to find live; the backup still holds it until it expires.
    let after: Value = post(
        &app,
        "/api/v1/subjects/search",
        json!({"phone_number": "+442079460111"}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(after["vehicles"], json!([]));
    assert_eq!(after["backups"].as_array().unwrap().len(), 1);

    let entries = app.audit_entries(&[("action", "subject.erased")]).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0]["details"],
        json!({"vehicles": 2, "watchlist": 1, "backups_holding": [backup["file"]]})
    );
    assert_eq!(entries[0]["entity"], "subject");
    let text = entries[0].to_string();
    for personal in ["SUBJ", "Sam", "0111"] {
        assert!(!text.contains(personal), "{personal} in {text}");
    }
}

#[tokio::test]
async fn subject_requests_need_an_admin_and_a_valid_plate_or_phone() {
    let app = spawn_app().await;
    for (body, fields) in [
        (json!({}), vec!["body"]),
        (json!({"number_plate": "!!"}), vec!["number_plate"]),
        (json!({"phone_number": "12"}), vec!["phone_number"]),
        (json!({"number_plate": 7}), vec!["number_plate"]),
    ] {
        for path in ["/api/v1/subjects/search", "/api/v1/subjects/erase"] {
            let problem = assert_problem(post(&app, path, body.clone()).await, 422).await;
            assert_eq!(error_fields(&problem), fields, "{path} {body}");
        }
    }
    let as_operator = app
        .client
        .post(app.url("/api/v1/subjects/search"))
        .header("X-API-Key", &app.operator_key)
        .json(&json!({"number_plate": "AB12CDE"}))
        .send()
        .await
        .unwrap();
    assert_problem(as_operator, 403).await;
    let unknown = post(
        &app,
        "/api/v1/subjects/search",
        json!({"number_plate": "AB12CDE", "name": "x"}),
    )
    .await;
    assert_eq!(error_fields(&assert_problem(unknown, 422).await), ["name"]);
}
