//! How full the car park is: its capacity and the hourly counts kept about it. Counts only:
//! nothing here is personal data, so they may outlive the retention period.

use chrono::{DateTime, TimeDelta, Utc};

pub const MAX_CAPACITY: i64 = 1_000_000;
/// The longest series the API returns: 30 days of hours. Counts are kept a day longer.
pub const MAX_SERIES_HOURS: i64 = 720;
pub const DEFAULT_SERIES_HOURS: i64 = 24;
pub const HOUR_MS: i64 = 3_600_000;

/// How many vehicles the car park holds: 1 to 1,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity(i64);

impl Capacity {
    pub fn new(places: i64) -> Result<Self, String> {
        if (1..=MAX_CAPACITY).contains(&places) {
            Ok(Self(places))
        } else {
            Err(format!("must be between 1 and {MAX_CAPACITY}"))
        }
    }

    pub fn places(self) -> i64 {
        self.0
    }
}

/// The length of an occupancy series, in hours: 1 to 720.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeriesHours(i64);

impl SeriesHours {
    pub fn new(hours: i64) -> Result<Self, String> {
        if (1..=MAX_SERIES_HOURS).contains(&hours) {
            Ok(Self(hours))
        } else {
            Err(format!("must be between 1 and {MAX_SERIES_HOURS}"))
        }
    }

    pub fn hours(self) -> i64 {
        self.0
    }
}

impl Default for SeriesHours {
    fn default() -> Self {
        Self(DEFAULT_SERIES_HOURS)
    }
}

/// The start of the hour `ms` falls in.
pub fn hour_of(ms: i64) -> i64 {
    ms.div_euclid(HOUR_MS) * HOUR_MS
}

/// What the database counted for one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HourCounts {
    /// The hour's start, in Unix milliseconds.
    pub hour_ms: i64,
    /// Vehicles whose entry time falls in the hour.
    pub entries: i64,
    /// Vehicles removed in the hour (a `DELETE`, or a clear).
    pub exits: i64,
    /// Vehicles whose retention ended in the hour.
    pub expiries: i64,
}

/// The counts a deletion adds, by hour, for vehicles that entered at `entry_ms` each, held
/// until `hold_until_ms` if held: an entry in its entry hour, and either an expiry in the hour
/// it expired (its retention, or its hold if that ended later) when it has, or an exit in the
/// hour of `now_ms`. The same rule as the SQL of single deletions (`count_departures!`).
pub fn departures(
    vehicles: &[(i64, Option<i64>)],
    retention_ms: i64,
    now_ms: i64,
) -> Vec<HourCounts> {
    let one = |hour_ms| HourCounts {
        hour_ms,
        ..HourCounts::default()
    };
    by_hour(vehicles.iter().flat_map(|&(entered, hold_until)| {
        let expiry = (entered + retention_ms).max(hold_until.unwrap_or(i64::MIN));
        let departed = if expiry <= now_ms {
            HourCounts {
                expiries: 1,
                ..one(hour_of(expiry))
            }
        } else {
            HourCounts {
                exits: 1,
                ..one(hour_of(now_ms))
            }
        };
        [
            HourCounts {
                entries: 1,
                ..one(hour_of(entered))
            },
            departed,
        ]
    }))
}

/// Counts of the same hour added together, oldest hour first.
pub fn by_hour(counts: impl IntoIterator<Item = HourCounts>) -> Vec<HourCounts> {
    let mut hours: std::collections::BTreeMap<i64, HourCounts> = std::collections::BTreeMap::new();
    for counts in counts {
        let hour = hours.entry(counts.hour_ms).or_insert(HourCounts {
            hour_ms: counts.hour_ms,
            ..HourCounts::default()
        });
        hour.entries += counts.entries;
        hour.exits += counts.exits;
        hour.expiries += counts.expiries;
    }
    hours.into_values().collect()
}

/// One hour of the series the API returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OccupancyHour {
    pub hour: DateTime<Utc>,
    pub entries: i64,
    pub exits: i64,
    /// Parked at the end of the hour (for the current hour: now).
    pub parked: i64,
}

/// Builds the last `hours` hours up to `now` from the counts and the number parked now,
/// walking back: parked at the end of an hour is parked at the end of the next one, minus its
/// entries, plus its exits and expiries.
pub fn series(
    counts: &[HourCounts],
    parked_now: i64,
    hours: SeriesHours,
    now: DateTime<Utc>,
) -> Vec<OccupancyHour> {
    let current = hour_of(now.timestamp_millis());
    let first = current - (hours.hours() - 1) * HOUR_MS;
    let at = |hour_ms: i64| {
        counts
            .iter()
            .find(|c| c.hour_ms == hour_ms)
            .copied()
            .unwrap_or_default()
    };
    let mut series = Vec::with_capacity(hours.hours() as usize);
    let mut parked = parked_now;
    let mut hour_ms = current;
    while hour_ms >= first {
        let counts = at(hour_ms);
        series.push(OccupancyHour {
            hour: DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(hour_ms),
            entries: counts.entries,
            exits: counts.exits,
            parked: parked.max(0),
        });
        parked = parked - counts.entries + counts.exits + counts.expiries;
        hour_ms -= HOUR_MS;
    }
    series.reverse();
    series
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn capacities_and_series_lengths_are_accepted_exactly_within_their_bounds(
            places in -10i64..1_000_010, hours in -10i64..800
        ) {
            prop_assert_eq!(Capacity::new(places).is_ok(), (1..=1_000_000).contains(&places));
            prop_assert_eq!(SeriesHours::new(hours).is_ok(), (1..=720).contains(&hours));
        }
    }

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::<Utc>::UNIX_EPOCH + TimeDelta::milliseconds(ms)
    }

    #[test]
    fn the_series_walks_back_from_what_is_parked_now() {
        // Hour 10: 3 in; hour 11: 1 in, 1 out; hour 12 (now): 2 in, 1 expired. 4 parked now.
        let h = |n: i64| n * HOUR_MS;
        let counts = [
            HourCounts {
                hour_ms: h(10),
                entries: 3,
                exits: 0,
                expiries: 0,
            },
            HourCounts {
                hour_ms: h(11),
                entries: 1,
                exits: 1,
                expiries: 0,
            },
            HourCounts {
                hour_ms: h(12),
                entries: 2,
                exits: 0,
                expiries: 1,
            },
        ];
        let series = series(&counts, 4, SeriesHours::new(4).unwrap(), at(h(12) + 60_000));
        let parked: Vec<i64> = series.iter().map(|s| s.parked).collect();
        assert_eq!(parked, [0, 3, 3, 4]);
        assert_eq!(series[0].hour, at(h(9)));
        assert_eq!(series[3].entries, 2);
        assert_eq!(series[2].exits, 1);
    }

    #[test]
    fn a_departure_counts_its_entry_and_either_its_expiry_or_an_exit() {
        let h = |n: i64| n * HOUR_MS;
        // Retention 2 hours, now 10:30: one entered at 7:10 (expired at 9:10), one at 9:40;
        // one entered at 6:00 held until 9:20 (expired then), one at 6:00 held until 11:00.
        let counts = departures(
            &[
                (h(7) + 600_000, None),
                (h(9) + 2_400_000, None),
                (h(6), Some(h(9) + 1_200_000)),
                (h(6), Some(h(11))),
            ],
            h(2),
            h(10) + 1_800_000,
        );
        assert_eq!(
            counts,
            [
                HourCounts {
                    hour_ms: h(6),
                    entries: 2,
                    exits: 0,
                    expiries: 0
                },
                HourCounts {
                    hour_ms: h(7),
                    entries: 1,
                    exits: 0,
                    expiries: 0
                },
                HourCounts {
                    hour_ms: h(9),
                    entries: 1,
                    exits: 0,
                    expiries: 2
                },
                HourCounts {
                    hour_ms: h(10),
                    entries: 0,
                    exits: 2,
                    expiries: 0
                },
            ]
        );
    }

    #[test]
    fn bounds() {
        assert!(Capacity::new(0).is_err());
        assert!(Capacity::new(MAX_CAPACITY).is_ok());
        assert!(SeriesHours::new(0).is_err());
        assert!(SeriesHours::new(721).is_err());
        assert_eq!(hour_of(-1), -HOUR_MS);
    }
}
