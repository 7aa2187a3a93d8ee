//! The audit trail: who did what, when, and in which request — never with personal data.

use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde_json::Value;

/// Every operation the audit log records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditAction {
    VehicleCreated,
    VehicleUpdated,
    VehicleDeleted,
    VehiclesPurged,
    VehiclesCleared,
    RetentionUpdated,
    BackupCreated,
    ApiKeyCreated,
    ApiKeyRevoked,
    CapacityUpdated,
    VehiclesExported,
    WatchlistAdded,
    WatchlistUpdated,
    WatchlistRemoved,
    WatchlistPurged,
    VehiclePhoneRevealed,
    VehicleHeld,
    VehicleHoldLifted,
    SubjectSearched,
    SubjectErased,
}

impl AuditAction {
    pub const ALL: [AuditAction; 20] = [
        AuditAction::VehicleCreated,
        AuditAction::VehicleUpdated,
        AuditAction::VehicleDeleted,
        AuditAction::VehiclesPurged,
        AuditAction::VehiclesCleared,
        AuditAction::RetentionUpdated,
        AuditAction::BackupCreated,
        AuditAction::ApiKeyCreated,
        AuditAction::ApiKeyRevoked,
        AuditAction::CapacityUpdated,
        AuditAction::VehiclesExported,
        AuditAction::WatchlistAdded,
        AuditAction::WatchlistUpdated,
        AuditAction::WatchlistRemoved,
        AuditAction::WatchlistPurged,
        AuditAction::VehiclePhoneRevealed,
        AuditAction::VehicleHeld,
        AuditAction::VehicleHoldLifted,
        AuditAction::SubjectSearched,
        AuditAction::SubjectErased,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::VehicleCreated => "vehicle.created",
            AuditAction::VehicleUpdated => "vehicle.updated",
            AuditAction::VehicleDeleted => "vehicle.deleted",
            AuditAction::VehiclesPurged => "vehicles.purged",
            AuditAction::VehiclesCleared => "vehicles.cleared",
            AuditAction::RetentionUpdated => "config.retention_updated",
            AuditAction::BackupCreated => "backup.created",
            AuditAction::ApiKeyCreated => "api_key.created",
            AuditAction::ApiKeyRevoked => "api_key.revoked",
            AuditAction::CapacityUpdated => "config.capacity_updated",
            AuditAction::VehiclesExported => "vehicles.exported",
            AuditAction::WatchlistAdded => "watchlist.added",
            AuditAction::WatchlistUpdated => "watchlist.updated",
            AuditAction::WatchlistRemoved => "watchlist.removed",
            AuditAction::WatchlistPurged => "watchlist.purged",
            AuditAction::VehiclePhoneRevealed => "vehicle.phone_revealed",
            AuditAction::VehicleHeld => "vehicle.held",
            AuditAction::VehicleHoldLifted => "vehicle.hold_lifted",
            AuditAction::SubjectSearched => "subject.searched",
            AuditAction::SubjectErased => "subject.erased",
        }
    }

    /// The kind of thing the action is about.
    pub fn entity(self) -> &'static str {
        match self {
            AuditAction::VehicleCreated
            | AuditAction::VehicleUpdated
            | AuditAction::VehicleDeleted
            | AuditAction::VehiclePhoneRevealed
            | AuditAction::VehicleHeld
            | AuditAction::VehicleHoldLifted => "vehicle",
            AuditAction::SubjectSearched | AuditAction::SubjectErased => "subject",
            AuditAction::VehiclesPurged
            | AuditAction::VehiclesCleared
            | AuditAction::VehiclesExported => "vehicles",
            AuditAction::RetentionUpdated | AuditAction::CapacityUpdated => "config",
            AuditAction::WatchlistAdded
            | AuditAction::WatchlistUpdated
            | AuditAction::WatchlistRemoved
            | AuditAction::WatchlistPurged => "watchlist",
            AuditAction::BackupCreated => "backup",
            AuditAction::ApiKeyCreated | AuditAction::ApiKeyRevoked => "api_key",
        }
    }
}

impl FromStr for AuditAction {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| "is not a known audit action".to_owned())
    }
}

/// Who is acting and in which request; carried from the edge into every audited write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditContext {
    /// Names the API key (`front desk (key 3)`), or `system` / `command line`; never a secret.
    pub actor: String,
    pub request_id: Option<String>,
}

impl AuditContext {
    pub fn for_key(name: &str, key_id: i64, request_id: Option<String>) -> Self {
        Self {
            actor: format!("{name} (key {key_id})"),
            request_id,
        }
    }

    /// Background jobs.
    pub fn system() -> Self {
        Self {
            actor: "system".into(),
            request_id: None,
        }
    }

    /// Subcommands of the `parking` binary.
    pub fn command_line() -> Self {
        Self {
            actor: "command line".into(),
            request_id: None,
        }
    }

    pub fn entry(
        &self,
        action: AuditAction,
        entity_id: Option<String>,
        details: Value,
        at: DateTime<Utc>,
    ) -> NewAuditEntry {
        NewAuditEntry {
            at,
            action,
            entity_id,
            actor: self.actor.clone(),
            request_id: self.request_id.clone(),
            details,
        }
    }
}

/// An entry about to be written, in the same transaction as the change it records.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAuditEntry {
    pub at: DateTime<Utc>,
    pub action: AuditAction,
    /// For vehicles, a keyed pseudonym of the plate, never the plate.
    pub entity_id: Option<String>,
    pub actor: String,
    pub request_id: Option<String>,
    /// Counts, times, field names: never a name, phone number or plate.
    pub details: Value,
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub actor: String,
    pub request_id: Option<String>,
    pub details: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actions_round_trip_through_their_names() {
        for action in AuditAction::ALL {
            assert_eq!(action.as_str().parse::<AuditAction>(), Ok(action));
        }
        assert!("vehicle.exploded".parse::<AuditAction>().is_err());
    }
}
