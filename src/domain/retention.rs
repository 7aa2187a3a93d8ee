//! How long personal data is kept: the promise the whole product is built around.

use chrono::{DateTime, TimeDelta, Utc};

pub const MIN_HOURS: i64 = 1;
pub const MAX_HOURS: i64 = 8760;
pub const DEFAULT_HOURS: i64 = 24;

/// A retention period of 1 to 8760 whole hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetentionPeriod(i64);

impl RetentionPeriod {
    pub fn from_hours(hours: i64) -> Result<Self, String> {
        if (MIN_HOURS..=MAX_HOURS).contains(&hours) {
            Ok(Self(hours))
        } else {
            Err(format!("must be between {MIN_HOURS} and {MAX_HOURS} hours"))
        }
    }

    pub fn hours(self) -> i64 {
        self.0
    }

    pub fn duration(self) -> TimeDelta {
        TimeDelta::hours(self.0)
    }

    /// Vehicles that entered at or before this instant have expired at `now`.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now - self.duration()
    }
}

impl Default for RetentionPeriod {
    fn default() -> Self {
        Self(DEFAULT_HOURS)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn a_period_is_accepted_exactly_from_1_to_8760_hours(hours in -100i64..10_000) {
            let period = RetentionPeriod::from_hours(hours);
            prop_assert_eq!(period.is_ok(), (1..=8760).contains(&hours));
            if let Ok(period) = period {
                prop_assert_eq!(period.hours(), hours);
                let now = Utc::now();
                prop_assert_eq!(now - period.cutoff(now), TimeDelta::hours(hours));
            }
        }
    }

    #[test]
    fn bounds_are_inclusive() {
        assert!(RetentionPeriod::from_hours(0).is_err());
        assert!(RetentionPeriod::from_hours(1).is_ok());
        assert!(RetentionPeriod::from_hours(8760).is_ok());
        assert!(RetentionPeriod::from_hours(8761).is_err());
    }
}
