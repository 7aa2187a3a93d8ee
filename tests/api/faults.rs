//! Storage faults: the disk holding the database fills up while vehicles are registered, the
//! file system holding it turns read-only under the running server, and the backup folder
//! cannot be written. Each gets a clear problem response, readiness says so, nothing
//! acknowledged is lost or half-written, and service resumes when the fault clears.
//! The faults are real: small tmpfs and ext4 file systems mounted for the test (the tests run
//! as root, as CI does), never the machine's own disks.

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
        unmount_lazily(self.dir.path());
    }
}

/// Detaches the file system mounted on `path` now, and frees it once nothing holds it open.
fn unmount_lazily(path: &std::path::Path) {
    let _ = Command::new("umount").arg("-l").arg(path).status();
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

/// A problem response with `status` whose detail says `says`.
async fn assert_refused(response: reqwest::Response, status: u16, says: &str) {
    let problem = assert_problem(response, status).await;
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(detail.contains(says), "{problem}");
}

/// The SQLite file behind `conn` passes its integrity check.
async fn assert_intact(conn: &mut sqlx::SqliteConnection) {
    let check: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(conn)
        .await
        .unwrap();
    assert_eq!(check, ["ok"]);
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
    assert_refused(
        refused.expect("the disk never filled up"),
        507,
        "disk is full: nothing was written",
    )
    .await;
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
    assert_intact(&mut conn).await;
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
    assert_refused(refused, 503, "the backup folder cannot be written").await;
    // Clearing needs a backup first: refused, and nothing deleted.
    let clear = app
        .admin(Method::POST, "/api/v1/maintenance/clear")
        .json(&json!({"confirm": true}))
        .send()
        .await
        .unwrap();
    assert_refused(clear, 503, "nothing was deleted").await;
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

/// A small ext4 file system in an image file on a loop device, mounted on a temporary folder
/// the way a server's data disk is (`errors=remount-ro`); unmounted and detached when dropped.
struct Ext4 {
    _image_dir: tempfile::TempDir,
    mount_point: tempfile::TempDir,
    device: String,
}

impl Ext4 {
    fn mount() -> Self {
        let image_dir = tempfile::tempdir().unwrap();
        let image = image_dir.path().join("disk.img");
        std::fs::File::create(&image)
            .unwrap()
            .set_len(32 << 20)
            .unwrap();
        run("mkfs.ext4", &["-q", "-F", image.to_str().unwrap()]);
        let device = output("losetup", &["-f", "--show", image.to_str().unwrap()]);
        let ext4 = Self {
            _image_dir: image_dir,
            mount_point: tempfile::tempdir().unwrap(),
            device,
        };
        ext4.mount_again();
        ext4
    }

    fn mount_again(&self) {
        run(
            "mount",
            &[
                "-o",
                "errors=remount-ro",
                &self.device,
                self.mount_point.path().to_str().unwrap(),
            ],
        );
        std::fs::set_permissions(
            self.mount_point.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o700),
        )
        .unwrap();
    }

    fn path(&self) -> PathBuf {
        self.mount_point.path().to_owned()
    }

    /// What the kernel does when the disk under ext4 fails a write: the journal is aborted and
    /// the file system turns read-only under every open file (`mount -o remount,ro` would be
    /// refused while the server holds the database open for writing).
    fn turn_read_only(&self) {
        run(
            "mount",
            &["-o", "remount,abort", self.path().to_str().unwrap()],
        );
    }

    /// What an operator does next: unmount once the server has let go of its files, check the
    /// file system, mount it again.
    async fn repair(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !Command::new("umount")
            .arg(self.mount_point.path())
            .status()
            .unwrap()
            .success()
        {
            assert!(
                std::time::Instant::now() < deadline,
                "the stopped server still holds files on the disk"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        // e2fsck exits 1 when it corrected something (the aborted journal), 0 when clean.
        let status = Command::new("e2fsck")
            .args(["-f", "-y", &self.device])
            .stdout(std::process::Stdio::null())
            .status()
            .unwrap();
        assert!(matches!(status.code(), Some(0 | 1)), "e2fsck: {status}");
        self.mount_again();
    }
}

impl Drop for Ext4 {
    fn drop(&mut self) {
        unmount_lazily(self.mount_point.path());
        let _ = Command::new("losetup").args(["-d", &self.device]).status();
    }
}

fn run(program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("{program} is needed: {e}"));
    assert!(
        status.success(),
        "{program} {args:?}: {status} (CI runs as root)"
    );
}

fn output(program: &str, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(out.status.success(), "{program} {args:?}: {out:?}");
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn storage_turning_read_only_refuses_writes_with_503_keeps_reads_and_loses_nothing() {
    let disk = Ext4::mount();
    let db = disk.path().join("parking.db");
    let app = spawn_app_with(|s| {
        s.database = parking::store::DatabaseUrl::Sqlite(db.clone());
    })
    .await;
    let acknowledged: Vec<String> = (0..20).map(|i| format!("RO{i}")).collect();
    for plate in &acknowledged {
        app.register_ok(&vehicle(plate)).await;
    }
    for plate in &acknowledged[..2] {
        assert_eq!(app.delete_vehicle(plate).await.status(), 204);
    }
    let renamed = json!({"contact_name": "Renamed Before Fault"});
    assert_eq!(
        app.patch_vehicle(&acknowledged[2], &renamed).await.status(),
        200
    );

    disk.turn_read_only();

    let refused = [
        app.register(&vehicle("ROLATE1")).await,
        app.patch_vehicle(&acknowledged[3], &json!({"contact_name": "Never Stored"}))
            .await,
        app.delete_vehicle(&acknowledged[4]).await,
    ];
    for response in refused {
        assert_refused(
            response,
            503,
            "cannot be written (read-only or failing storage)",
        )
        .await;
    }
    let (status, body) = ready(&app).await;
    assert_eq!(status, 503);
    assert_eq!(body["checks"]["database"], "not writable", "{body}");
    // Reads carry on, from memory and from the file.
    assert_eq!(app.get_vehicle(&acknowledged[4]).await.status(), 200);
    let page = app.list_ok(&[("limit", "100")]).await;
    assert_eq!(page["items"].as_array().unwrap().len(), 18, "{page}");
    let audit = app
        .admin_json(
            Method::GET,
            "/api/v1/audit?action=vehicle.created&limit=100",
        )
        .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 20, "{audit}");

    app.stop();
    disk.repair().await;

    let mut conn = crate::helpers::open_file(&db).await;
    assert_intact(&mut conn).await;
    let mut stored: Vec<String> = sqlx::query_scalar("SELECT number_plate FROM vehicles")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    stored.sort();
    let mut expected = acknowledged[2..].to_vec();
    expected.sort();
    assert_eq!(stored, expected, "exactly the acknowledged writes");
    let name: String =
        sqlx::query_scalar("SELECT contact_name FROM vehicles WHERE number_plate = ?")
            .bind(&acknowledged[2])
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(name, "Renamed Before Fault");
    let audited: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM audit_logs WHERE action IN ('vehicle.created', 'vehicle.deleted')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(audited, 22, "the audit trail agrees with the data");
    drop(conn);

    // Service resumes on the repaired disk.
    let resumed = spawn_app_with(|s| {
        s.database = parking::store::DatabaseUrl::Sqlite(db.clone());
    })
    .await;
    resumed.register_ok(&vehicle("ROAFTER")).await;
    assert_eq!(resumed.get_vehicle(&acknowledged[3]).await.status(), 200);
    resumed.stop();
}
