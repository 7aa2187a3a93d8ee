//! Backups on demand and on schedule: verified, atomic, listed, rotated by count and age.

use chrono::{TimeDelta, Utc};
use serde_json::{Value, json};

use crate::helpers::{
    count_rows, minutes_ago, open_file, rfc3339, spawn_app, spawn_app_with, vehicle,
};

#[tokio::test]
async fn a_backup_on_demand_is_verified_listed_and_audited() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("BAK1")).await;
    let response = app
        .admin(reqwest::Method::POST, "/api/v1/maintenance/backup")
        .header("X-Request-Id", "backup-1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let backup: Value = response.json().await.unwrap();
    let file = backup["file"].as_str().unwrap();
    let path = app.backup_dir.join(file);
    assert_eq!(
        backup["size_bytes"],
        std::fs::metadata(&path).unwrap().len()
    );
    assert!(
        backup["created_at"]
            .as_str()
            .unwrap()
            .parse::<chrono::DateTime<Utc>>()
            .is_ok()
    );
    parking::store::sqlite::verify_file(&path).await.unwrap();
    assert_eq!(count_rows(&path, "vehicles").await, 1);
    let leftovers: Vec<_> = std::fs::read_dir(&app.backup_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "no temporary file left behind: {leftovers:?}"
    );

    let listed: Value = app
        .admin_json(reqwest::Method::GET, "/api/v1/maintenance/backups")
        .await;
    assert_eq!(listed["items"], json!([backup]));

    let audit = app.audit_entries(&[("action", "backup.created")]).await;
    assert_eq!(audit[0]["entity_id"], file);
    assert_eq!(audit[0]["request_id"], "backup-1");
    assert_eq!(audit[0]["details"]["trigger"], "manual");
}

#[tokio::test]
async fn a_backup_never_holds_expired_vehicles() {
    let app = spawn_app().await;
    let mut old = vehicle("GONE42X");
    old["contact_name"] = json!("Expired Eleanor");
    old["entry_timestamp"] = json!(rfc3339(minutes_ago(120)));
    app.register_ok(&old).await;
    app.register_ok(&vehicle("KEPT42X")).await;
    app.set_retention_hours(1).await;
    // Watchlist entries are personal data too: an expired one stays out of backups.
    for (plate, note) in [("GONE43X", "Expired Edwina's note"), ("KEPT43X", "kept")] {
        let watched = app
            .admin(reqwest::Method::PUT, &format!("/api/v1/watchlist/{plate}"))
            .json(&json!({"note": note}))
            .send()
            .await
            .unwrap();
        assert_eq!(watched.status(), 201);
    }
    app.database
        .execute(
            "UPDATE watchlist SET updated_ms = updated_ms - 7200000 WHERE number_plate = 'GONE43X'",
            &[],
        )
        .await;

    let backup: Value = app
        .admin_json(reqwest::Method::POST, "/api/v1/maintenance/backup")
        .await;
    let path = app.backup_dir.join(backup["file"].as_str().unwrap());
    let mut conn = open_file(&path).await;
    let plates: Vec<String> = sqlx::query_scalar("SELECT number_plate FROM vehicles")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(plates, ["KEPT42X"]);
    let watched: Vec<String> = sqlx::query_scalar("SELECT number_plate FROM watchlist")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(watched, ["KEPT43X"]);
    let bytes = String::from_utf8_lossy(&std::fs::read(&path).unwrap()).into_owned();
    assert!(
        !bytes.contains("GONE42X")
            && !bytes.contains("Expired Eleanor")
            && !bytes.contains("GONE43X")
            && !bytes.contains("Expired Edwina"),
        "no trace left in free pages"
    );
}

#[tokio::test]
async fn scheduled_backups_beyond_the_newest_keep_are_rotated_away() {
    let app = spawn_app_with(|s| s.backup_keep = 2).await;
    app.register_ok(&vehicle("ROT1")).await;
    let manual: Value = app
        .admin_json(reqwest::Method::POST, "/api/v1/maintenance/backup")
        .await;
    for _ in 0..4 {
        parking::jobs::backup::run_once(&app.state).await;
    }
    let listed: Value = app
        .admin_json(reqwest::Method::GET, "/api/v1/maintenance/backups")
        .await;
    let files: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["file"].as_str().unwrap())
        .collect();
    let scheduled: Vec<&&str> = files
        .iter()
        .filter(|f| f.ends_with("-scheduled.db"))
        .collect();
    assert_eq!(scheduled.len(), 2, "{files:?}");
    assert!(
        files.contains(&manual["file"].as_str().unwrap()),
        "on-demand backups are not counted"
    );
    let audit = app.audit_entries(&[("action", "backup.created")]).await;
    assert_eq!(audit.len(), 5);
    assert_eq!(audit[0]["actor"], "system");
    // The two kept are the newest two written.
    let newest: Vec<&str> = audit
        .iter()
        .filter(|e| e["details"]["trigger"] == "scheduled")
        .take(2)
        .map(|e| e["entity_id"].as_str().unwrap())
        .collect();
    let mut kept: Vec<&str> = scheduled.iter().map(|f| **f).collect();
    kept.sort_unstable();
    let mut newest_sorted = newest.clone();
    newest_sorted.sort_unstable();
    assert_eq!(kept, newest_sorted);
}

#[tokio::test]
async fn backups_older_than_the_retention_period_are_deleted() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("AGE1")).await;
    let fresh: Value = app
        .admin_json(reqwest::Method::POST, "/api/v1/maintenance/backup")
        .await;
    let fresh_path = app.backup_dir.join(fresh["file"].as_str().unwrap());
    // A backup taken 25 hours ago holds only vehicles that have all expired by now.
    let stamp = (Utc::now() - TimeDelta::hours(25)).format("%Y%m%dT%H%M%S%.3fZ");
    let old_path = app.backup_dir.join(format!("parking-{stamp}-manual.db"));
    std::fs::copy(&fresh_path, &old_path).unwrap();
    let unrelated = app.backup_dir.join("notes.txt");
    std::fs::write(&unrelated, "kept").unwrap();

    app.run_purge_job().await;
    assert!(
        !old_path.exists(),
        "a backup past the retention period is deleted"
    );
    assert!(fresh_path.exists());
    assert!(
        unrelated.exists(),
        "files the service did not write are left alone"
    );

    // Shortening the retention period shortens every backup's life too.
    let stamp = (Utc::now() - TimeDelta::hours(2)).format("%Y%m%dT%H%M%S%.3fZ");
    let two_hours = app.backup_dir.join(format!("parking-{stamp}-scheduled.db"));
    std::fs::copy(&fresh_path, &two_hours).unwrap();
    app.set_retention_hours(1).await;
    app.run_purge_job().await;
    assert!(!two_hours.exists());
    assert!(fresh_path.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_backups_each_succeed_with_a_file_of_their_own() {
    let app = spawn_app().await;
    app.register_ok(&vehicle("CONC1")).await;
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (client, url, key) = (
            app.client.clone(),
            app.url("/api/v1/maintenance/backup"),
            app.admin_key.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut files = Vec::new();
            for _ in 0..8 {
                let response = client
                    .post(&url)
                    .header("X-API-Key", &key)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(response.status(), 201);
                let body: Value = response.json().await.unwrap();
                files.push(body["file"].as_str().unwrap().to_owned());
            }
            files
        }));
    }
    let mut files = std::collections::HashSet::new();
    for client in clients {
        for file in client.await.unwrap() {
            assert!(files.insert(file.clone()), "{file} answered twice");
        }
    }
    let listed = app
        .admin_json(reqwest::Method::GET, "/api/v1/maintenance/backups")
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 24);
    for file in &files {
        parking::store::sqlite::verify_file(&app.backup_dir.join(file))
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn the_database_and_its_backups_are_readable_by_the_service_alone() {
    use std::os::unix::fs::PermissionsExt;
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let app = spawn_app().await;
    app.register_ok(&vehicle("PRIV1")).await;
    let backup = app
        .admin_json(reqwest::Method::POST, "/api/v1/maintenance/backup")
        .await;
    let db = &app.db_path;
    let sibling = |suffix: &str| std::path::PathBuf::from(format!("{}{suffix}", db.display()));
    for path in [
        db.clone(),
        sibling("-wal"),
        sibling("-shm"),
        sibling(".lock"),
    ] {
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    assert_eq!(mode(&app.backup_dir), 0o700);
    let file = app.backup_dir.join(backup["file"].as_str().unwrap());
    assert_eq!(mode(&file), 0o600);
}

#[tokio::test]
async fn a_database_with_loose_permissions_is_narrowed_when_opened() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("old.db");
    let store = parking::store::sqlite::SqliteStore::open(&db)
        .await
        .unwrap();
    parking::store::Store::close(&store).await;
    std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
    let store = parking::store::sqlite::SqliteStore::open(&db)
        .await
        .unwrap();
    assert_eq!(
        std::fs::metadata(&db).unwrap().permissions().mode() & 0o777,
        0o600
    );
    parking::store::Store::close(&store).await;
}
