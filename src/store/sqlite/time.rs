//! Times are stored as Unix milliseconds.

use chrono::{DateTime, Utc};

pub(super) fn to_ms(at: DateTime<Utc>) -> i64 {
    at.timestamp_millis()
}

/// Stored values were written by `to_ms`, so they are always in range.
pub(super) fn from_ms(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}
