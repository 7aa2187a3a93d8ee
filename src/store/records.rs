//! Plain records passed across the storage boundary.

use chrono::{DateTime, Utc};

use crate::domain::{ApiKeyHash, KeyName, NewAuditEntry, RetentionPeriod, Role};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionSetting {
    pub period: RetentionPeriod,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ListOrder {
    #[default]
    EntryDesc,
    EntryAsc,
}

/// Position after the last vehicle of a page: its entry time and id (ids break ties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VehicleCursor {
    pub entry_ms: i64,
    pub id: i64,
}

impl VehicleCursor {
    /// The position just after `vehicle`.
    pub fn after(vehicle: &crate::domain::Vehicle) -> Self {
        Self {
            entry_ms: vehicle.entry_time.timestamp_millis(),
            id: vehicle.id,
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct VehicleFilter {
    pub limit: u32,
    pub order: ListOrder,
    pub after: Option<VehicleCursor>,
    pub entered_after: Option<DateTime<Utc>>,
    pub entered_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: KeyName,
    pub role: Role,
    pub hash: ApiKeyHash,
    /// After this instant the key is refused like a revoked one.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub expires_at: Option<DateTime<Utc>>,
    /// To the minute: uses are recorded at most once a minute per key.
    pub last_used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// Neither revoked nor expired at `now`.
    pub fn is_active(&self, now: DateTime<Utc>) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| at > now)
    }
}

/// What a revocation did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revocation {
    Revoked(super::FeedPosition),
    /// No active key has this id.
    NotFound,
    /// The key is the last active admin key: revoking it would lock every admin out.
    LastAdmin,
}

/// The audit entries of a registration: one for the new vehicle, and one written only if an
/// expired, not yet purged record of the same plate had to be removed first.
#[derive(Debug, Clone)]
pub struct InsertAudit {
    pub created: NewAuditEntry,
    pub replaced_expired: NewAuditEntry,
}

/// The audit entries of a watchlist write: one is written, depending on whether the plate was
/// watched already.
#[derive(Debug, Clone)]
pub struct WatchAudit {
    pub added: NewAuditEntry,
    pub updated: NewAuditEntry,
}

/// Which vehicles a bulk deletion removes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeleteScope {
    /// Vehicles expired at `now` (they entered at or before `cutoff`, and no hold keeps
    /// them).
    Expired {
        cutoff: DateTime<Utc>,
        now: DateTime<Utc>,
    },
    All,
}

/// The one audit entry of a bulk deletion run. It is written with the first batch that
/// deletes something, and each later batch adds its count in its own transaction, so every
/// committed deletion is accounted for even if the run stops half-way.
#[derive(Debug, Clone)]
pub struct BatchAudit {
    /// Its `details` must hold `"deleted": 0`.
    pub entry: NewAuditEntry,
    pub id: Option<i64>,
}

/// Audit log query; `entity_ids` matches any of them.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub limit: u32,
    pub before_id: Option<i64>,
    pub action: Option<String>,
    pub entity_ids: Vec<String>,
    pub since: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
}

/// Every record held about a subject.
#[derive(Debug, Clone, Default)]
pub struct SubjectRecords {
    /// With `expires_at` as the retention in force makes it; past ones wait for the purge.
    pub vehicles: Vec<crate::domain::Vehicle>,
    pub watchlist: Vec<crate::domain::WatchEntry>,
}

/// What an erasure deleted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    pub vehicles: u64,
    pub watchlist: u64,
}

/// One UTC day of the retention ledger.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetentionDay {
    pub purged: i64,
    pub erased: i64,
    pub backups_deleted: i64,
    /// Vehicles held past their retention, as last recorded that day (`None`: never).
    pub held: Option<i64>,
    /// The oldest entry time of any vehicle row, as last recorded that day.
    pub oldest_entry_ms: Option<i64>,
}
