//! Plain records passed across the storage boundary.

use chrono::{DateTime, Utc};

use crate::domain::{ApiKeyHash, KeyName, RetentionPeriod, Role, SearchTerms};

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

#[derive(Debug, Clone, Default)]
pub struct VehicleFilter {
    pub limit: u32,
    pub order: ListOrder,
    pub after: Option<VehicleCursor>,
    pub entered_after: Option<DateTime<Utc>>,
    pub entered_before: Option<DateTime<Utc>>,
    pub text: Option<SearchTerms>,
}

#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub name: KeyName,
    pub role: Role,
    pub hash: ApiKeyHash,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: i64,
    pub name: String,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}
