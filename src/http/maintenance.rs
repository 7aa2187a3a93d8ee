//! `/api/v1/maintenance/*`: purge now, clear, backups. Admin only.

use axum::{Json, extract::State, http::StatusCode};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    domain::{FieldErrors, PreviewHours, ReportDayError, parse_report_day},
    error::{ApiError, Problem},
    http::{
        auth::Admin,
        extract::{JsonBody, RawQuery},
        query_params::QueryErrors,
    },
    service::{BackupInfo, BackupTrigger, ServiceError},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(purge))
        .routes(routes!(purge_preview))
        .routes(routes!(retention_report))
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

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PreviewParams {
    /// How far ahead to look, in hours, 1–168.
    #[param(value_type = Option<u32>, minimum = 1, maximum = 168, default = 24)]
    pub hours: Option<String>,
}

/// What the purge will delete in the coming hours (counts only).
#[derive(Debug, Serialize, ToSchema)]
pub struct PurgePreviewBody {
    /// The purge's cut-off at the end of the window: vehicles that entered at or before it
    /// will be gone.
    pub cutoff: DateTime<Utc>,
    /// Vehicles deleted by the end of the window, those already expired included.
    pub count: i64,
    /// Every hour from the current one to the end of the window, oldest first; the current
    /// hour also counts vehicles already expired and waiting for the purge.
    pub by_hour: Vec<PreviewHourBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewHourBody {
    /// The hour's start.
    pub hour: DateTime<Utc>,
    pub count: i64,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportParams {
    /// The UTC day, `YYYY-MM-DD`; today if omitted.
    #[param(value_type = Option<String>, example = "2026-11-27")]
    pub day: Option<String>,
}

/// One day's retention report, signed (check a saved copy with `parking verify-report FILE`).
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionReportBody {
    #[schema(example = "2026-11-27")]
    pub day: String,
    pub generated_at: DateTime<Utc>,
    /// The retention period in force when the report was made.
    pub retention_hours: i64,
    /// Rows the purge deleted that day (vehicles and watchlist entries).
    pub purged: i64,
    /// Rows erasure requests deleted that day.
    pub erased: i64,
    /// Vehicles kept past their retention by a hold: now for today, as the day's last purge
    /// found them for an earlier day (`null` when none ran).
    pub held: Option<i64>,
    /// Backup files rotation deleted that day.
    pub backups_deleted: i64,
    /// The entry time of the oldest vehicle record held (as for `held`); `null` when none.
    pub oldest_record: Option<DateTime<Utc>>,
    /// `hmac-sha256:` and the hex HMAC of the report's canonical JSON (keys sorted, no
    /// whitespace, without this member) under a key derived from the database's secret.
    pub signature: String,
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

/// What the retention purge will delete in the next `hours` hours if the retention period
/// stays as it is, by the hour each vehicle's retention ends.
#[utoipa::path(get, path = "/api/v1/maintenance/purge-preview", tag = "maintenance",
    params(PreviewParams),
    responses(
        (status = 200, description = "The preview", body = PurgePreviewBody),
        (status = 400, description = "Malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Parameter out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn purge_preview(
    State(state): State<AppState>,
    _caller: Admin,
    RawQuery(params): RawQuery<PreviewParams>,
) -> Result<Json<PurgePreviewBody>, ApiError> {
    let mut errors = QueryErrors::default();
    let hours = errors.whole_number(
        "hours",
        params.hours.as_deref(),
        PreviewHours::default(),
        PreviewHours::new,
    );
    errors.finish()?;
    let preview = state.maintenance.purge_preview(hours).await?;
    Ok(Json(PurgePreviewBody {
        cutoff: preview.cutoff,
        count: preview.count,
        by_hour: preview
            .by_hour
            .into_iter()
            .map(|(hour, count)| PreviewHourBody { hour, count })
            .collect(),
    }))
}

/// What retention did on one UTC day: rows purged, erased and held, backups deleted, and the
/// oldest record still held, signed with an HMAC under the database's secret.
#[utoipa::path(get, path = "/api/v1/maintenance/retention-report", tag = "maintenance",
    params(ReportParams),
    responses(
        (status = 200, description = "The signed report", body = RetentionReportBody),
        (status = 400, description = "Malformed day", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A day after today", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn retention_report(
    State(state): State<AppState>,
    _caller: Admin,
    RawQuery(params): RawQuery<ReportParams>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let now = Utc::now();
    let day = match params.day.as_deref() {
        None => now.date_naive(),
        Some(raw) => match parse_report_day(raw, now) {
            Ok(day) => day,
            Err(error) => {
                let mut errors = QueryErrors::default();
                match error {
                    ReportDayError::Malformed => errors.malformed("day", error.to_string()),
                    ReportDayError::AfterToday => errors.invalid("day", error.to_string()),
                }
                errors.finish()?;
                now.date_naive()
            }
        },
    };
    Ok(Json(state.reports.report(day).await?))
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
