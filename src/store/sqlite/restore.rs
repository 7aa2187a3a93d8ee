//! Putting a verified backup in place of the database.

use std::{fs::File, io, path::Path};

use super::{SqliteStore, with_suffix};
use crate::store::{StoreResult, private_files};

/// Replaces `database` with a copy of `backup` and migrates it so a server starts on it. The
/// caller has verified `backup`, holds the database lock (no server is running) and has kept
/// what it wants of the old database: its files are deleted.
pub async fn replace_database(database: &Path, backup: &Path) -> StoreResult<()> {
    let staging = with_suffix(database, ".restoring");
    remove_if_present(&staging)?;
    std::fs::copy(backup, &staging)?;
    // `copy` gives the new file the backup's permissions; the database is private whatever
    // they were.
    private_files::restrict(&staging)?;
    File::open(&staging)?.sync_all()?;
    // The old database's WAL and shared memory belong to it: left beside the new file, SQLite
    // would replay that WAL into it.
    for part in ["-wal", "-shm", "-journal"] {
        remove_if_present(&with_suffix(database, part))?;
    }
    std::fs::rename(&staging, database)?;
    if let Some(dir) = database.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    SqliteStore::migrate(database).await
}

/// Deletes the database and its companion files (restore without keeping the old one).
pub fn discard_database(database: &Path) -> StoreResult<()> {
    for part in ["", "-wal", "-shm", "-journal"] {
        remove_if_present(&with_suffix(database, part))?;
    }
    Ok(())
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
