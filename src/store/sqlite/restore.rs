//! Loading a backup into the database: the backup's rows replace the database's, in one
//! transaction, from a private copy migrated to this version's schema.

use std::{io, path::Path};

use super::{SqliteStore, with_suffix};
use crate::store::{StoreResult, private_files};

/// The tables a backup restores, with their columns.
const TABLES: [(&str, &str); 6] = [
    (
        "vehicles",
        "id, number_plate, plate_folded, contact_name, name_folded, phone_number, entry_ms, \
         created_ms, updated_ms, hold_until_ms, hold_reason",
    ),
    (
        "audit_logs",
        "id, ts_ms, action, entity, entity_id, actor, request_id, details",
    ),
    (
        "api_keys",
        "id, name, role, key_hash, from_env, created_ms, revoked_ms, expires_ms, last_used_ms",
    ),
    (
        "occupancy_hours",
        "hour_ms, departed_entries, exits, expiries",
    ),
    (
        "watchlist",
        "id, number_plate, plate_folded, note, created_ms, updated_ms",
    ),
    (
        "retention_days",
        "day_ms, purged, erased, backups_deleted, held, oldest_entry_ms",
    ),
];

impl SqliteStore {
    pub(super) async fn load_backup_file(&self, backup: &Path) -> StoreResult<()> {
        // A private copy brought to this version's schema: the backup itself is never changed.
        let staging = with_suffix(&self.path, ".restoring");
        remove_if_present(&staging)?;
        std::fs::copy(backup, &staging)?;
        private_files::restrict(&staging)?;
        let loaded = async {
            SqliteStore::migrate(&staging).await?;
            self.replace_rows_from(&staging).await
        }
        .await;
        remove_if_present(&staging)?;
        loaded
    }

    async fn replace_rows_from(&self, staging: &Path) -> StoreResult<()> {
        let staging = staging.to_str().ok_or_else(|| {
            crate::store::StoreError::Corrupt("the database path is not valid UTF-8".into())
        })?;
        // Rows deleted here are personal data: the writer overwrites them rather than leaving
        // them in free pages (`secure_delete`, see `scrub`).
        let mut conn = self.writer.acquire().await?;
        sqlx::query("ATTACH DATABASE ?1 AS backup")
            .bind(staging)
            .execute(&mut *conn)
            .await?;
        let mut script =
            String::from("BEGIN IMMEDIATE; DELETE FROM changes; DELETE FROM feed_readers; ");
        for (table, columns) in TABLES {
            script.push_str(&format!(
                "DELETE FROM main.{table}; \
                 INSERT INTO main.{table} ({columns}) SELECT {columns} FROM backup.{table}; "
            ));
        }
        script.push_str(
            "UPDATE main.system_config SET \
               retention_hours = (SELECT retention_hours FROM backup.system_config WHERE id = 1), \
               retention_updated_ms = (SELECT retention_updated_ms FROM backup.system_config WHERE id = 1), \
               audit_secret = (SELECT audit_secret FROM backup.system_config WHERE id = 1), \
               capacity = (SELECT capacity FROM backup.system_config WHERE id = 1) \
             WHERE id = 1; \
             UPDATE feed_state SET trimmed_below = \
               coalesce((SELECT seq + 1 FROM sqlite_sequence WHERE name = 'changes'), 1) WHERE id = 1; \
             COMMIT;",
        );
        let replaced = sqlx::raw_sql(sqlx::AssertSqlSafe(script))
            .execute(&mut *conn)
            .await;
        if replaced.is_err() {
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
        }
        let _ = sqlx::query("DETACH DATABASE backup")
            .execute(&mut *conn)
            .await;
        replaced?;
        // What the WAL still holds of the old rows goes with this checkpoint.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut *conn)
            .await?;
        Ok(())
    }
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}
