//! What the retention purge will delete in the coming hours: counts only.

use chrono::{DateTime, TimeDelta, Utc};

use super::{HOUR_MS, RetentionPeriod, hour_of};

pub const MAX_PREVIEW_HOURS: i64 = 168;

/// How far ahead a preview looks: 1 to 168 hours.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviewHours(i64);

impl PreviewHours {
    pub fn new(hours: i64) -> Result<Self, String> {
        if (1..=MAX_PREVIEW_HOURS).contains(&hours) {
            Ok(Self(hours))
        } else {
            Err(format!("must be between 1 and {MAX_PREVIEW_HOURS}"))
        }
    }
}

impl Default for PreviewHours {
    fn default() -> Self {
        Self(24)
    }
}

/// The preview: `count` vehicles will be gone by `until`, when the purge's cut-off will be
/// `cutoff`; `by_hour` lists every hour from the current one to the one holding `until`
/// (hour start, count), the current hour also counting vehicles already expired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PurgePreview {
    pub cutoff: DateTime<Utc>,
    pub count: i64,
    pub by_hour: Vec<(DateTime<Utc>, i64)>,
}

/// The window a preview covers: from the current hour's start (ms) to `now + hours`.
pub fn preview_window(now: DateTime<Utc>, hours: PreviewHours) -> (i64, DateTime<Utc>) {
    (
        hour_of(now.timestamp_millis()),
        now + TimeDelta::hours(hours.0),
    )
}

/// Builds the preview from the store's counts by hour (`expiring`, oldest first).
pub fn purge_preview(
    expiring: &[(i64, i64)],
    now: DateTime<Utc>,
    hours: PreviewHours,
    retention: RetentionPeriod,
) -> PurgePreview {
    let (first, until) = preview_window(now, hours);
    let last = hour_of(until.timestamp_millis());
    let by_hour = (0..)
        .map(|n| first + n * HOUR_MS)
        .take_while(|hour| *hour <= last)
        .map(|hour| {
            let count = expiring
                .iter()
                .filter(|(h, _)| *h == hour)
                .map(|(_, c)| c)
                .sum();
            (
                DateTime::from_timestamp_millis(hour).unwrap_or_default(),
                count,
            )
        })
        .collect();
    PurgePreview {
        cutoff: retention.cutoff(until),
        count: expiring.iter().map(|(_, c)| c).sum(),
        by_hour,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hour_of_the_window_is_listed_and_counts_add_up() {
        let now = DateTime::parse_from_rfc3339("2026-11-27T10:20:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let ten = hour_of(now.timestamp_millis());
        let preview = purge_preview(
            &[(ten, 3), (ten + 2 * HOUR_MS, 1)],
            now,
            PreviewHours::new(2).unwrap(),
            RetentionPeriod::from_hours(24).unwrap(),
        );
        let counts: Vec<i64> = preview.by_hour.iter().map(|(_, c)| *c).collect();
        assert_eq!(counts, [3, 0, 1]);
        assert_eq!(preview.count, 4);
        assert_eq!(
            preview.cutoff,
            now + TimeDelta::hours(2) - TimeDelta::hours(24)
        );
        assert!(PreviewHours::new(0).is_err() && PreviewHours::new(169).is_err());
    }
}
