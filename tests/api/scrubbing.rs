//! Purged and deleted personal data is gone from the SQLite file and its WAL, not only from
//! query results: the bytes are read back as an attacker with the disk would read them.
//! (SQLite only: PostgreSQL keeps dead rows until their space is reused; see the README.)

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::helpers::{TestApp, minutes_ago, rfc3339, spawn_app, vehicle};

/// The WAL file of the SQLite database at `path`.
pub fn wal_path(path: &std::path::Path) -> std::path::PathBuf {
    let mut wal = path.to_owned().into_os_string();
    wal.push("-wal");
    wal.into()
}

/// The database file and its WAL, as one lossy string.
fn file_text(app: &TestApp) -> String {
    let mut bytes = std::fs::read(&app.db_path).unwrap();
    if let Ok(more) = std::fs::read(wal_path(&app.db_path)) {
        bytes.extend(more);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

fn traces_of<'a>(text: &str, secrets: &[&'a str]) -> Vec<&'a str> {
    secrets
        .iter()
        .copied()
        .filter(|s| text.contains(s))
        .collect()
}

/// Waits (at most 5 s) until none of `secrets` is in the files; single deletions are
/// checkpointed just after they are answered.
async fn assert_gone_soon(app: &TestApp, secrets: &[&str]) {
    let start = Instant::now();
    loop {
        let left = traces_of(&file_text(app), secrets);
        if left.is_empty() {
            return;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "still readable in the database files: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn person(plate: &str, name: &str, phone: &str) -> Value {
    let mut body = vehicle(plate);
    body["contact_name"] = json!(name);
    body["phone_number"] = json!(phone);
    body
}

#[tokio::test]
async fn a_purged_vehicle_leaves_no_bytes_in_the_database_file_or_its_wal() {
    let app = spawn_app().await;
    let mut old = person("SCRUB1X", "Forgotten Florence", "+44 20 7946 0123");
    old["entry_timestamp"] = json!(rfc3339(minutes_ago(120)));
    app.register_ok(&old).await;
    app.register_ok(&person("KEEP1X", "Kept Katherine", "+44 20 7946 0456"))
        .await;
    let secrets = ["Forgotten Florence", "+442079460123", "SCRUB1X"];
    // The check can see them: before the purge they are in the files.
    assert_eq!(traces_of(&file_text(&app), &secrets), secrets);

    app.set_retention_hours(1).await;
    let purged: Value = app
        .admin_json(reqwest::Method::POST, "/api/v1/maintenance/purge")
        .await;
    assert_eq!(purged["deleted"], 1);
    // The purge answers only once its deletions are out of the files.
    assert_eq!(traces_of(&file_text(&app), &secrets), Vec::<&str>::new());
    assert!(
        file_text(&app).contains("Kept Katherine"),
        "the rest is kept"
    );
}

#[tokio::test]
async fn a_cleared_car_park_leaves_no_bytes_in_the_database_files() {
    let app = spawn_app().await;
    app.register_ok(&person("SCRUB2X", "Cleared Clementine", "+44 20 7946 0234"))
        .await;
    let cleared = app
        .admin(reqwest::Method::POST, "/api/v1/maintenance/clear")
        .json(&json!({"confirm": true, "backup": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(cleared.status(), 200);
    let secrets = ["Cleared Clementine", "+442079460234", "SCRUB2X"];
    assert_eq!(traces_of(&file_text(&app), &secrets), Vec::<&str>::new());
}

#[tokio::test]
async fn a_deleted_vehicle_and_a_replaced_phone_number_leave_the_files_within_seconds() {
    let app = spawn_app().await;
    app.register_ok(&person("SCRUB3X", "Departed Dorothea", "+44 20 7946 0345"))
        .await;
    app.register_ok(&person("SCRUB4X", "Moving Margaret", "+44 20 7946 0567"))
        .await;
    let secrets = ["Departed Dorothea", "+442079460345", "+442079460567"];
    assert_eq!(traces_of(&file_text(&app), &secrets), secrets);

    assert_eq!(app.delete_vehicle("SCRUB3X").await.status(), 204);
    let patched = app
        .patch_vehicle("SCRUB4X", &json!({"phone_number": "+44 20 7946 0678"}))
        .await;
    assert_eq!(patched.status(), 200);
    assert_gone_soon(&app, &secrets).await;
    assert!(
        file_text(&app).contains("+442079460678"),
        "the new number is kept"
    );
}

#[tokio::test]
async fn an_erased_subject_leaves_no_bytes_in_the_database_files() {
    let app = spawn_app().await;
    app.register_ok(&person("SCRUB5X", "Erased Ermintrude", "+44 20 7946 0789"))
        .await;
    app.register_ok(&person("KEEP5X", "Kept Kenneth", "+44 20 7946 0890"))
        .await;
    let secrets = ["Erased Ermintrude", "+442079460789", "SCRUB5X"];
    assert_eq!(traces_of(&file_text(&app), &secrets), secrets);
    let erased = app
        .admin(reqwest::Method::POST, "/api/v1/subjects/erase")
        .json(&json!({"number_plate": "scrub 5x", "confirm": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(erased.status(), 200);
    // The erasure answers only once the deleted bytes are out of the files.
    assert_eq!(traces_of(&file_text(&app), &secrets), Vec::<&str>::new());
    assert!(file_text(&app).contains("Kept Kenneth"));
}
