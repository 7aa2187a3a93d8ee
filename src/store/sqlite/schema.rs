//! What a parking database must look like. A file is accepted as one (a backup to verify or to
//! restore) only if its schema is exactly what this service's own migrations write — every
//! table, index, trigger and view, by name and SQL — and its migration history is ours. A
//! crafted file with an extra trigger (copying personal data aside, or turning deletes into
//! no-ops), table or view is refused, and the refusal says what differs.

use std::str::FromStr;

use sqlx::{
    SqliteConnection,
    migrate::Migrator,
    sqlite::{SqliteConnectOptions, SqlitePoolOptions},
};

use crate::store::{StoreError, StoreResult};

pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// One entry of `sqlite_schema`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, sqlx::FromRow)]
struct SchemaObject {
    #[sqlx(rename = "type")]
    kind: String,
    name: String,
    tbl_name: String,
    sql: Option<String>,
}

/// Fails with the reason unless `conn` holds exactly the schema of our migrations up to the
/// version it records.
pub async fn check(conn: &mut SqliteConnection) -> StoreResult<()> {
    let version = applied_version(conn).await?;
    let found = read(conn).await?;
    let expected = expected(version).await?;
    if let Some(extra) = found.iter().find(|o| !expected.contains(o)) {
        return Err(StoreError::Corrupt(format!(
            "the file's schema is not the service's: it has an unexpected {} `{}`",
            extra.kind, extra.name
        )));
    }
    if let Some(missing) = expected.iter().find(|o| !found.contains(o)) {
        return Err(StoreError::Corrupt(format!(
            "the file's schema is not the service's: the {} `{}` is missing",
            missing.kind, missing.name
        )));
    }
    Ok(())
}

/// The newest migration the file records, after checking that its history is exactly ours
/// (same versions in order, same checksums, all successful).
async fn applied_version(conn: &mut SqliteConnection) -> StoreResult<i64> {
    let not_ours =
        |why: &str| StoreError::Corrupt(format!("the file is not a parking database: {why}"));
    let applied: Vec<(i64, Vec<u8>, bool)> =
        sqlx::query_as("SELECT version, checksum, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await
            .map_err(|_| not_ours("it has no migration history"))?;
    let ours: Vec<_> = MIGRATOR.iter().collect();
    if applied.len() > ours.len() {
        return Err(not_ours("it was written by a newer version of the service"));
    }
    for ((version, checksum, success), migration) in applied.iter().zip(&ours) {
        if *version != migration.version || **checksum != *migration.checksum || !success {
            return Err(not_ours("its migration history differs from the service's"));
        }
    }
    applied
        .last()
        .map(|(version, ..)| *version)
        .ok_or_else(|| not_ours("it has no migration history"))
}

async fn read(conn: &mut SqliteConnection) -> StoreResult<Vec<SchemaObject>> {
    let mut objects: Vec<SchemaObject> =
        sqlx::query_as("SELECT type, name, tbl_name, sql FROM sqlite_schema")
            .fetch_all(conn)
            .await?;
    objects.sort();
    Ok(objects)
}

/// The schema our migrations up to `version` create, read from a scratch in-memory database.
async fn expected(version: i64) -> StoreResult<Vec<SchemaObject>> {
    // One connection: each connection to `:memory:` is a database of its own.
    let scratch = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(SqliteConnectOptions::from_str("sqlite::memory:")?)
        .await?;
    MIGRATOR.run_to(version, &scratch).await?;
    let mut conn = scratch.acquire().await?;
    let objects = read(&mut conn).await;
    drop(conn);
    scratch.close().await;
    objects
}
