//! The retention ledger in PostgreSQL (see `RetentionLedger`).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::PostgresStore;
use crate::{
    domain::day_of,
    store::{RetentionDay, RetentionLedger, StoreResult},
};

/// Adds to the counts of the day `at_ms` falls in, inside the caller's transaction.
pub(super) async fn count(
    conn: &mut PgConnection,
    at_ms: i64,
    purged: i64,
    erased: i64,
    backups_deleted: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(count_retention!("$1", "$2", "$3", "$4"))
        .bind(day_of(at_ms))
        .bind(purged)
        .bind(erased)
        .bind(backups_deleted)
        .execute(conn)
        .await?;
    Ok(())
}

/// Vehicles held past their retention at `$1` (now, ms), and the oldest entry time.
const STATE: &str = concat!("SELECT ", retention_state!("$1"));

#[async_trait]
impl RetentionLedger for PostgresStore {
    async fn count_backups_deleted(&self, day_ms: i64, deleted: i64) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        count(&mut conn, day_ms, 0, 0, deleted).await?;
        Ok(())
    }

    async fn record_retention_state(&self, now: DateTime<Utc>) -> StoreResult<()> {
        let now_ms = now.timestamp_millis();
        sqlx::query(concat!(
            "INSERT INTO retention_days (day_ms, held, oldest_entry_ms) ",
            "SELECT $2, ",
            retention_state!("$1"),
            " WHERE true ",
            "ON CONFLICT (day_ms) DO UPDATE SET held = excluded.held, ",
            "oldest_entry_ms = excluded.oldest_entry_ms"
        ))
        .bind(now_ms)
        .bind(day_of(now_ms))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn retention_day(&self, day_ms: i64) -> StoreResult<RetentionDay> {
        let row: Option<(i64, i64, i64, Option<i64>, Option<i64>)> = sqlx::query_as(
            "SELECT purged, erased, backups_deleted, held, oldest_entry_ms \
             FROM retention_days WHERE day_ms = $1",
        )
        .bind(day_ms)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map_or_else(RetentionDay::default, |r| RetentionDay {
            purged: r.0,
            erased: r.1,
            backups_deleted: r.2,
            held: r.3,
            oldest_entry_ms: r.4,
        }))
    }

    async fn retention_state(&self, now: DateTime<Utc>) -> StoreResult<(i64, Option<i64>)> {
        Ok(sqlx::query_as(STATE)
            .bind(now.timestamp_millis())
            .fetch_one(&self.pool)
            .await?)
    }
}
