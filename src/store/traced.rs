//! A span around every store call, for traces. Installed only when traces are exported, so
//! without them the store is called directly.
//!
//! A call outside any span (the change feed's polling, which mostly finds nothing) gets no
//! span of its own: it would be a trace of its own every quarter of a second.

use std::{path::Path, sync::Arc};

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use tracing::Instrument;

use super::{
    ApiKeyRecord, AuditFilter, AuditStore, BatchAudit, Claim, ClaimKind, Committed, DeleteScope,
    Erased, FeedBatch, FeedPosition, FeedStore, InsertAudit, KeyStore, Lease, MaintenanceStore,
    NewApiKey, OccupancyStore, RetentionDay, RetentionLedger, RetentionSetting, Revocation,
    SettingsStore, Store, StoreResult, SubjectRecords, SubjectStore, VehicleCursor, VehicleStore,
    WatchAudit, WatchlistStore,
};
use crate::{
    domain::{
        AuditRecord, Capacity, HourCounts, NewAuditEntry, NewHold, NewVehicle, NumberPlate,
        Registered, RetentionPeriod, Subject, Vehicle, VehicleChanges, WatchEntry, WatchNote,
    },
    telemetry::traces::SPANS,
};

/// Wraps `inner` so that each call is a span named `store.<method>`; `system` is the
/// database's OpenTelemetry name (`sqlite`, `postgresql`).
pub fn traced(inner: Arc<dyn Store>, system: &'static str) -> Arc<dyn Store> {
    Arc::new(Traced { inner, system })
}

struct Traced {
    inner: Arc<dyn Store>,
    system: &'static str,
}

impl Traced {
    fn span(&self, operation: &'static str) -> tracing::Span {
        if tracing::Span::current().is_none() {
            return tracing::Span::none();
        }
        tracing::info_span!(
            target: SPANS,
            "store",
            otel.name = operation,
            otel.kind = "client",
            db.system.name = self.system,
        )
    }
}

/// Implements `$trait` by calling the same method of the wrapped store inside a span; the
/// methods after `untraced` are written out.
macro_rules! traced_impl {
    (
        $trait:ident { $( fn $name:ident(&self $(, $arg:ident: $ty:ty)*) -> $ret:ty; )* }
        $( untraced { $($untraced:tt)* } )?
    ) => {
        #[async_trait]
        impl $trait for Traced {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    let span = self.span(concat!("store.", stringify!($name)));
                    self.inner.$name($($arg),*).instrument(span).await
                }
            )*
            $( $($untraced)* )?
        }
    };
}

#[async_trait]
impl Store for Traced {
    fn shared(&self) -> bool {
        self.inner.shared()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().instrument(self.span("store.ping")).await
    }

    async fn writable(&self) -> StoreResult<()> {
        self.inner
            .writable()
            .instrument(self.span("store.writable"))
            .await
    }

    async fn close(&self) {
        self.inner.close().await
    }

    fn pool_usage(&self) -> Vec<crate::telemetry::metrics::PoolUsage> {
        self.inner.pool_usage()
    }
}

traced_impl!(VehicleStore {
    fn insert_vehicle(&self, vehicle: &NewVehicle, now: DateTime<Utc>, audit: &InsertAudit)
        -> StoreResult<Committed<Registered>>;
    fn find_vehicle(&self, plate: &NumberPlate, now: DateTime<Utc>)
        -> StoreResult<Option<Vehicle>>;
    fn load_page(&self, after: Option<VehicleCursor>, limit: u32, now: DateTime<Utc>)
        -> StoreResult<Vec<Vehicle>>;
    fn update_vehicle(
        &self,
        plate: &NumberPlate,
        changes: &VehicleChanges,
        now: DateTime<Utc>,
        audit: &NewAuditEntry
    ) -> StoreResult<Option<Committed<Vehicle>>>;
    fn hold_vehicle(
        &self,
        plate: &NumberPlate,
        hold: &NewHold,
        now: DateTime<Utc>,
        audit: &NewAuditEntry
    ) -> StoreResult<Option<Committed<Vehicle>>>;
    fn lift_hold(&self, plate: &NumberPlate, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Option<Committed<i64>>>;
    fn delete_vehicle(&self, plate: &NumberPlate, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Option<Committed<i64>>>;
});

traced_impl!(KeyStore {
    fn insert_api_key(&self, key: &NewApiKey, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Committed<ApiKeyRecord>>;
    fn find_active_api_key(&self, key_hash: &str, now: DateTime<Utc>)
        -> StoreResult<Option<ApiKeyRecord>>;
    fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyRecord>>;
    fn active_api_keys(&self, now: DateTime<Utc>) -> StoreResult<Vec<ApiKeyRecord>>;
    fn revoke_api_key(&self, id: i64, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Revocation>;
    fn has_active_admin_key(&self, now: DateTime<Utc>) -> StoreResult<bool>;
    fn record_key_use(&self, uses: &[(i64, DateTime<Utc>)]) -> StoreResult<()>;
    fn ensure_env_admin_key(&self, key: &NewApiKey, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Option<FeedPosition>>;
});

traced_impl!(SettingsStore {
    fn retention(&self) -> StoreResult<RetentionSetting>;
    fn set_retention(&self, period: RetentionPeriod, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Committed<RetentionSetting>>;
});

traced_impl!(OccupancyStore {
    fn capacity(&self) -> StoreResult<Option<Capacity>>;
    fn set_capacity(&self, capacity: Capacity, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Committed<Capacity>>;
    fn occupancy_counts(&self, since_ms: i64, now: DateTime<Utc>) -> StoreResult<Vec<HourCounts>>;
    fn purge_occupancy_before(&self, before_ms: i64) -> StoreResult<u64>;
});

traced_impl!(WatchlistStore {
    fn put_watch(&self, plate: &NumberPlate, note: &WatchNote, now: DateTime<Utc>, audit: &WatchAudit)
        -> StoreResult<Committed<(WatchEntry, bool)>>;
    fn find_watch(&self, plate: &NumberPlate, now: DateTime<Utc>)
        -> StoreResult<Option<WatchEntry>>;
    fn list_watch(&self, now: DateTime<Utc>) -> StoreResult<Vec<WatchEntry>>;
    fn delete_watch(&self, plate: &NumberPlate, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Option<Committed<()>>>;
    fn purge_watch(&self, now: DateTime<Utc>, audit: &NewAuditEntry) -> StoreResult<Committed<u64>>;
});

traced_impl!(SubjectStore {
    fn subject_records(&self, subject: &Subject) -> StoreResult<SubjectRecords>;
    fn erase_subject(&self, subject: &Subject, now: DateTime<Utc>, audit: &NewAuditEntry)
        -> StoreResult<Committed<Erased>>;
});

traced_impl!(RetentionLedger {
    fn count_backups_deleted(&self, day_ms: i64, deleted: i64) -> StoreResult<()>;
    fn record_retention_state(&self, now: DateTime<Utc>) -> StoreResult<()>;
    fn retention_day(&self, day_ms: i64) -> StoreResult<RetentionDay>;
    fn retention_state(&self, now: DateTime<Utc>) -> StoreResult<(i64, Option<i64>)>;
});

traced_impl!(AuditStore {
    fn audit_secret(&self) -> StoreResult<Vec<u8>>;
    fn record_audit(&self, entry: &NewAuditEntry) -> StoreResult<()>;
    fn list_audit(&self, filter: &AuditFilter) -> StoreResult<Vec<AuditRecord>>;
    fn purge_audit_before(&self, before: DateTime<Utc>, limit: u32) -> StoreResult<u64>;
});

traced_impl!(MaintenanceStore {
    fn try_lead(&self) -> StoreResult<Option<Box<dyn Lease>>>;
    fn claim(&self, kind: ClaimKind) -> StoreResult<Claim>;
    fn load_backup(&self, file: &Path) -> StoreResult<()>;
    fn delete_vehicles_batch(&self, scope: DeleteScope, limit: u32, audit: &mut BatchAudit)
        -> StoreResult<Committed<Vec<i64>>>;
    fn backup_to(&self, target: &Path, now: DateTime<Utc>) -> StoreResult<()>;
    fn scrub(&self) -> StoreResult<bool>;
    fn expiring_by_hour(&self, until: DateTime<Utc>, from_hour_ms: i64)
        -> StoreResult<Vec<(i64, i64)>>;
});

traced_impl!(FeedStore {
    fn feed_frontier(&self) -> StoreResult<FeedPosition>;
    fn read_changes(&self, from: FeedPosition, limit: u32) -> StoreResult<FeedBatch>;
    fn live_vehicles(&self, ids: &[i64], now: DateTime<Utc>) -> StoreResult<Vec<Vehicle>>;
    fn record_reader(&self, instance: &str, position: FeedPosition, now: DateTime<Utc>)
        -> StoreResult<()>;
    fn trim_changes(&self, readers_since: DateTime<Utc>, older_than: DateTime<Utc>)
        -> StoreResult<u64>;
} untraced {
    /// Runs for the server's whole life: not a call to trace.
    async fn listen_for_changes(
        &self,
        wake: Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        self.inner.listen_for_changes(wake, stop).await
    }
});
