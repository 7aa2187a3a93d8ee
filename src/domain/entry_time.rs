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
    use super::*;

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
