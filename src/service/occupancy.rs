//! How full the car park is: vehicles parked now, the capacity, and an hourly series.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::ServiceError;
use crate::{
    domain::{
        AuditAction, AuditContext, Capacity, FieldErrors, HOUR_MS, OccupancyHour, SeriesHours,
        hour_of, occupancy_series,
    },
    projection::Freshness,
    search::LiveSearch,
    store::{FeedPosition, Store},
};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occupancy {
    pub parked: i64,
    pub capacity: Option<i64>,
    pub series: Vec<OccupancyHour>,
}

#[derive(Clone)]
pub struct OccupancyService {
    store: Arc<dyn Store>,
    live: LiveSearch,
    freshness: Freshness,
}

impl OccupancyService {
    pub fn new(store: Arc<dyn Store>, live: LiveSearch, freshness: Freshness) -> Self {
        Self {
            store,
            live,
            freshness,
        }
    }

    /// Parked now comes from this process's index, brought up to date with the database
    /// first when other servers write to it, so every instance gives the same answer.
    pub async fn occupancy(&self, hours: SeriesHours) -> Result<Occupancy, ServiceError> {
        if !self.live.authoritative() {
            let frontier = self.store.feed_frontier().await?;
            self.freshness
                .caught_up(FeedPosition(frontier.0.saturating_sub(1)))
                .await;
        }
        let now = Utc::now();
        let since_ms = hour_of(now.timestamp_millis()) - (hours.hours() - 1) * HOUR_MS;
        let counts = self.store.occupancy_counts(since_ms, now).await?;
        let parked = self.live.parked();
        let capacity = if self.live.authoritative() {
            self.live.capacity()
        } else {
            self.store.capacity().await?.map(Capacity::places)
        };
        Ok(Occupancy {
            parked,
            capacity,
            series: occupancy_series(&counts, parked, hours, now),
        })
    }

    /// Audited with the old and new values.
    pub async fn set_capacity(
        &self,
        places: i64,
        ctx: &AuditContext,
    ) -> Result<Capacity, ServiceError> {
        let capacity =
            Capacity::new(places).map_err(|message| FieldErrors::single("capacity", message))?;
        let previous = self.store.capacity().await?.map(Capacity::places);
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::CapacityUpdated,
            Some("capacity".into()),
            json!({ "from": previous, "to": capacity.places() }),
            now,
        );
        let written = self.store.set_capacity(capacity, now, &audit).await?;
        self.freshness.caught_up(written.position).await;
        Ok(written.value)
    }
}
