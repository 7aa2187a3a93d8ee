//! Vehicles for the index's unit tests.

use chrono::DateTime;

use crate::domain::Vehicle;

/// A vehicle registered as it entered at `entry_ms` and never changed: its instants are one.
pub fn vehicle(id: i64, plate: &str, name: &str, phone: &str, entry_ms: i64) -> Vehicle {
    let at = DateTime::from_timestamp_millis(entry_ms).unwrap_or_default();
    Vehicle {
        id,
        number_plate: plate.into(),
        contact_name: name.into(),
        phone_number: phone.into(),
        entry_time: at,
        expires_at: at,
        created_at: at,
        updated_at: at,
        hold: None,
    }
}
