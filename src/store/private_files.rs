//! Files that hold personal data or secrets (the database, its WAL, backups) are created
//! readable by the service's user alone, and so are the folders the service creates for them.

use std::{
    fs::{DirBuilder, File, OpenOptions, Permissions},
    io,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt},
    path::Path,
};

pub const FILE_MODE: u32 = 0o600;
pub const DIR_MODE: u32 = 0o700;

/// Creates `dir` and any missing parents with mode 0700. Existing folders are left as they
/// are: they may be shared (`/var/lib`), and their permissions are the operator's choice.
pub fn create_dir(dir: &Path) -> io::Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)
}

/// Creates `path` empty with mode 0600; fails if it exists.
pub fn create_new(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .open(path)
}

/// Creates `path` with mode 0600 if it does not exist, and narrows it to 0600 if it does
/// (a database written by an older version, or copied in by hand).
pub fn ensure_private(path: &Path) -> io::Result<()> {
    match OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(FILE_MODE)
        .open(path)
    {
        Ok(_) => restrict(path),
        Err(error) => Err(error),
    }
}

/// Narrows an existing file to mode 0600; a missing file is not an error.
pub fn restrict(path: &Path) -> io::Result<()> {
    match std::fs::set_permissions(path, Permissions::from_mode(FILE_MODE)) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn files_and_new_folders_are_private_and_existing_files_are_narrowed() {
        let dir = tempfile::tempdir().unwrap();
        let nested = dir.path().join("a/b");
        create_dir(&nested).unwrap();
        assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
        assert_eq!(mode(&nested), DIR_MODE);
        let new = nested.join("new.db");
        create_new(&new).unwrap();
        assert_eq!(mode(&new), FILE_MODE);
        assert!(create_new(&new).is_err());
        let loose = nested.join("loose.db");
        std::fs::write(&loose, b"x").unwrap();
        std::fs::set_permissions(&loose, Permissions::from_mode(0o644)).unwrap();
        ensure_private(&loose).unwrap();
        assert_eq!(mode(&loose), FILE_MODE);
        assert_eq!(std::fs::read(&loose).unwrap(), b"x");
    }
}
