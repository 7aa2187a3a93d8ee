//! When a vehicle entered: the start of its retention clock.

use chrono::{DateTime, TimeDelta, Utc};

use super::RetentionPeriod;

/// How far ahead of the server's clock an entry time may be (clock skew between devices).
const MAX_FUTURE: TimeDelta = TimeDelta::minutes(5);

/// An entry time that is neither in the future nor already past the retention period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EntryTime(DateTime<Utc>);

impl EntryTime {
    /// Parses an optional RFC 3339 value; `None` means "now". Kept to millisecond precision,
    /// the precision the store keeps.
    pub fn parse(
        raw: Option<&str>,
        now: DateTime<Utc>,
        retention: RetentionPeriod,
    ) -> Result<Self, String> {
        let at = match raw {
            None => now,
            Some(raw) => DateTime::parse_from_rfc3339(raw.trim())
                .map_err(|_| "must be an RFC 3339 date-time such as 2026-11-25T08:00:00Z")?
                .with_timezone(&Utc),
        };
        let at = truncate_to_millis(at);
        if at > now + MAX_FUTURE {
            return Err("must not be more than 5 minutes in the future".into());
        }
        if at <= retention.cutoff(now) {
            return Err("is already past the retention period".into());
        }
        Ok(Self(at))
    }

    pub fn at(self) -> DateTime<Utc> {
        self.0
    }
}

/// The store keeps milliseconds; times the API shows are cut to match.
pub fn truncate_to_millis(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(at.timestamp_millis()).unwrap_or(at)
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Accepted exactly when not more than 5 minutes ahead and not already past the
        /// retention period, whatever the offset and the spelling of the zone.
        #[test]
        fn an_entry_time_is_accepted_exactly_inside_its_window(
            offset_ms in -(26 * 3_600_000i64)..(10 * 60_000),
            hours in 1i64..=48,
            zone in prop_oneof![Just("Z"), Just("+02:00"), Just("-05:30")],
        ) {
            let retention = RetentionPeriod::from_hours(hours).unwrap();
            let at = now() + TimeDelta::milliseconds(offset_ms);
            let offset = chrono::FixedOffset::from_str(if zone == "Z" { "+00:00" } else { zone }).unwrap();
            let raw = at.with_timezone(&offset).to_rfc3339_opts(chrono::SecondsFormat::Millis, zone == "Z");
            let inside = offset_ms <= 5 * 60_000 && at > retention.cutoff(now());
            match EntryTime::parse(Some(&raw), now(), retention) {
                Ok(entry) => {
                    prop_assert!(inside, "accepted {}", raw);
                    prop_assert_eq!(entry.at(), at);
                }
                Err(_) => prop_assert!(!inside, "refused {}", raw),
            }
        }
    }

    fn now() -> DateTime<Utc> {
        "2026-11-25T08:00:00Z".parse().unwrap()
    }

    #[test]
    fn missing_means_now() {
        let entry = EntryTime::parse(None, now(), RetentionPeriod::default()).unwrap();
        assert_eq!(entry.at(), now());
    }

    #[test]
    fn offsets_are_converted_to_utc() {
        let entry = EntryTime::parse(
            Some("2026-11-25T09:00:00+01:00"),
            now(),
            RetentionPeriod::default(),
        );
        assert_eq!(entry.unwrap().at(), now());
    }

    #[test]
    fn future_and_expired_times_are_rejected() {
        let r = RetentionPeriod::default();
        assert!(EntryTime::parse(Some("2026-11-25T08:05:00Z"), now(), r).is_ok());
        assert!(EntryTime::parse(Some("2026-11-25T08:05:01Z"), now(), r).is_err());
        assert!(EntryTime::parse(Some("2026-11-24T08:00:01Z"), now(), r).is_ok());
        assert!(EntryTime::parse(Some("2026-11-24T08:00:00Z"), now(), r).is_err());
        assert!(EntryTime::parse(Some("yesterday"), now(), r).is_err());
    }
}
