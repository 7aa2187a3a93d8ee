//! The retention setting, in the one-row `system_config` table.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PostgresStore, feed, from_ms, insert_audit};
use crate::{
    domain::{NewAuditEntry, RetentionPeriod},
    store::{ChangeKind, Committed, RetentionSetting, SettingsStore, StoreResult},
};

#[async_trait]
impl SettingsStore for PostgresStore {
    async fn retention(&self) -> StoreResult<RetentionSetting> {
        let (hours, updated_ms): (i64, i64) = sqlx::query_as(
            "SELECT retention_hours, retention_updated_ms FROM system_config WHERE id = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(setting(hours, updated_ms))
    }

    async fn set_retention(
        &self,
        period: RetentionPeriod,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<RetentionSetting>> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "UPDATE system_config SET retention_hours = $1, retention_updated_ms = $2 WHERE id = 1",
        )
        .bind(period.hours())
        .bind(now.timestamp_millis())
        .execute(&mut *tx)
        .await?;
        insert_audit(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Retention, now).await?;
        tx.commit().await?;
        Ok(Committed {
            value: setting(period.hours(), now.timestamp_millis()),
            position,
        })
    }
}

fn setting(hours: i64, updated_ms: i64) -> RetentionSetting {
    RetentionSetting {
        // The table's CHECK constraint keeps the value in range.
        period: RetentionPeriod::from_hours(hours).unwrap_or_default(),
        updated_at: from_ms(updated_ms),
    }
}
