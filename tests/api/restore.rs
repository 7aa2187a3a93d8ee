//! `parking restore` accepts only the exact schema the service writes, and says why it
//! refuses anything else; the keys a restored database lets in are listed.

use std::path::{Path, PathBuf};

use reqwest::Method;

use crate::{
    helpers::{TestApp, count_rows, open_file, spawn_app, vehicle},
    process::{database_url, run_with},
};

/// A genuine backup of a database holding two vehicles.
async fn genuine_backup(app: &TestApp) -> PathBuf {
    app.register_ok(&vehicle("GEN1")).await;
    app.register_ok(&vehicle("GEN2")).await;
    let backup = app
        .admin_json(Method::POST, "/api/v1/maintenance/backup")
        .await;
    app.backup_dir.join(backup["file"].as_str().unwrap())
}

/// A copy of `backup` changed by `sql`.
async fn tampered(backup: &Path, dir: &Path, name: &str, sql: &str) -> PathBuf {
    let copy = dir.join(format!("{name}.db"));
    std::fs::copy(backup, &copy).unwrap();
    let mut conn = open_file(&copy).await;
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_owned()))
        .execute(&mut conn)
        .await
        .unwrap();
    drop(conn);
    copy
}

async fn restore(file: &Path, target: &Path, backups: &Path) -> (i32, String, String) {
    run_with(
        &[
            "restore",
            file.to_str().unwrap(),
            "--database",
            &database_url(target),
        ],
        &[("PARKING_BACKUP_DIR", backups.to_str().unwrap())],
    )
    .await
}

#[tokio::test]
async fn a_backup_with_anything_the_service_did_not_write_is_refused_with_the_reason() {
    let app = spawn_app().await;
    let backup = genuine_backup(&app).await;
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("target.db");
    let backups = dir.path().join("backups");
    let (code, _, stderr) = restore(&backup, &target, &backups).await;
    assert_eq!(code, 0, "{stderr}");
    let cases = [
        (
            "copy-trigger",
            "CREATE TABLE shadow (name TEXT, phone TEXT); \
             CREATE TRIGGER keep_a_copy AFTER INSERT ON vehicles \
             BEGIN INSERT INTO shadow VALUES (NEW.contact_name, NEW.phone_number); END;",
            "unexpected table `shadow`",
        ),
        (
            "ignore-deletes",
            "CREATE TRIGGER never_delete BEFORE DELETE ON vehicles \
             BEGIN SELECT RAISE(IGNORE); END;",
            "unexpected trigger `never_delete`",
        ),
        (
            "extra-table",
            "CREATE TABLE notes (x);",
            "unexpected table `notes`",
        ),
        (
            "view",
            "CREATE VIEW everyone AS SELECT contact_name FROM vehicles;",
            "unexpected view `everyone`",
        ),
        (
            "extra-index",
            "CREATE INDEX by_name ON vehicles (contact_name);",
            "unexpected index `by_name`",
        ),
        (
            "changed-table",
            "DROP INDEX audit_logs_action;",
            "the index `audit_logs_action` is missing",
        ),
        (
            "foreign-history",
            "UPDATE _sqlx_migrations SET checksum = x'00' WHERE version = 1;",
            "migration history differs",
        ),
    ];
    for (name, sql, reason) in cases {
        let file = tampered(&backup, dir.path(), name, sql).await;
        let (code, _, stderr) = restore(&file, &target, &backups).await;
        assert_ne!(code, 0, "{name} was restored");
        assert!(stderr.contains(reason), "{name}: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
        assert_eq!(
            count_rows(&target, "vehicles").await,
            2,
            "{name} changed the database"
        );
    }
}

#[tokio::test]
async fn a_restored_database_lists_the_keys_it_lets_in() {
    let app = spawn_app().await;
    let backup = genuine_backup(&app).await;
    let dir = tempfile::tempdir().unwrap();
    // An admin key slipped into the backup is not a schema change: it is shown to the
    // operator, who decides.
    let file = tampered(
        &backup,
        dir.path(),
        "extra-key",
        "INSERT INTO api_keys (name, role, key_hash, created_ms) \
         VALUES ('smuggled', 'admin', 'feed', 0);",
    )
    .await;
    let target = dir.path().join("target.db");
    let (code, stdout, stderr) = restore(&file, &target, &dir.path().join("backups")).await;
    assert_eq!(code, 0, "{stderr}");
    let smuggled = stdout
        .lines()
        .find(|line| line.ends_with(" smuggled"))
        .unwrap_or_else(|| panic!("the extra key is not listed: {stdout}"));
    assert!(
        smuggled.contains("admin") && smuggled.contains("active"),
        "{smuggled}"
    );
    assert!(stdout.contains("front desk"), "{stdout}");
    assert!(!stdout.contains("feed"), "never a hash: {stdout}");
}
