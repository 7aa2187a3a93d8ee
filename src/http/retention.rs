//! `/api/v1/config/retention`: how long personal data is kept.

use axum::{Json, extract::State};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    domain::FieldErrors,
    error::{ApiError, Problem},
    http::{
        auth::{Admin, Operator},
        extract::JsonBody,
    },
    store::RetentionSetting,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_retention, set_retention))
}

/// The retention period in force.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetentionBody {
    #[schema(example = 24)]
    pub retention_hours: i64,
    pub updated_at: DateTime<Utc>,
}

impl From<RetentionSetting> for RetentionBody {
    fn from(setting: RetentionSetting) -> Self {
        Self {
            retention_hours: setting.period.hours(),
            updated_at: setting.updated_at,
        }
    }
}

/// A new retention period, in whole hours.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetRetention {
    #[schema(value_type = i64, required = true, minimum = 1, maximum = 8760, example = 24)]
    pub retention_hours: Option<serde_json::Value>,
}

/// Reads the retention period.
#[utoipa::path(get, path = "/api/v1/config/retention", tag = "retention",
    responses(
        (status = 200, description = "The retention period", body = RetentionBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn get_retention(
    State(state): State<AppState>,
    _caller: Operator,
) -> Result<Json<RetentionBody>, ApiError> {
    Ok(Json(state.retention.get().await?.into()))
}

/// Changes the retention period; it applies at once to every read, to `expires_at`, to the
/// purge and to backups. Audited.
#[utoipa::path(put, path = "/api/v1/config/retention", tag = "retention",
    request_body = SetRetention,
    responses(
        (status = 200, description = "The new retention period", body = RetentionBody),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not a whole number of hours from 1 to 8760", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn set_retention(
    State(state): State<AppState>,
    caller: Admin,
    JsonBody(body): JsonBody<SetRetention>,
) -> Result<Json<RetentionBody>, ApiError> {
    let hours = match &body.retention_hours {
        None => Err("is required"),
        Some(value) => value.as_i64().ok_or("must be a whole number of hours"),
    }
    .map_err(|message| FieldErrors::single("retention_hours", message))
    .map_err(crate::service::ServiceError::from)?;
    Ok(Json(
        state.retention.set(hours, &caller.audit()).await?.into(),
    ))
}
