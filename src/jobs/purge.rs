//! The retention purge: deletes expired vehicles and audit entries, backups that have
//! outlived the retention period, and change records every reader has (or that are older than
//! retention allows).

use chrono::{TimeDelta, Utc};

use crate::{app::AppState, domain::AuditContext};

/// A feed reader not seen for this long no longer holds changes back.
const READER_GONE_AFTER: TimeDelta = TimeDelta::minutes(1);

pub async fn run_once(state: &AppState) {
    match state.maintenance.purge(&AuditContext::system()).await {
        Ok(report) if report.deleted > 0 => {
            tracing::info!(
                deleted = report.deleted,
                "retention purge deleted expired vehicles"
            );
        }
        Ok(_) => {}
        Err(error) => tracing::error!(%error, "retention purge failed"),
    }
    state.rate_limiter.forget_idle();
    let now = Utc::now();
    match state.store.retention().await {
        Ok(retention) => {
            let trimmed = state
                .store
                .trim_changes(now - READER_GONE_AFTER, retention.period.cutoff(now))
                .await;
            if let Err(error) = trimmed {
                tracing::error!(%error, "trimming the change feed failed");
            }
        }
        Err(error) => tracing::error!(%error, "cannot read the retention period"),
    }
    if let Err(error) = state.backups.rotate(Utc::now()).await {
        tracing::error!(%error, "backup rotation failed");
    }
}
