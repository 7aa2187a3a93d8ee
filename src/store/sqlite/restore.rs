//! Replacing the database with a backup, keeping the replaced one aside.

use std::{
    ffi::OsString,
    fs::File,
    path::{Path, PathBuf},
};

use chrono::Utc;

use super::{DatabaseLock, SqliteStore, maintenance::verify_file};
use crate::store::StoreResult;

/// Verifies `backup`, refuses while a server holds `database`, moves the current database
/// (with its WAL) aside and puts a copy of the backup in its place, migrated so a server
/// starts on it. Returns where the replaced database was kept, if there was one.
pub async fn restore(database: &Path, backup: &Path) -> StoreResult<Option<PathBuf>> {
    verify_file(backup).await?;
    let _lock = DatabaseLock::acquire(database)?;

    let stamp = Utc::now().format("%Y%m%dT%H%M%S%.3fZ");
    let aside = with_suffix(database, &format!(".replaced-{stamp}"));
    let kept = if database.exists() {
        std::fs::rename(database, &aside)?;
        // The WAL and index travel with the file they belong to: SQLite finds them by name.
        for part in ["-wal", "-shm"] {
            let from = with_suffix(database, part);
            if from.exists() {
                std::fs::rename(&from, with_suffix(&aside, part))?;
            }
        }
        Some(aside)
    } else {
        None
    };

    let staging = with_suffix(database, ".restoring");
    std::fs::copy(backup, &staging)?;
    File::open(&staging)?.sync_all()?;
    std::fs::rename(&staging, database)?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    SqliteStore::migrate(database).await?;
    Ok(kept)
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name: OsString = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}
