//! Bulk deletion in short batches, claims, the jobs' lease, backups and restores.

use std::path::Path;

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use super::{PostgresStore, feed, insert_audit};
use crate::domain::departures;
use crate::store::{
    BatchAudit, ChangeKind, Claim, ClaimKind, Committed, DeleteScope, FeedPosition, Lease,
    MaintenanceStore, StoreResult,
};

#[async_trait]
impl MaintenanceStore for PostgresStore {
    async fn try_lead(&self) -> StoreResult<Option<Box<dyn Lease>>> {
        self.try_lease().await
    }

    async fn claim(&self, kind: ClaimKind) -> StoreResult<Claim> {
        self.claim_lock(kind).await
    }

    async fn load_backup(&self, file: &Path) -> StoreResult<()> {
        self.load_backup_file(file).await
    }

    async fn delete_vehicles_batch(
        &self,
        scope: DeleteScope,
        limit: u32,
        run: &mut BatchAudit,
    ) -> StoreResult<Committed<Vec<i64>>> {
        let mut tx = self.pool.begin().await?;
        // Rows another instance is deleting right now are skipped, not waited for: each row
        // is deleted, and counted, once.
        // With each id its entry time, for the occupancy counts.
        let chosen = match scope {
            DeleteScope::Expired { cutoff, now } => sqlx::query_as(
                "SELECT id, entry_ms, hold_until_ms FROM vehicles WHERE entry_ms <= $1 \
                 AND coalesce(hold_until_ms, 0) <= $3 \
                 ORDER BY entry_ms, id LIMIT $2 FOR UPDATE SKIP LOCKED",
            )
            .bind(cutoff.timestamp_millis())
            .bind(i64::from(limit))
            .bind(now.timestamp_millis()),
            DeleteScope::All => sqlx::query_as(
                "SELECT id, entry_ms, hold_until_ms FROM vehicles ORDER BY id LIMIT $1 \
                 FOR UPDATE SKIP LOCKED",
            )
            .bind(i64::from(limit)),
        };
        let chosen: Vec<(i64, i64, Option<i64>)> = chosen.fetch_all(&mut *tx).await?;
        if chosen.is_empty() {
            return Ok(Committed {
                value: Vec::new(),
                position: FeedPosition::default(),
            });
        }
        let (ids, entries): (Vec<i64>, Vec<(i64, Option<i64>)>) = chosen
            .into_iter()
            .map(|(id, entry_ms, hold_until)| (id, (entry_ms, hold_until)))
            .unzip();
        let retention_ms: i64 = sqlx::query_scalar(concat!("SELECT ", retention_ms!()))
            .fetch_one(&mut *tx)
            .await?;
        let counts = departures(&entries, retention_ms, Utc::now().timestamp_millis());
        super::occupancy::add_counts(&mut tx, &counts).await?;
        sqlx::query("DELETE FROM vehicles WHERE id = ANY($1)")
            .bind(&ids)
            .execute(&mut *tx)
            .await?;
        let deleted = i64::try_from(ids.len()).unwrap_or(i64::MAX);
        if matches!(scope, DeleteScope::Expired { .. }) {
            super::ledger::count(&mut tx, Utc::now().timestamp_millis(), deleted, 0, 0).await?;
        }
        let new_id = match run.id {
            None => {
                let mut entry = run.entry.clone();
                entry.details["deleted"] = deleted.into();
                Some(insert_audit(&mut tx, &entry).await?)
            }
            Some(id) => {
                sqlx::query(
                    "UPDATE audit_logs SET details = jsonb_set(details::jsonb, '{deleted}', \
                     to_jsonb((details::jsonb ->> 'deleted')::bigint + $2))::text WHERE id = $1",
                )
                .bind(id)
                .bind(deleted)
                .execute(&mut *tx)
                .await?;
                None
            }
        };
        let position =
            feed::record(&mut tx, &ChangeKind::Vehicles(ids.clone()), Utc::now()).await?;
        tx.commit().await?;
        // Remembered only once committed, so a failed first batch cannot leave later batches
        // adding to an entry that does not exist.
        if new_id.is_some() {
            run.id = new_id;
        }
        Ok(Committed {
            value: ids,
            position,
        })
    }

    async fn backup_to(&self, target: &Path, now: DateTime<Utc>) -> StoreResult<()> {
        self.export_backup(target, now).await
    }

    async fn scrub(&self) -> StoreResult<bool> {
        Ok(false)
    }

    async fn expiring_by_hour(
        &self,
        until: DateTime<Utc>,
        from_hour_ms: i64,
    ) -> StoreResult<Vec<(i64, i64)>> {
        Ok(sqlx::query_as(expiring_by_hour!("$1", "$2"))
            .bind(until.timestamp_millis())
            .bind(from_hour_ms)
            .fetch_all(&self.pool)
            .await?)
    }
}
