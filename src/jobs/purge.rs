//! The retention purge: deletes expired vehicles and audit entries, and backups that have
//! outlived the retention period.

use chrono::Utc;

use crate::{app::AppState, domain::AuditContext};

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
    if let Err(error) = state.backups.rotate(Utc::now()).await {
        tracing::error!(%error, "backup rotation failed");
    }
}
