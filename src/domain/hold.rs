//! Legal holds: one vehicle kept past its retention, for a reason, until a set time.

use chrono::{DateTime, TimeDelta, Utc};

use super::{Reason, Vehicle, truncate_to_millis};

/// A hold ends at most this long after it is placed.
pub const MAX_HOLD_DAYS: i64 = 366;

/// When a vehicle expires: at the end of its retention, or of its hold if that is later.
pub fn expiry(
    entry: DateTime<Utc>,
    retention_ms: i64,
    hold: Option<&VehicleHold>,
) -> DateTime<Utc> {
    let retained = entry + TimeDelta::milliseconds(retention_ms);
    hold.map_or(retained, |h| h.until.max(retained))
}

/// A hold as stored on a vehicle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VehicleHold {
    pub reason: String,
    pub until: DateTime<Utc>,
}

/// A hold about to be placed: a reason free of personal data and an end within a year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHold {
    pub reason: Reason,
    pub until: DateTime<Utc>,
}

impl NewHold {
    /// `until` is RFC 3339, after `now` and at most a year later.
    pub fn parse(
        reason: Result<&str, String>,
        until: Result<&str, String>,
        vehicle: &Vehicle,
        now: DateTime<Utc>,
    ) -> Result<Self, super::FieldErrors> {
        let mut errors = super::FieldErrors::default();
        let reason = errors.take("reason", reason.and_then(|r| Reason::parse(r, vehicle)));
        let until = errors.take(
            "until",
            until.and_then(|raw| {
                let at = DateTime::parse_from_rfc3339(raw.trim())
                    .map_err(|_| "must be an RFC 3339 time".to_owned())?
                    .with_timezone(&Utc);
                if at <= now {
                    return Err("must be in the future".into());
                }
                if at > now + TimeDelta::days(MAX_HOLD_DAYS) {
                    return Err("must be at most a year from now".into());
                }
                Ok(truncate_to_millis(at))
            }),
        );
        match (reason, until) {
            (Some(reason), Some(until)) if errors.is_empty() => Ok(Self { reason, until }),
            _ => Err(errors),
        }
    }
}
