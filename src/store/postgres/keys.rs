//! API keys in PostgreSQL.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PostgresStore, feed, from_ms, insert_audit};
use crate::{
    domain::{NewAuditEntry, Role},
    store::{
        ApiKeyRecord, ChangeKind, Committed, FeedPosition, KeyStore, NewApiKey, Revocation,
        StoreResult,
        rows::{KEY_COLUMNS, KeyRow},
    },
};

/// Active at `$1` (now, in ms): not revoked, not expired.
const ACTIVE: &str = "revoked_ms IS NULL AND (expires_ms IS NULL OR expires_ms > $1)";

fn select(condition: &str) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(format!(
        "SELECT {KEY_COLUMNS} FROM api_keys WHERE {condition} ORDER BY id"
    ))
}

#[async_trait]
impl KeyStore for PostgresStore {
    async fn insert_api_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Committed<ApiKeyRecord>> {
        let mut tx = self.pool.begin().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO api_keys (name, role, key_hash, created_ms, expires_ms) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(key.name.as_str())
        .bind(key.role.as_str())
        .bind(key.hash.as_str())
        .bind(now.timestamp_millis())
        .bind(key.expires_at.map(|at| at.timestamp_millis()))
        .fetch_one(&mut *tx)
        .await?;
        let mut audit = audit.clone();
        audit.entity_id = Some(id.to_string());
        insert_audit(&mut tx, &audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Keys, now).await?;
        tx.commit().await?;
        Ok(Committed {
            value: ApiKeyRecord {
                id,
                name: key.name.as_str().to_owned(),
                role: key.role,
                created_at: from_ms(now.timestamp_millis()),
                expires_at: key.expires_at.map(|at| from_ms(at.timestamp_millis())),
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
        let row: Option<KeyRow> = sqlx::query_as(select(&format!("key_hash = $2 AND {ACTIVE}")))
            .bind(now.timestamp_millis())
            .bind(key_hash)
            .fetch_optional(&self.pool)
            .await?;
        Ok(row.map(ApiKeyRecord::from))
    }

    async fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(select("TRUE")).fetch_all(&self.pool).await?;
        Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
    }

    async fn active_api_keys(&self, now: DateTime<Utc>) -> StoreResult<Vec<ApiKeyRecord>> {
        let rows: Vec<KeyRow> = sqlx::query_as(select(ACTIVE))
            .bind(now.timestamp_millis())
            .fetch_all(&self.pool)
            .await?;
        Ok(rows.into_iter().map(ApiKeyRecord::from).collect())
    }

    async fn revoke_api_key(
        &self,
        id: i64,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Revocation> {
        let now_ms = now.timestamp_millis();
        let mut tx = self.pool.begin().await?;
        // Admin keys are revoked one at a time across every instance, so two revocations
        // cannot each see the other key as the remaining admin.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('parking.api_keys.revoke'))")
            .execute(&mut *tx)
            .await?;
        let role: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT role FROM api_keys WHERE id = $2 AND {ACTIVE}"
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
                "SELECT count(*) FROM api_keys WHERE role = 'admin' AND id <> $2 AND {ACTIVE}"
            )))
            .bind(now_ms)
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
            if other_admins == 0 {
                return Ok(Revocation::LastAdmin);
            }
        }
        sqlx::query("UPDATE api_keys SET revoked_ms = $2 WHERE id = $1")
            .bind(id)
            .bind(now_ms)
            .execute(&mut *tx)
            .await?;
        insert_audit(&mut tx, audit).await?;
        let position = feed::record(&mut tx, &ChangeKind::Keys, now).await?;
        tx.commit().await?;
        Ok(Revocation::Revoked(position))
    }

    async fn has_active_admin_key(&self, now: DateTime<Utc>) -> StoreResult<bool> {
        let found: Option<i32> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT 1 FROM api_keys WHERE role = 'admin' AND {ACTIVE} LIMIT 1"
        )))
        .bind(now.timestamp_millis())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    async fn record_key_use(&self, uses: &[(i64, DateTime<Utc>)]) -> StoreResult<()> {
        for &(id, at) in uses {
            sqlx::query(
                "UPDATE api_keys SET last_used_ms = greatest(coalesce(last_used_ms, 0), $2) \
                 WHERE id = $1",
            )
            .bind(id)
            .bind(at.timestamp_millis())
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    async fn ensure_env_admin_key(
        &self,
        key: &NewApiKey,
        now: DateTime<Utc>,
        audit: &NewAuditEntry,
    ) -> StoreResult<Option<FeedPosition>> {
        let now_ms = now.timestamp_millis();
        let mut tx = self.pool.begin().await?;
        // Instances starting together with the same setting agree on one key.
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext('parking.api_keys.env'))")
            .execute(&mut *tx)
            .await?;
        let replaced = sqlx::query(
            "UPDATE api_keys SET revoked_ms = $2 \
             WHERE from_env = 1 AND revoked_ms IS NULL AND key_hash <> $1",
        )
        .bind(key.hash.as_str())
        .bind(now_ms)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        // A key revoked by hand stays revoked: the operator must choose a new secret.
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO api_keys (name, role, key_hash, from_env, created_ms) \
             VALUES ($1, 'admin', $2, 1, $3) ON CONFLICT (key_hash) DO NOTHING RETURNING id",
        )
        .bind(key.name.as_str())
        .bind(key.hash.as_str())
        .bind(now_ms)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(id) = inserted {
            let mut audit = audit.clone();
            audit.entity_id = Some(id.to_string());
            insert_audit(&mut tx, &audit).await?;
        }
        let position = if replaced > 0 || inserted.is_some() {
            Some(feed::record(&mut tx, &ChangeKind::Keys, now).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(position)
    }
}
