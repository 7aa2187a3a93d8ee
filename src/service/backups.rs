//! Backups: written atomically, verified, listed, and rotated so that none outlives the
//! retention period.

use std::{
    fs::File,
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, NaiveDateTime, Utc};
use serde_json::json;

use super::ServiceError;
use crate::{
    domain::{AuditAction, AuditContext},
    store::{Store, StoreError, private_files},
    telemetry::metrics::Metrics,
};

const PREFIX: &str = "parking-";
const SUFFIX: &str = ".db";
const STAMP: &str = "%Y%m%dT%H%M%S%.3fZ";

/// Why a backup was taken; part of its file name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupTrigger {
    Manual,
    Scheduled,
    BeforeClear,
    BeforeRestore,
    CommandLine,
}

impl BackupTrigger {
    fn as_str(self) -> &'static str {
        match self {
            BackupTrigger::Manual => "manual",
            BackupTrigger::Scheduled => "scheduled",
            BackupTrigger::BeforeClear => "pre-clear",
            BackupTrigger::BeforeRestore => "pre-restore",
            BackupTrigger::CommandLine => "cli",
        }
    }
}

/// A backup file in the backup folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInfo {
    pub file: String,
    pub path: PathBuf,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
    pub scheduled: bool,
}

#[derive(Clone)]
pub struct BackupService {
    store: Arc<dyn Store>,
    dir: PathBuf,
    keep: usize,
    metrics: Arc<Metrics>,
    /// Held while a backup is written: each takes a consistent copy of the whole database,
    /// so two at once would only compete for the disk.
    running: Arc<tokio::sync::Mutex<()>>,
}

/// How writing a backup under a name ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    Done,
    /// Another writer published a file with this name first.
    NameTaken,
}

impl BackupService {
    pub fn new(store: Arc<dyn Store>, dir: PathBuf, keep: u32, metrics: Arc<Metrics>) -> Self {
        Self {
            store,
            dir,
            keep: keep as usize,
            metrics,
            running: Arc::default(),
        }
    }

    /// Writes a verified backup into the backup folder. Backups are taken one at a time by
    /// this process; a name another process took first is skipped, never overwritten.
    pub async fn create(
        &self,
        trigger: BackupTrigger,
        ctx: &AuditContext,
    ) -> Result<BackupInfo, ServiceError> {
        let _one_at_a_time = self.running.lock().await;
        private_files::create_dir(&self.dir).map_err(|e| ServiceError::Backup(e.into()))?;
        let (path, now) = loop {
            let now = Utc::now();
            let file = format!("{PREFIX}{}-{}{SUFFIX}", now.format(STAMP), trigger.as_str());
            let path = self.dir.join(&file);
            match self.write(&path, now).await.map_err(backup_error)? {
                Written::Done => break (path, now),
                // Names are stamped to the millisecond: the next millisecond is free.
                Written::NameTaken => tokio::time::sleep(Duration::from_millis(1)).await,
            }
        };
        let info = describe(&path).ok_or(ServiceError::Store(StoreError::Corrupt(
            "the backup vanished".into(),
        )))?;
        self.audit(&info, trigger, ctx, now).await?;
        Ok(info)
    }

    /// Writes a verified backup to a path of the operator's choosing; refuses to overwrite.
    pub async fn create_at(&self, path: &Path, ctx: &AuditContext) -> Result<u64, ServiceError> {
        let taken = || ServiceError::Conflict("the backup target already exists");
        if path.exists() {
            return Err(taken());
        }
        let _one_at_a_time = self.running.lock().await;
        let now = Utc::now();
        if self.write(path, now).await? == Written::NameTaken {
            return Err(taken());
        }
        let size_bytes = std::fs::metadata(path).map_err(StoreError::from)?.len();
        let file = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let info = BackupInfo {
            file,
            path: path.to_owned(),
            size_bytes,
            created_at: now,
            scheduled: false,
        };
        self.audit(&info, BackupTrigger::CommandLine, ctx, now)
            .await?;
        Ok(size_bytes)
    }

    /// Copies to a private temporary file of its own, verifies it, makes it durable, then
    /// links it under its name — which fails rather than replace a file that exists. A backup
    /// file that exists is always complete.
    async fn write(&self, path: &Path, now: DateTime<Utc>) -> Result<Written, ServiceError> {
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let staging = dir.join(format!(".{name}.{}.partial", ulid::Ulid::new()));
        private_files::create_new(&staging).map_err(StoreError::from)?;
        let published = match self.store.backup_to(&staging, now).await {
            Ok(()) => publish(&staging, path),
            Err(error) => Err(error),
        };
        let _ = std::fs::remove_file(&staging);
        let written = published?;
        if written == Written::Done {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(StoreError::from)?;
            self.metrics.backup_written(now);
        }
        Ok(written)
    }

    async fn audit(
        &self,
        info: &BackupInfo,
        trigger: BackupTrigger,
        ctx: &AuditContext,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let entry = ctx.entry(
            AuditAction::BackupCreated,
            Some(info.file.clone()),
            json!({ "file": info.file, "size_bytes": info.size_bytes, "trigger": trigger.as_str() }),
            now,
        );
        Ok(self.store.record_audit(&entry).await?)
    }

    /// Whether a file can be created in the backup folder now (readiness).
    pub fn writable(&self) -> Result<(), StoreError> {
        private_files::create_dir(&self.dir)?;
        let probe = self.dir.join(format!(".ready-{}", ulid::Ulid::new()));
        private_files::create_new(&probe)?;
        std::fs::remove_file(&probe)?;
        Ok(())
    }

    /// Backups in the folder, newest first.
    pub fn list(&self) -> Result<Vec<BackupInfo>, ServiceError> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(StoreError::from(e).into()),
        };
        let mut backups: Vec<BackupInfo> = entries
            .filter_map(Result::ok)
            .filter_map(|e| describe(&e.path()))
            .collect();
        backups.sort_by(|a, b| {
            b.created_at
                .cmp(&a.created_at)
                .then_with(|| b.file.cmp(&a.file))
        });
        Ok(backups)
    }

    /// Deletes every backup taken longer than the retention period ago (by then every vehicle
    /// in it has expired), and scheduled backups beyond the newest `keep`. Returns how many.
    pub async fn rotate(&self, now: DateTime<Utc>) -> Result<usize, ServiceError> {
        let retention = self.store.retention().await?.period;
        let mut scheduled_seen = 0;
        let mut removed = 0;
        for backup in self.list()? {
            let expired = now >= backup.created_at + retention.duration();
            let surplus = backup.scheduled && {
                scheduled_seen += 1;
                scheduled_seen > self.keep
            };
            if expired || surplus {
                std::fs::remove_file(&backup.path).map_err(StoreError::from)?;
                removed += 1;
            }
        }
        if removed > 0 {
            let day = crate::domain::day_of(now.timestamp_millis());
            self.store
                .count_backups_deleted(day, i64::try_from(removed).unwrap_or(i64::MAX))
                .await?;
        }
        Ok(removed)
    }
}

/// A failure while writing a backup is the backup's, whatever part failed.
fn backup_error(error: ServiceError) -> ServiceError {
    match error {
        ServiceError::Store(cause) => ServiceError::Backup(cause),
        other => other,
    }
}

/// Makes the verified copy durable and links it under `path`, unless that name is taken.
fn publish(staging: &Path, path: &Path) -> Result<Written, StoreError> {
    File::open(staging)?.sync_all()?;
    match std::fs::hard_link(staging, path) {
        Ok(()) => Ok(Written::Done),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Written::NameTaken),
        Err(e) => Err(e.into()),
    }
}

/// A file is a backup if its name is one this service writes.
fn describe(path: &Path) -> Option<BackupInfo> {
    let file = path.file_name()?.to_str()?.to_owned();
    let stem = file.strip_prefix(PREFIX)?.strip_suffix(SUFFIX)?;
    let (stamp, trigger) = stem.split_once('-')?;
    let created_at = NaiveDateTime::parse_from_str(stamp, STAMP).ok()?.and_utc();
    let size_bytes = std::fs::metadata(path).ok()?.len();
    Some(BackupInfo {
        scheduled: trigger == BackupTrigger::Scheduled.as_str(),
        file,
        path: path.to_owned(),
        size_bytes,
        created_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_file_names_are_backups() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "parking-20261125T080000.123Z-manual.db",
            "notes.txt",
            "parking-x-manual.db",
            ".parking-20261125T080000.123Z-manual.db.partial",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let found: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| describe(&e.unwrap().path()))
            .collect();
        assert_eq!(found.len(), 1);
        assert_eq!(
            found[0].created_at.to_rfc3339(),
            "2026-11-25T08:00:00.123+00:00"
        );
        assert!(!found[0].scheduled);
    }
}
