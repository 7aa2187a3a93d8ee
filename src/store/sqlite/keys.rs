//! API keys in SQLite.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{
    SqliteStore, audit,
    time::{from_ms, to_ms},
};
use crate::{
    domain::{NewAuditEntry, Role},
    store::{ApiKeyRecord, KeyStore, NewApiKey, StoreResult},
};

#[derive(sqlx::FromRow)]
struct KeyRow {
    id: i64,
    name: String,
    role: String,
    created_ms: i64,
    revoked_ms: Option<i64>,
}

impl From<KeyRow> for ApiKeyRecord {
    fn from(row: KeyRow) -> Self {
        ApiKeyRecord {
            id: row.id,
            name: row.name,
            // The table's CHECK constraint admits only the two role names; the least
            // privileged role is the safe reading of anything else.
            role: row.role.parse().unwrap_or(Role::Operator),
            created_at: from_ms(row.created_ms),
            revoked_at: row.revoked_ms.map(from_ms),
        }
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<ApiKeyRecord> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let inserted = sqlx::query(
            "INSERT INTO api_keys (name, role, key_hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
        )
        .bind(key.name.as_str())
        .bind(key.role.as_str())
        .bind(key.hash.as_str())
        .bind(to_ms(now))
        .execute(&mut *tx)
        .await?;
        let id = inserted.last_insert_rowid();
        // The key's id is known only now; the audit entry names it.
        let mut audit = audit.clone();
        audit.entity_id = Some(id.to_string());
        audit::insert(&mut tx, &audit).await?;
        tx.commit().await?;
        Ok(ApiKeyRecord {
            id,
            name: key.name.as_str().to_owned(),
            role: key.role,
            created_at: from_ms(to_ms(now)),
            revoked_at: None,
        })
    }

    async fn find_active_api_key(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRecord>> {
        let row: Option<KeyRow> = sqlx::query_as(
            "SELECT id, name, role, created_ms, revoked_ms FROM api_keys \
             WHERE key_hash = ?1 AND revoked_ms IS NULL",
        )
        .bind(key_hash)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(ApiKeyRecord::from))
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT id, name, role, created_ms, revoked_ms FROM api_keys ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await?;
        Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let revoked =
            sqlx::query("UPDATE api_keys SET revoked_ms = ?2 WHERE id = ?1 AND revoked_ms IS NULL")
                .bind(id)
                .bind(to_ms(now))
                .execute(&mut *tx)
                .await?;
        if revoked.rows_affected() == 0 {
            return Ok(false);
        }
        audit::insert(&mut tx, audit).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn has_active_admin_key(&self) -> StoreResult<bool> {
        let found: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM api_keys WHERE role = 'admin' AND revoked_ms IS NULL LIMIT 1",
        )
        .fetch_optional(&self.reader)
        .await?;
        Ok(found.is_some())
    }

    async fn ensure_env_admin_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<()> {
        let now_ms = to_ms(now);
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        sqlx::query(
            "UPDATE api_keys SET revoked_ms = ?2 \
             WHERE from_env = 1 AND revoked_ms IS NULL AND key_hash <> ?1",
        )
        .bind(key.hash.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
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
        tx.commit().await?;
        Ok(())
    }
}
