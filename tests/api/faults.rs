//! Storage faults: the disk holding the database fills up while vehicles are registered, and
//! the backup folder cannot be written. Each gets a clear problem response, readiness says so,
//! nothing acknowledged is lost or half-written, and service resumes when the fault clears.
//! The faults are real: small tmpfs file systems mounted for the test (the tests run as root,
//! as CI does), never the machine's own disks.

use std::{io::Write, path::PathBuf, process::Command};

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_problem, spawn_app_with, vehicle};

/// A tmpfs of `size` mounted on a temporary folder, unmounted when dropped.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size: &str, read_only: bool) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let options = format!(
            "size={size},mode=0700{}",
            if read_only { ",ro" } else { "" }
        );
        let status = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &options, "tmpfs"])
            .arg(dir.path())
            .status()
            .expect("mount is needed");
        assert!(
            status.success(),
            "mounting a tmpfs needs root (CI runs as root)"
        );
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().to_owned()
    }

    fn remount(&self, read_only: bool) {
        let options = if read_only {
            "remount,ro"
        } else {
            "remount,rw"
        };
        let status = Command::new("mount")
            .args(["-o", options])
            .arg(self.dir.path())
            .status()
            .unwrap();
        assert!(status.success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// Fills the file system holding `dir` to the last byte; returns the filler to free it.
fn fill(dir: &std::path::Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 4096];
    while file.write_all(&chunk).is_ok() {}
    while file.write_all(&[0]).is_ok() {}
    let _ = file.sync_all();
    filler
}

async fn ready(app: &TestApp) -> (u16, Value) {
    let response = app.public_get("/health/ready").await;
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_full_disk_refuses_writes_with_507_loses_nothing_and_recovers() {
    let disk = Tmpfs::mount("16m", false);
    let db = disk.path().join("parking.db");
    let app = spawn_app_with(|s| {
        s.database = parking::store::DatabaseUrl::Sqlite(db.clone());
    })
    .await;
    let mut acknowledged = Vec::new();
    for i in 0..20 {
        let plate = format!("FULL{i}");
        app.register_ok(&vehicle(&plate)).await;
        acknowledged.push(plate);
    }
    let filler = fill(&disk.path());

    // Registrations go on until the WAL needs room it cannot get, then each is refused.
    let mut refused = None;
    for i in 20..5_000 {
        let plate = format!("FULL{i}");
        let response = app.register(&vehicle(&plate)).await;
        match response.status().as_u16() {
            201 => acknowledged.push(plate),
            _ => {
                refused = Some(response);
                break;
            }
        }
    }
    let problem = assert_problem(refused.expect("the disk never filled up"), 507).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("disk is full: nothing was written"),
        "{problem}"
    );
    assert_problem(app.register(&vehicle("FULLX1")).await, 507).await;
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["database"], "full", "{body}");
    // Reads carry on.
    assert_eq!(app.get_vehicle("FULL0").await.status(), 200);

    std::fs::remove_file(&filler).unwrap();
    let (status, body) = ready(&app).await;
    assert_eq!(status, 200, "{body}");
    app.register_ok(&vehicle("AFTER1")).await;
    acknowledged.push("AFTER1".into());
    for plate in &acknowledged {
        assert_eq!(app.get_vehicle(plate).await.status(), 200, "{plate} lost");
    }
    assert_eq!(
        app.get_vehicle("FULLX1").await.status(),
        404,
        "a refused write left no trace"
    );
    let mut conn = crate::helpers::open_file(&db).await;
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, ["ok"]);
    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM vehicles")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(stored as usize, acknowledged.len());
}

#[tokio::test]
async fn an_unwritable_backup_folder_is_a_clear_refusal_and_degrades_readiness() {
    let folder = Tmpfs::mount("4m", true);
    let backups = folder.path().join("backups");
    let app = spawn_app_with(|s| s.backup_dir = backups.clone()).await;
    app.register_ok(&vehicle("BACK1")).await;

    let refused = app
        .admin(Method::POST, "/api/v1/maintenance/backup")
        .send()
        .await
        .unwrap();
    let problem = assert_problem(refused, 503).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("the backup folder cannot be written"),
        "{problem}"
    );
    // Clearing needs a backup first: refused, and nothing deleted.
    let clear = app
        .admin(Method::POST, "/api/v1/maintenance/clear")
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    let problem = assert_problem(clear, 503).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("nothing was deleted"),
        "{problem}"
    );
    assert_eq!(app.get_vehicle("BACK1").await.status(), 200);
    let (status, body) = ready(&app).await;
    assert_eq!(status, 200, "requests are still served");
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["backups"], "not writable");
    assert_eq!(body["checks"]["database"], "ok");

    folder.remount(false);
    let written = app
        .admin(Method::POST, "/api/v1/maintenance/backup")
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 201);
    let (status, body) = ready(&app).await;
    assert_eq!((status, &body["status"]), (200, &json!("ok")));
}
