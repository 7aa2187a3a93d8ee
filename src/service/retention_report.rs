//! The signed retention report of one day.

use std::sync::Arc;

use chrono::{NaiveDate, Utc};
use serde_json::Value;

use super::ServiceError;
use crate::{
    domain::{ReportKey, RetentionReport, day_of, truncate_to_millis},
    store::{Store, rows::from_ms},
};

#[derive(Clone)]
pub struct RetentionReportService {
    store: Arc<dyn Store>,
    key: ReportKey,
}

impl RetentionReportService {
    pub fn new(store: Arc<dyn Store>, key: ReportKey) -> Self {
        Self { store, key }
    }

    /// The report of `day` (UTC), signed. Today's states what is held now; an earlier day's,
    /// what its last purge found.
    pub async fn report(&self, day: NaiveDate) -> Result<Value, ServiceError> {
        let now = truncate_to_millis(Utc::now());
        let day_ms = day
            .and_hms_opt(0, 0, 0)
            .map_or(0, |start| start.and_utc().timestamp_millis());
        let counts = self.store.retention_day(day_ms).await?;
        let (held, oldest) = if day_ms == day_of(now.timestamp_millis()) {
            let (held, oldest) = self.store.retention_state(now).await?;
            (Some(held), oldest)
        } else {
            (counts.held, counts.oldest_entry_ms)
        };
        let report = RetentionReport {
            day,
            generated_at: now,
            retention_hours: self.store.retention().await?.period.hours(),
            purged: counts.purged,
            erased: counts.erased,
            held,
            backups_deleted: counts.backups_deleted,
            oldest_record: oldest.map(from_ms),
        };
        Ok(self.key.sign(report.body()))
    }
}
