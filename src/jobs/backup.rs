//! Scheduled backups, rotated after each one.

use chrono::Utc;

use tracing::Instrument;

use crate::{
    app::AppState,
    domain::AuditContext,
    service::BackupTrigger,
    telemetry::{
        errors::{ErrorKind, report},
        traces::SPANS,
    },
};

pub async fn run_once(state: &AppState) {
    run(state)
        .instrument(tracing::info_span!(target: SPANS, "job.backup"))
        .await
}

async fn run(state: &AppState) {
    let metrics = &state.metrics;
    match state
        .backups
        .create(BackupTrigger::Scheduled, &AuditContext::system())
        .await
    {
        Ok(backup) => {
            tracing::info!(file = %backup.file, size_bytes = backup.size_bytes, "scheduled backup written")
        }
        Err(error) => report(
            metrics,
            ErrorKind::Backup,
            "scheduled backup failed",
            &error,
        ),
    }
    if let Err(error) = state.backups.rotate(Utc::now()).await {
        report(metrics, ErrorKind::Backup, "backup rotation failed", &error);
    }
}
