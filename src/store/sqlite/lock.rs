//! An exclusive lock that a running server holds on its database, so that `restore` can tell
//! whether it is safe to replace the file. Held through the operating system (`flock`), it
//! is released however the server ends, `SIGKILL` included.

use std::{
    fs::{File, OpenOptions, TryLockError},
    os::unix::fs::OpenOptionsExt,
    path::Path,
};

use super::with_suffix;
use crate::store::{StoreError, StoreResult, private_files};

#[derive(Debug)]
pub struct DatabaseLock {
    _file: File,
}

impl DatabaseLock {
    /// Takes the lock, or fails at once when another process holds it.
    pub fn acquire(database: &Path) -> StoreResult<Self> {
        if let Some(dir) = database.parent() {
            private_files::create_dir(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(private_files::FILE_MODE)
            .open(with_suffix(database, ".lock"))?;
        match file.try_lock() {
            Ok(()) => Ok(Self { _file: file }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Io(std::io::Error::new(
                std::io::ErrorKind::WouldBlock,
                format!("a server is using {}", database.display()),
            ))),
            Err(TryLockError::Error(error)) => Err(StoreError::Io(error)),
        }
    }
}
