//! The retention purge and clearing the car park: bulk deletions in short batches, so a
//! million rows never stall the API.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, TimeDelta, Utc};
use serde_json::json;

use super::{BackupInfo, BackupService, BackupTrigger, ServiceError};
use crate::{
    domain::{
        AuditAction, AuditContext, FieldErrors, HOUR_MS, MAX_SERIES_HOURS, PreviewHours,
        PurgePreview, hour_of, preview_window, purge_preview, truncate_to_millis,
    },
    projection::Freshness,
    store::{BatchAudit, DeleteScope, FeedPosition, Store},
    telemetry::metrics::Metrics,
};

/// Rows per transaction: large enough to purge a million rows in seconds, small enough that a
/// registration waits only milliseconds for the writer.
pub const BATCH_SIZE: u32 = 2_000;

/// Occupancy counts are kept for the longest series the API returns, and a day.
const OCCUPANCY_KEEP_HOURS: i64 = MAX_SERIES_HOURS + 24;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PurgeReport {
    pub deleted: u64,
    pub cutoff: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClearReport {
    pub deleted: u64,
    pub backup: Option<BackupInfo>,
}

#[derive(Clone)]
pub struct MaintenanceService {
    store: Arc<dyn Store>,
    backups: BackupService,
    freshness: Freshness,
    metrics: Arc<Metrics>,
    audit_retention: TimeDelta,
}

impl MaintenanceService {
    pub fn new(
        store: Arc<dyn Store>,
        backups: BackupService,
        freshness: Freshness,
        metrics: Arc<Metrics>,
        audit_retention_days: u32,
    ) -> Self {
        Self {
            store,
            backups,
            freshness,
            metrics,
            audit_retention: TimeDelta::days(i64::from(audit_retention_days)),
        }
    }

    /// Deletes every vehicle past its retention period; one `vehicles.purged` entry records
    /// the run when it deleted anything. Also drops audit entries past their own retention,
    /// watchlist entries past theirs (one `watchlist.purged` entry), and occupancy counts
    /// older than 31 days.
    pub async fn purge(&self, ctx: &AuditContext) -> Result<PurgeReport, ServiceError> {
        let now = truncate_to_millis(Utc::now());
        let cutoff = self.store.retention().await?.period.cutoff(now);
        let entry = ctx.entry(
            AuditAction::VehiclesPurged,
            None,
            json!({ "deleted": 0, "cutoff": cutoff.to_rfc3339_opts(SecondsFormat::Millis, true) }),
            now,
        );
        let deleted = self
            .delete_in_batches(DeleteScope::Expired { cutoff, now }, entry)
            .await?;
        self.metrics.purge_run(deleted);
        let audit_cutoff = now - self.audit_retention;
        while self
            .store
            .purge_audit_before(audit_cutoff, BATCH_SIZE)
            .await?
            == u64::from(BATCH_SIZE)
        {
            tokio::task::yield_now().await;
        }
        // Watchlist entries are personal data too; occupancy counts are not, but only the
        // longest series needs them.
        let watch_audit = ctx.entry(
            AuditAction::WatchlistPurged,
            None,
            json!({ "deleted": 0 }),
            now,
        );
        let unwatched = self.store.purge_watch(now, &watch_audit).await?;
        if unwatched.value > 0 {
            self.freshness.caught_up(unwatched.position).await;
        }
        let counts_before = hour_of(now.timestamp_millis()) - OCCUPANCY_KEEP_HOURS * HOUR_MS;
        self.store.purge_occupancy_before(counts_before).await?;
        if deleted > 0 || unwatched.value > 0 {
            self.scrub().await?;
        }
        // What the retention report states of the day: what is held after this run.
        self.store.record_retention_state(now).await?;
        Ok(PurgeReport { deleted, cutoff })
    }

    /// What the purge will delete in the next `hours`, by hour, if the retention stays.
    pub async fn purge_preview(&self, hours: PreviewHours) -> Result<PurgePreview, ServiceError> {
        let now = truncate_to_millis(Utc::now());
        let retention = self.store.retention().await?.period;
        let (from_hour, until) = preview_window(now, hours);
        let expiring = self.store.expiring_by_hour(until, from_hour).await?;
        Ok(purge_preview(&expiring, now, hours, retention))
    }

    /// Deletes every vehicle. Refused unless `confirm` is true; with `backup` (the default) a
    /// verified backup is written first, and if that fails nothing is deleted.
    pub async fn clear(
        &self,
        confirm: bool,
        backup: bool,
        ctx: &AuditContext,
    ) -> Result<ClearReport, ServiceError> {
        if !confirm {
            return Err(
                FieldErrors::single("confirm", "must be true to delete every vehicle").into(),
            );
        }
        let backup = if backup {
            let made = self.backups.create(BackupTrigger::BeforeClear, ctx).await;
            Some(made.map_err(|e| match e {
                ServiceError::Store(cause) | ServiceError::Backup(cause) => {
                    ServiceError::BackupFailed(cause)
                }
                other => other,
            })?)
        } else {
            None
        };
        let entry = ctx.entry(
            AuditAction::VehiclesCleared,
            None,
            json!({ "deleted": 0, "backup": backup.as_ref().map(|b| b.file.clone()) }),
            Utc::now(),
        );
        let deleted = self.delete_in_batches(DeleteScope::All, entry).await?;
        if deleted > 0 {
            self.scrub().await?;
        }
        Ok(ClearReport { deleted, backup })
    }

    /// Deleted rows must be gone from the database's files before the run reports success.
    async fn scrub(&self) -> Result<(), ServiceError> {
        if !self.store.scrub().await? && !self.store.shared() {
            tracing::warn!("deleted rows may stay in the WAL until the next checkpoint");
        }
        Ok(())
    }

    async fn delete_in_batches(
        &self,
        scope: DeleteScope,
        entry: crate::domain::NewAuditEntry,
    ) -> Result<u64, ServiceError> {
        let mut run = BatchAudit { entry, id: None };
        let mut total = 0;
        let mut last = FeedPosition::default();
        loop {
            let batch = self
                .store
                .delete_vehicles_batch(scope, BATCH_SIZE, &mut run)
                .await?;
            let deleted = batch.value.len() as u64;
            total += deleted;
            if deleted > 0 {
                last = batch.position;
            }
            if deleted < u64::from(BATCH_SIZE) {
                // Batches are applied to the search index as they commit; the answer waits
                // only for the last.
                if total > 0 {
                    self.freshness.caught_up(last).await;
                }
                return Ok(total);
            }
            // Let waiting requests have the writer between batches.
            tokio::task::yield_now().await;
        }
    }
}
