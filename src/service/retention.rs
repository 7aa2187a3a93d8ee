//! Reading and changing the retention period.

use std::sync::Arc;

use chrono::Utc;
use serde_json::json;

use super::ServiceError;
use crate::{
    domain::{AuditAction, AuditContext, FieldErrors, RetentionPeriod},
    projection::Freshness,
    store::{RetentionSetting, Store},
};

#[derive(Clone)]
pub struct RetentionService {
    store: Arc<dyn Store>,
    freshness: Freshness,
}

impl RetentionService {
    pub fn new(store: Arc<dyn Store>, freshness: Freshness) -> Self {
        Self { store, freshness }
    }

    pub async fn get(&self) -> Result<RetentionSetting, ServiceError> {
        Ok(self.store.retention().await?)
    }

    /// Takes effect at once for every read, `expires_at`, the purge and backups.
    pub async fn set(
        &self,
        hours: i64,
        ctx: &AuditContext,
    ) -> Result<RetentionSetting, ServiceError> {
        let period = RetentionPeriod::from_hours(hours)
            .map_err(|message| FieldErrors::single("retention_hours", message))?;
        let previous = self.store.retention().await?;
        let now = Utc::now();
        let audit = ctx.entry(
            AuditAction::RetentionUpdated,
            Some("retention".into()),
            json!({ "from_hours": previous.period.hours(), "to_hours": period.hours() }),
            now,
        );
        let written = self.store.set_retention(period, now, &audit).await?;
        self.freshness.caught_up(written.position).await;
        Ok(written.value)
    }
}
