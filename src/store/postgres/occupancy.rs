//! Capacity and hourly occupancy counts in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PostgresStore, feed, insert_audit};
use crate::{
    domain::{Capacity, HourCounts, NewAuditEntry},
    store::{ChangeKind, Committed, OccupancyStore, StoreResult},
};

#[async_trait]
impl OccupancyStore for PostgresStore {
    async fn capacity(&self) -> StoreResult<Option<Capacity>> {
        let places: Option<i64> =
            sqlx::query_scalar("SELECT capacity FROM system_config WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        // The table's CHECK constraint keeps the value in range.
        Ok(places.and_then(|p| Capacity::new(p).ok()))
    }

    async fn set_capacity(
        &self,
        capacity: Capacity,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<Capacity>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE system_config SET capacity = $1 WHERE id = 1")
            .bind(capacity.places())
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Capacity, now).await?;
        tx.commit().await?;
        Ok(Committed {
            value: capacity,
            position,
        })
    }

    async fn occupancy_counts(
        &self,
        since_ms: i64,
        now: DateTime<Utc>,
    ) -> StoreResult<Vec<HourCounts>> {
        let departed: Vec<(i64, i64, i64, i64)> = sqlx::query_as(
            "SELECT hour_ms, departed_entries, exits, expiries FROM occupancy_hours \
             WHERE hour_ms >= $1",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let present: Vec<(i64, i64)> = sqlx::query_as(
            "SELECT entry_ms / 3600000 * 3600000 AS hour_ms, count(*) FROM vehicles \
             WHERE entry_ms >= $1 GROUP BY hour_ms",
        )
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        let expired: Vec<(i64, i64)> = sqlx::query_as(concat!(
            "SELECT ",
            expiry_ms!(),
            " / 3600000 * 3600000 AS hour_ms, count(*) FROM vehicles ",
            // Expired at all means entered a retention period ago at least: the entry-time
            // index narrows the rows; only held ones can have expired later than that.
            "WHERE entry_ms <= $1 - ",
            retention_ms!(),
            " AND (entry_ms >= $2 - ",
            retention_ms!(),
            " OR hold_until_ms IS NOT NULL) AND ",
            expiry_ms!(),
            " <= $1 AND ",
            expiry_ms!(),
            " >= $2 GROUP BY hour_ms"
        ))
        .bind(now.timestamp_millis())
        .bind(since_ms)
        .fetch_all(&self.pool)
        .await?;
        Ok(super::super::merge_counts(departed, present, expired))
    }

    async fn purge_occupancy_before(&self, before_ms: i64) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM occupancy_hours WHERE hour_ms < $1")
            .bind(before_ms)
            .execute(&self.pool)
            .await?;
        Ok(deleted.rows_affected())
    }
}

/// Adds `counts` to the stored hours, in one statement (a deletion's few hours).
pub(super) async fn add_counts(
    tx: &mut sqlx::PgConnection,
    counts: &[HourCounts],
) -> Result<(), sqlx::Error> {
    if !counts.is_empty() {
        add_counts!(sqlx::Postgres, tx, counts)?;
    }
    Ok(())
}
