//! The audit trail in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use sqlx::{QueryBuilder, Sqlite, SqliteConnection};

use super::{SqliteStore, time::to_ms};
use crate::{
    domain::{AuditRecord, NewAuditEntry},
    store::{AuditFilter, AuditStore, StoreResult, rows::AuditRow},
};

/// Writes an entry on `conn`, inside the caller's transaction. Returns its id.
pub(super) async fn insert(conn: &mut SqliteConnection, entry: &NewAuditEntry) -> StoreResult<i64> {
    let inserted = sqlx::query(
        "INSERT INTO audit_logs (ts_ms, action, entity, entity_id, actor, request_id, details) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .bind(to_ms(entry.at))
    .bind(entry.action.as_str())
    .bind(entry.action.entity())
    .bind(entry.entity_id.as_deref())
    .bind(&entry.actor)
    .bind(entry.request_id.as_deref())
    .bind(entry.details.to_string())
    .execute(conn)
    .await?;
    Ok(inserted.last_insert_rowid())
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn audit_secret(&self) -> StoreResult<Vec<u8>> {
        let secret: Vec<u8> =
            sqlx::query_scalar("SELECT audit_secret FROM system_config WHERE id = 1")
                .fetch_one(&self.reader)
                .await?;
        Ok(secret)
    }

    async fn record_audit(&self, entry: &NewAuditEntry) -> StoreResult<()> {
        let mut conn = self.writer.acquire().await?;
        insert(&mut conn, entry).await?;
        Ok(())
    }

    async fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>> {
        let mut sql = QueryBuilder::<Sqlite>::new(
            "SELECT id, ts_ms, action, entity, entity_id, actor, request_id, details \
             FROM audit_logs WHERE 1 = 1",
        );
        if let Some(before) = filter.before_id {
            sql.push(" AND id < ").push_bind(before);
        }
        if let Some(action) = &filter.action {
            sql.push(" AND action = ").push_bind(action.clone());
        }
        if !filter.entity_ids.is_empty() {
            sql.push(" AND entity_id IN (");
            let mut ids = sql.separated(", ");
            for id in &filter.entity_ids {
                ids.push_bind(id.clone());
            }
            sql.push(")");
        }
        if let Some(since) = filter.since {
            sql.push(" AND ts_ms >= ").push_bind(to_ms(since));
        }
        if let Some(until) = filter.until {
            sql.push(" AND ts_ms < ").push_bind(to_ms(until));
        }
        // As `limit!` writes it, for the same reason.
        sql.push(" ORDER BY id DESC LIMIT CAST(")
            .push_bind(i64::from(filter.limit))
            .push(" AS INTEGER)");
        let rows: Vec<AuditRow> = sql.build_query_as().fetch_all(&self.reader).await?;
        Ok(rows.into_iter().map(AuditRecord::from).collect())
    }

    async fn purge_audit_before(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64> {
        let deleted = sqlx::query(concat!(
            "DELETE FROM audit_logs WHERE id IN ",
            "(SELECT id FROM audit_logs WHERE ts_ms < ?1 ORDER BY ts_ms",
            limit!("?2"),
            ")"
        ))
        .bind(to_ms(before))
        .bind(i64::from(limit))
        .execute(&self.writer)
        .await?;
        Ok(deleted.rows_affected())
    }
}
