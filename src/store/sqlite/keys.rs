//! API keys in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    SqliteStore, audit, feed,
    time::{from_ms, to_ms},
};
use crate::{
    domain::{NewAuditEntry, Role},
    store::{
        ApiKeyRecord, ChangeKind, Committed, FeedPosition, KeyStore, NewApiKey, Revocation,
        StoreResult,
        rows::{KEY_COLUMNS, KeyRow},
    },
};

/// Active at `?1` (now, in ms): not revoked, not expired.
const ACTIVE: &str = "revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > ?1)";

fn select(condition: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE {condition} ORDER BY id"
    ))
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<ApiKeyRecord>> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO api_keys (name, role, key_hash, created_ms, expires_ms) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .bind(key.name.as_str())
        .bind(key.role.as_str())
        .bind(key.hash.as_str())
        .bind(to_ms(now))
        .bind(key.expires_at.map(to_ms))
        .execute(&mut *tx)
        .await?;
        let id = inserted.last_insert_rowid();
        // The key's id is known only now; the audit entry names it.
        let mut audit = audit.clone();
        audit.entity_id = Some(id.to_string());
        audit::insert(&mut tx, &audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Keys, now).await?;
        tx.commit().await?;
        Ok(Committed {
            value: ApiKeyRecord {
                id,
                name: key.name.as_str().to_owned(),
                role: key.role,
                created_at: from_ms(to_ms(now)),
                expires_at: key.expires_at.map(|at| from_ms(to_ms(at))),
                last_used_at: None,
                revoked_at: None,
            },
            position,
        })
    }

    async fn find_active_api_key(
        &self,
        key_hash: &str,
        now: DateTime<Utc>,
    ) -> StoreResult<Option<ApiKeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(select(&format!("key_hash = ?2 AND {ACTIVE}")))
            .bind(to_ms(now))
            .bind(key_hash)
            .fetch_optional(&self.reader)
            .await?;
        Ok(row.map(ApiKeyRecord::from))
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(select("1")).fetch_all(&self.reader).await?;
        Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
    }

    async fn active_api_keys(&self, now: DateTime<Utc>) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(select(ACTIVE))
            .bind(to_ms(now))
            .fetch_all(&self.reader)
            .await?;
        Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Revocation> {
        let now_ms = to_ms(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let role: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT role FROM api_keys WHERE id = ?2 AND {ACTIVE}"
        )))
        .bind(now_ms)
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(role) = role else {
            return Ok(Revocation::NotFound);
        };
        if role == Role::Admin.as_str() {
            let other_admins: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "SELECT count(*) FROM api_keys WHERE role = 'admin' AND id <> ?2 AND {ACTIVE}"
            )))
            .bind(now_ms)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if other_admins == 0 {
                return Ok(Revocation::LastAdmin);
            }
        }
        sqlx::query("UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1")
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        audit::insert(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Keys, now).await?;
        tx.commit().await?;
        Ok(Revocation::Revoked(position))
    }

    async fn has_active_admin_key(&self, now: DateTime<Utc>) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM api_keys WHERE role = 'admin' AND {ACTIVE} LIMIT 1"
        )))
        .bind(to_ms(now))
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    async fn record_key_use(&self, uses: &[(i64, DateTime<Utc>)]) -> StoreResult<()> {
        if uses.is_empty() {
            return Ok(());
        }
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        for &(id, at) in uses {
            sqlx::query(
                "UPDATE api_keys SET last_used_ms = max(coalesce(last_used_ms, 0), ?2) WHERE id = ?1",
            )
            .bind(id)
            .bind(to_ms(at))
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn ensure_env_admin_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<FeedPosition>> {
        let now_ms = to_ms(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let replaced = sqlx::query(
            "UPDATE api_keys SET revoked_ms = ?2 \
             WHERE from_env = 1 AND revoked_ms IS NULL AND key_hash <> ?1",
        )
        .bind(key.hash.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // A key revoked by hand stays revoked: the operator must choose a new secret.
        let inserted = sqlx::query(
            "INSERT INTO api_keys (name, role, key_hash, from_env, created_ms) \
             VALUES (?1, 'admin', ?2, 1, ?3) ON CONFLICT (key_hash) DO NOTHING",
        )
        .bind(key.name.as_str())
        .bind(key.hash.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        if inserted.rows_affected() > 0 {
            let mut audit = audit.clone();
            audit.entity_id = Some(inserted.last_insert_rowid().to_string());
            audit::insert(&mut tx, &audit).await?;
        }
        let position = if replaced > 0 || inserted.rows_affected() > 0 {
            Some(feed::record(&mut tx, &ChangeKind::Keys, now).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(position)
    }
}
