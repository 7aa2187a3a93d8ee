//! Backups of a PostgreSQL deployment are the same SQLite files as the embedded backend's:
//! the service's SQLite schema, filled from one consistent snapshot of PostgreSQL without
//! vehicles already expired, then vacuumed and verified. So every backup restores into
//! either backend, and moving from one to the other is a backup and a restore.

use std::path::Path;

use chrono::{DateTime, Utc};
use sqlx::{
    Connection, Sqlite, SqliteConnection,
    postgres::PgRow,
    sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions},
};

use super::PostgresStore;
use crate::store::{StoreResult, sqlite};

/// Rows moved per statement (at most 11 columns: well under SQLite's parameter limit).
const CHUNK: i64 = 2_000;

impl PostgresStore {
    pub(super) async fn export_backup(&self, target: &Path, now: DateTime<Utc>) -> StoreResult<()> {
        // A pool of one: the migrator takes a pool (the backup is written on that connection).
        let file = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(
                SqliteConnectOptions::new()
                    .filename(target)
                    .journal_mode(SqliteJournalMode::Delete),
            )
            .await?;
        sqlite::MIGRATOR.run(&file).await?;
        let mut copy = file.acquire().await?;
        // One snapshot for every table: the backup is a state the database was in.
        let mut pg = self.pool.begin().await?;
        sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            .execute(&mut *pg)
            .await?;
        let (hours, updated_ms, secret, capacity): (i64, i64, Vec<u8>, Option<i64>) =
            sqlx::query_as(
                "SELECT retention_hours, retention_updated_ms, audit_secret, capacity \
                 FROM system_config WHERE id = 1",
            )
            .fetch_one(&mut *pg)
            .await?;
        let mut out = copy.begin().await?;
        sqlx::query(
            "UPDATE system_config SET retention_hours = ?1, retention_updated_ms = ?2, \
             audit_secret = ?3, capacity = ?4 WHERE id = 1",
        )
        .bind(hours)
        .bind(updated_ms)
        .bind(secret)
        .bind(capacity)
        .execute(&mut *out)
        .await?;
        let cutoff = now.timestamp_millis() - hours * 3_600_000;
        for table in &TABLES {
            let mut after = i64::MIN;
            loop {
                let sql = format!(
                    "SELECT {columns} FROM {name} WHERE {key} > $1 {filter} ORDER BY {key} LIMIT $2",
                    columns = table.columns,
                    name = table.name,
                    key = table.key,
                    filter = table.filter,
                );
                let rows: Vec<PgRow> = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(after)
                    .bind(CHUNK)
                    .bind(cutoff)
                    .fetch_all(&mut *pg)
                    .await?;
                let Some(last) = rows.last() else { break };
                after = sqlx::Row::try_get(last, table.key)?;
                insert_rows(&mut out, table, &rows).await?;
                if (rows.len() as i64) < CHUNK {
                    break;
                }
            }
        }
        pg.commit().await?;
        out.commit().await?;
        sqlx::query("VACUUM").execute(&mut *copy).await?;
        let checked = sqlite::check_integrity(&mut copy).await;
        drop(copy);
        file.close().await;
        checked
    }
}

pub(super) struct Table {
    pub name: &'static str,
    /// The integer key rows are copied in the order of.
    pub key: &'static str,
    pub columns: &'static str,
    /// Extra condition; `$3` is the retention cut-off (vehicles and watchlist only).
    pub filter: &'static str,
    /// Which columns are text (the rest are integers or, for none here, blobs).
    pub kinds: &'static [Kind],
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Int,
    OptInt,
    Text,
    OptText,
}

/// The tables a backup holds besides the settings row, with their columns in order.
pub(super) const TABLES: [Table; 6] = [
    Table {
        name: "api_keys",
        key: "id",
        columns: "id, name, role, key_hash, from_env, created_ms, revoked_ms, expires_ms, last_used_ms",
        filter: "AND $3::bigint IS NOT NULL",
        kinds: &[
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::OptInt,
            Kind::OptInt,
            Kind::OptInt,
        ],
    },
    Table {
        name: "audit_logs",
        key: "id",
        columns: "id, ts_ms, action, entity, entity_id, actor, request_id, details",
        filter: "AND $3::bigint IS NOT NULL",
        kinds: &[
            Kind::Int,
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::OptText,
            Kind::Text,
            Kind::OptText,
            Kind::Text,
        ],
    },
    Table {
        name: "vehicles",
        key: "id",
        columns: "id, number_plate, plate_folded, contact_name, name_folded, phone_number, \
                  entry_ms, created_ms, updated_ms, hold_until_ms, hold_reason",
        // Expired vehicles never reach a backup; held ones do. Now is the cut-off plus the
        // retention of the same snapshot.
        filter: "AND (entry_ms > $3 OR hold_until_ms > $3 + \
                 (SELECT retention_hours FROM system_config WHERE id = 1) * 3600000)",
        kinds: &[
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::OptInt,
            Kind::OptText,
        ],
    },
    Table {
        name: "occupancy_hours",
        key: "hour_ms",
        columns: "hour_ms, departed_entries, exits, expiries",
        filter: "AND $3::bigint IS NOT NULL",
        kinds: &[Kind::Int, Kind::Int, Kind::Int, Kind::Int],
    },
    Table {
        name: "watchlist",
        key: "id",
        columns: "id, number_plate, plate_folded, note, created_ms, updated_ms",
        // Expired entries never reach a backup either.
        filter: "AND updated_ms > $3",
        kinds: &[
            Kind::Int,
            Kind::Text,
            Kind::Text,
            Kind::Text,
            Kind::Int,
            Kind::Int,
        ],
    },
    Table {
        name: "retention_days",
        key: "day_ms",
        columns: "day_ms, purged, erased, backups_deleted, held, oldest_entry_ms",
        filter: "AND $3::bigint IS NOT NULL",
        kinds: &[
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::Int,
            Kind::OptInt,
            Kind::OptInt,
        ],
    },
];

/// Builds `INSERT INTO table (columns) VALUES …` for `rows` read from one backend, to run on
/// the other: each value is read and bound by its column's kind. A macro, because the two
/// backends' row and query types differ while the work is the same.
macro_rules! insert_statement {
    ($database:ty, $table:expr, $rows:expr) => {{
        use sqlx::Row;
        let table: &Table = $table;
        let mut insert = sqlx::QueryBuilder::<$database>::new(format!(
            "INSERT INTO {} ({}) ",
            table.name, table.columns
        ));
        let mut failed = None;
        insert.push_values($rows, |mut values, row| {
            for (i, kind) in table.kinds.iter().enumerate() {
                let bound = match kind {
                    Kind::Int => row.try_get::<i64, _>(i).map(|v| {
                        values.push_bind(v);
                    }),
                    Kind::OptInt => row.try_get::<Option<i64>, _>(i).map(|v| {
                        values.push_bind(v);
                    }),
                    Kind::Text => row.try_get::<String, _>(i).map(|v| {
                        values.push_bind(v);
                    }),
                    Kind::OptText => row.try_get::<Option<String>, _>(i).map(|v| {
                        values.push_bind(v);
                    }),
                };
                if let Err(error) = bound {
                    failed.get_or_insert(error);
                }
            }
        });
        match failed {
            Some(error) => Err(crate::store::StoreError::Database(error)),
            None => Ok(insert),
        }
    }};
}
pub(super) use insert_statement;

async fn insert_rows(out: &mut SqliteConnection, table: &Table, rows: &[PgRow]) -> StoreResult<()> {
    let mut insert = insert_statement!(Sqlite, table, rows)?;
    insert.build().persistent(false).execute(&mut *out).await?;
    Ok(())
}
