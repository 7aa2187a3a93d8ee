//! Scheduled backups, rotated after each one.

use chrono::Utc;

use crate::{app::AppState, domain::AuditContext, service::BackupTrigger};

pub async fn run_once(state: &AppState) {
    match state
        .backups
        .create(BackupTrigger::Scheduled, &AuditContext::system())
        .await
    {
        Ok(backup) => {
            tracing::info!(file = %backup.file, size_bytes = backup.size_bytes, "scheduled backup written")
        }
        Err(error) => tracing::error!(%error, "scheduled backup failed"),
    }
    if let Err(error) = state.backups.rotate(Utc::now()).await {
        tracing::error!(%error, "backup rotation failed");
    }
}
