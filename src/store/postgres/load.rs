//! Restoring a backup (an SQLite file, from either backend) into PostgreSQL: its rows replace
//! the database's in one transaction, read from a private copy migrated to this version.

use std::path::Path;

use sqlx::{
    ConnectOptions, Postgres, Row,
    sqlite::{SqliteConnectOptions, SqliteRow},
};

use super::{
    PostgresStore,
    backup::{Kind, TABLES, Table, insert_statement},
};
use crate::store::{StoreResult, private_files, sqlite::SqliteStore};

/// Rows moved per statement (at most 9 columns: well under PostgreSQL's parameter limit).
const CHUNK: i64 = 2_000;

impl PostgresStore {
    pub(super) async fn load_backup_file(&self, backup: &Path) -> StoreResult<()> {
        let staging =
            std::env::temp_dir().join(format!("parking-restore-{}.db", ulid::Ulid::new()));
        private_files::create_new(&staging)?;
        let loaded = async {
            std::fs::copy(backup, &staging)?;
            private_files::restrict(&staging)?;
            SqliteStore::migrate(&staging).await?;
            self.replace_rows_from(&staging).await
        }
        .await;
        for part in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{part}", staging.display()));
        }
        loaded
    }

    async fn replace_rows_from(&self, staging: &Path) -> StoreResult<()> {
        let mut source = SqliteConnectOptions::new()
            .filename(staging)
            .read_only(true)
            .connect()
            .await?;
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "TRUNCATE vehicles, audit_logs, api_keys, occupancy_hours, watchlist, retention_days, \
             changes, feed_readers",
        )
        .execute(&mut *tx)
        .await?;
        let (hours, updated_ms, secret, capacity): (i64, i64, Vec<u8>, Option<i64>) =
            sqlx::query_as(
                "SELECT retention_hours, retention_updated_ms, audit_secret, capacity \
                 FROM system_config WHERE id = 1",
            )
            .fetch_one(&mut source)
            .await?;
        sqlx::query(
            "UPDATE system_config SET retention_hours = $1, retention_updated_ms = $2, \
             audit_secret = $3, capacity = $4 WHERE id = 1",
        )
        .bind(hours)
        .bind(updated_ms)
        .bind(secret)
        .bind(capacity)
        .execute(&mut *tx)
        .await?;
        for table in &TABLES {
            let mut after = i64::MIN;
            loop {
                let sql = format!(
                    "SELECT {columns} FROM {name} WHERE {key} > ?1 ORDER BY {key} LIMIT ?2",
                    columns = table.columns,
                    name = table.name,
                    key = table.key,
                );
                let rows: Vec<SqliteRow> = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(after)
                    .bind(CHUNK)
                    .fetch_all(&mut source)
                    .await?;
                let Some(last) = rows.last() else { break };
                after = last.try_get(table.key)?;
                let mut insert = insert_statement!(Postgres, table, &rows)?;
                insert.build().execute(&mut *tx).await?;
                if (rows.len() as i64) < CHUNK {
                    break;
                }
            }
            if table.key != "id" {
                continue;
            }
            // Ids given from now on continue after the restored ones.
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT setval(pg_get_serial_sequence('{0}', 'id'), \
                 coalesce((SELECT max(id) FROM {0}), 0) + 1, false)",
                table.name
            )))
            .execute(&mut *tx)
            .await?;
        }
        // Any reader that was following the old data must rebuild its copies.
        sqlx::query(
            "UPDATE feed_state SET trimmed_below = pg_current_xact_id()::text::bigint + 1 WHERE id = 1",
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        drop(source);
        Ok(())
    }
}
