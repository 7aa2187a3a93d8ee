//! The audit trail in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{Postgres, QueryBuilder};

use super::{PostgresStore, insert_audit};
use crate::{
    domain::{AuditRecord, NewAuditEntry},
    store::{AuditFilter, AuditStore, StoreResult, rows::AuditRow},
};

#[async_trait]
impl AuditStore for PostgresStore {
    async fn audit_secret(&self) -> StoreResult<Vec<u8>> {
        let secret: Vec<u8> =
            sqlx::query_scalar("SELECT audit_secret FROM system_config WHERE id = 1")
                .fetch_one(&self.pool)
                .await?;
        Ok(secret)
    }

    async fn record_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
        let mut conn = self.pool.acquire().await?;
        insert_audit(&mut conn, entry).await?;
        Ok(())
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let mut sql = QueryBuilder::<Postgres>::new(
            "SELECT id, ts_ms, action, entity, entity_id, actor, request_id, details \
             FROM audit_logs WHERE TRUE",
        );
        if let Some(before) = filter.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        if let Some(action) = &filter.action {
            sql.push(" AND action = ").push_bind(action.clone());
        }
        if !filter.entity_ids.is_empty() {
            sql.push(" AND entity_id = ANY(")
                .push_bind(filter.entity_ids.clone())
                .push(")");
        }
        if let Some(since) = filter.since {
            sql.push(" AND ts_ms >= ")
                .push_bind(since.timestamp_millis());
        }
        if let Some(until) = filter.until {
            sql.push(" AND ts_ms < ")
                .push_bind(until.timestamp_millis());
        }
        sql.push(" ORDER BY id DESC LIMIT ")
            .push_bind(i64::from(filter.limit));
        let rows: Vec<AuditRow> = sql.build_query_as().fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn purge_audit_before(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let deleted = sqlx::query(
            "DELETE FROM audit_logs WHERE id IN \
             (SELECT id FROM audit_logs WHERE ts_ms < $1 ORDER BY ts_ms LIMIT $2)",
        )
        .bind(before.timestamp_millis())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?;
        Ok(deleted.rows_affected())
    }
}
