//! `/api/v1/maintenance/*`: purge now, clear, backups. Admin only.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    domain::FieldErrors,
    error::{ApiError, Problem},
    http::{auth::Admin, extract::JsonBody},
    service::{BackupInfo, BackupTrigger, ServiceError},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(purge))
        .routes(routes!(clear))
        .routes(routes!(create_backup))
        .routes(routes!(list_backups))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PurgeBody {
    /// Vehicles deleted by this run.
    pub deleted: u64,
    /// Vehicles that entered at or before this instant had expired.
    pub cutoff: DateTime<Utc>,
}

/// A backup file in the backup folder (`PARKING_BACKUP_DIR`).
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupBody {
    #[schema(example = "parking-20261125T080000.000Z-manual.db")]
    pub file: String,
    pub size_bytes: u64,
    pub created_at: DateTime<Utc>,
}

impl From<BackupInfo> for BackupBody {
    fn from(info: BackupInfo) -> Self {
        Self {
            file: info.file,
            size_bytes: info.size_bytes,
            created_at: info.created_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BackupList {
    /// Newest first.
    pub items: Vec<BackupBody>,
}

/// Deleting every vehicle: `confirm` must be `true`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClearRequest {
    #[schema(value_type = bool, required = true)]
    pub confirm: Option<serde_json::Value>,
    /// Write a verified backup first (default `true`); if it fails, nothing is deleted.
    #[schema(value_type = bool, default = true)]
    pub backup: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ClearBody {
    pub deleted: u64,
    pub backup: Option<BackupBody>,
}

/// Runs the retention purge now.
#[utoipa::path(post, path = "/api/v1/maintenance/purge", tag = "maintenance",
    responses(
        (status = 200, description = "Expired vehicles deleted", body = PurgeBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn purge(State(state): State<AppState>, caller: Admin) -> Result<Json<PurgeBody>, ApiError> {
    let report = state.maintenance.purge(&caller.audit()).await?;
    Ok(Json(PurgeBody {
        deleted: report.deleted,
        cutoff: report.cutoff,
    }))
}

/// Deletes every vehicle, after a verified backup unless `backup` is false.
#[utoipa::path(post, path = "/api/v1/maintenance/clear", tag = "maintenance",
    request_body = ClearRequest,
    responses(
        (status = 200, description = "Every vehicle deleted", body = ClearBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not confirmed: nothing deleted", body = Problem, content_type = "application/problem+json"),
        (status = 500, description = "The backup failed: nothing deleted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn clear(
    State(state): State<AppState>,
    caller: Admin,
    JsonBody(body): JsonBody<ClearRequest>,
) -> Result<Json<ClearBody>, ApiError> {
    let mut errors = FieldErrors::default();
    let confirm = errors
        .take("confirm", flag(body.confirm.as_ref(), false))
        .unwrap_or(false);
    let backup = errors
        .take("backup", flag(body.backup.as_ref(), true))
        .unwrap_or(true);
    if !errors.is_empty() {
        return Err(ServiceError::Invalid(errors).into());
    }
    let report = state
        .maintenance
        .clear(confirm, backup, &caller.audit())
        .await?;
    Ok(Json(ClearBody {
        deleted: report.deleted,
        backup: report.backup.map(BackupBody::from),
    }))
}

/// A JSON boolean, or `default` when absent.
fn flag(value: Option<&serde_json::Value>, default: bool) -> Result<bool, String> {
    match value {
        None | Some(serde_json::Value::Null) => Ok(default),
        Some(value) => value
            .as_bool()
            .ok_or_else(|| "must be true or false".into()),
    }
}

/// Writes a verified backup of the live database now.
#[utoipa::path(post, path = "/api/v1/maintenance/backup", tag = "maintenance",
    responses(
        (status = 201, description = "Backup written and verified", body = BackupBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn create_backup(
    State(state): State<AppState>,
    caller: Admin,
) -> Result<(StatusCode, Json<BackupBody>), ApiError> {
    let backup = state
        .backups
        .create(BackupTrigger::Manual, &caller.audit())
        .await?;
    Ok((StatusCode::CREATED, Json(backup.into())))
}

/// Lists the backups, newest first.
#[utoipa::path(get, path = "/api/v1/maintenance/backups", tag = "maintenance",
    responses(
        (status = 200, description = "Backups", body = BackupList),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn list_backups(
    State(state): State<AppState>,
    _caller: Admin,
) -> Result<Json<BackupList>, ApiError> {
    let items = state
        .backups
        .list()?
        .into_iter()
        .map(BackupBody::from)
        .collect();
    Ok(Json(BackupList { items }))
}
