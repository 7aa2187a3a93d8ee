//! Rows as both backends read them: the same columns, the same meaning, so one reading.

use chrono::{DateTime, Utc};

use crate::domain::{AuditRecord, Role, Vehicle, VehicleHold, WatchEntry, expiry};

use super::ApiKeyRecord;

/// Stored milliseconds back to a time. Stored values were written from times: in range.
pub(crate) fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

/// A vehicle, with the retention period in force read in the same statement.
#[derive(sqlx::FromRow)]
pub(crate) struct VehicleRow {
    pub id: i64,
    pub number_plate: String,
    pub contact_name: String,
    pub phone_number: String,
    pub entry_ms: i64,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub hold_until_ms: Option<i64>,
    pub hold_reason: Option<String>,
    pub retention_ms: i64,
}

/// The hold stored in a row's two hold columns.
pub(crate) fn hold_of(until_ms: Option<i64>, reason: Option<String>) -> Option<VehicleHold> {
    Some(VehicleHold {
        until: from_ms(until_ms?),
        reason: reason.unwrap_or_default(),
    })
}

impl From<VehicleRow> for Vehicle {
    fn from(row: VehicleRow) -> Self {
        let hold = hold_of(row.hold_until_ms, row.hold_reason);
        let entry_time = from_ms(row.entry_ms);
        Vehicle {
            id: row.id,
            number_plate: row.number_plate,
            contact_name: row.contact_name,
            phone_number: row.phone_number,
            expires_at: expiry(entry_time, row.retention_ms, hold.as_ref()),
            entry_time,
            created_at: from_ms(row.created_ms),
            updated_at: from_ms(row.updated_ms),
            hold,
        }
    }
}

/// The columns `KeyRow` reads.
pub(crate) const KEY_COLUMNS: &str =
    "id, name, role, created_ms, expires_ms, last_used_ms, revoked_ms";

#[derive(sqlx::FromRow)]
pub(crate) struct KeyRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub created_ms: i64,
    pub expires_ms: Option<i64>,
    pub last_used_ms: Option<i64>,
    pub revoked_ms: Option<i64>,
}

impl From<KeyRow> for ApiKeyRecord {
    fn from(row: KeyRow) -> Self {
        ApiKeyRecord {
            id: row.id,
            name: row.name,
            // The table's CHECK constraint admits only known role names; the least
            // privileged role is the safe reading of anything else.
            role: row.role.parse().unwrap_or(Role::Viewer),
            created_at: from_ms(row.created_ms),
            expires_at: row.expires_ms.map(from_ms),
            last_used_at: row.last_used_ms.map(from_ms),
            revoked_at: row.revoked_ms.map(from_ms),
        }
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct AuditRow {
    pub id: i64,
    pub ts_ms: i64,
    pub action: String,
    pub entity: String,
    pub entity_id: Option<String>,
    pub actor: String,
    pub request_id: Option<String>,
    pub details: String,
}

impl From<AuditRow> for AuditRecord {
    fn from(row: AuditRow) -> Self {
        AuditRecord {
            id: row.id,
            at: from_ms(row.ts_ms),
            action: row.action,
            entity: row.entity,
            entity_id: row.entity_id,
            actor: row.actor,
            request_id: row.request_id,
            details: serde_json::from_str(&row.details).unwrap_or_default(),
        }
    }
}

/// A watchlist entry, with the retention period in force read in the same statement
/// (`number_plate, plate_folded, note, created_ms, updated_ms, retention_ms`).
pub(crate) type WatchRow = (String, String, String, i64, i64, i64);

/// The entry a `WatchRow` holds; it expires once the retention period has passed since its
/// last change.
pub(crate) fn watch_entry(
    (number_plate, plate_folded, note, created_ms, updated_ms, retention_ms): WatchRow,
) -> WatchEntry {
    WatchEntry {
        number_plate,
        plate_folded,
        note,
        created_at: from_ms(created_ms),
        updated_at: from_ms(updated_ms),
        expires_at: from_ms(updated_ms.saturating_add(retention_ms)),
    }
}
