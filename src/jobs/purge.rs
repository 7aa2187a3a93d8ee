//! The retention purge: deletes expired vehicles and audit entries, backups that have
//! outlived the retention period, and change records every reader has (or that are older than
//! retention allows).

use chrono::{TimeDelta, Utc};

use tracing::Instrument;

use crate::{
    app::AppState,
    domain::AuditContext,
    telemetry::{
        errors::{ErrorKind, report},
        traces::SPANS,
    },
};

/// A feed reader not seen for this long no longer holds changes back.
const READER_GONE_AFTER: TimeDelta = TimeDelta::minutes(1);

pub async fn run_once(state: &AppState) {
    run(state)
        .instrument(tracing::info_span!(target: SPANS, "job.purge"))
        .await
}

async fn run(state: &AppState) {
    let metrics = &state.metrics;
    match state.maintenance.purge(&AuditContext::system()).await {
        Ok(report) if report.deleted > 0 => {
            tracing::info!(
                deleted = report.deleted,
                "retention purge deleted expired vehicles"
            );
        }
        Ok(_) => {}
        Err(error) => report(metrics, ErrorKind::Purge, "retention purge failed", &error),
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
                report(
                    metrics,
                    ErrorKind::Purge,
                    "trimming the change feed failed",
                    &error,
                );
            }
        }
        Err(error) => report(
            metrics,
            ErrorKind::Purge,
            "cannot read the retention period",
            &error,
        ),
    }
    if let Err(error) = state.backups.rotate(Utc::now()).await {
        report(metrics, ErrorKind::Backup, "backup rotation failed", &error);
    }
}
