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

#[cfg(test)]
mod tests {
    use super::*;

    fn end(until: DateTime<Utc>, now: DateTime<Utc>) -> Result<DateTime<Utc>, Vec<String>> {
        let text = until.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        NewHold::parse(Ok("police request"), Ok(&text), &Vehicle::sample(), now)
            .map(|hold| hold.until)
            .map_err(|errors| errors.into_vec().into_iter().map(|e| e.field).collect())
    }

    #[test]
    fn a_hold_ends_after_now_and_at_most_366_days_later() {
        let now = truncate_to_millis(Utc::now());
        let ms = TimeDelta::milliseconds(1);
        let most = TimeDelta::days(MAX_HOLD_DAYS);
        assert_eq!(end(now - ms, now), Err(vec!["until".to_owned()]));
        assert_eq!(end(now, now), Err(vec!["until".to_owned()]));
        assert_eq!(end(now + ms, now), Ok(now + ms));
        assert_eq!(end(now + most, now), Ok(now + most));
        assert_eq!(end(now + most + ms, now), Err(vec!["until".to_owned()]));
    }

    #[test]
    fn a_bad_reason_and_a_bad_end_are_reported_together() {
        let vehicle = Vehicle::sample();
        let fields = |reason, until| {
            NewHold::parse(Ok(reason), Ok(until), &vehicle, Utc::now())
                .unwrap_err()
                .into_vec()
                .into_iter()
                .map(|e| e.field)
                .collect::<Vec<_>>()
        };
        assert_eq!(fields("", "soon"), ["reason", "until"]);
        assert_eq!(fields("court order", "soon"), ["until"]);
    }

    #[test]
    fn a_vehicle_expires_at_the_later_of_its_retention_and_its_hold() {
        let entry = Utc::now();
        let retained = entry + TimeDelta::hours(1);
        let hold = |until| VehicleHold {
            reason: "court order".into(),
            until,
        };
        assert_eq!(expiry(entry, 3_600_000, None), retained);
        let later = hold(retained + TimeDelta::hours(5));
        assert_eq!(expiry(entry, 3_600_000, Some(&later)), later.until);
        let earlier = hold(retained - TimeDelta::minutes(5));
        assert_eq!(expiry(entry, 3_600_000, Some(&earlier)), retained);
    }
}
