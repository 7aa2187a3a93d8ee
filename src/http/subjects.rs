//! `/api/v1/subjects/*`: subject access and erasure, for the privacy officer (admin keys).

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
        audit::AuditEntryBody,
        auth::Admin,
        extract::{JsonBody, JsonText},
        vehicles::dto::{VehicleBody, rfc3339},
        watchlist::WatchBody,
    },
    service::{BackupHolding, ServiceError},
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(subject_access))
        .routes(routes!(erase_subject))
}

/// Whom the request is about: a plate in any spelling (exactly that plate, not look-alikes)
/// and/or a phone number in any format; records matching either are the subject's.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectRequest {
    #[schema(value_type = Option<String>, example = "ab-12 cde")]
    pub number_plate: Option<JsonText>,
    #[schema(value_type = Option<String>, example = "020 7946 0958")]
    pub phone_number: Option<JsonText>,
}

/// An erasure: the subject, and `confirm: true`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EraseRequest {
    #[schema(value_type = Option<String>)]
    pub number_plate: Option<JsonText>,
    #[schema(value_type = Option<String>)]
    pub phone_number: Option<JsonText>,
    #[schema(value_type = bool, required = true)]
    pub confirm: Option<serde_json::Value>,
}

/// A backup file that still holds some of the subject's records, found by opening it.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupHoldingBody {
    pub file: String,
    #[serde(serialize_with = "rfc3339")]
    pub created_at: DateTime<Utc>,
    /// When rotation deletes the file (its age reaches the retention period).
    #[serde(serialize_with = "rfc3339")]
    pub expires_at: DateTime<Utc>,
    pub vehicles: i64,
    pub watchlist: i64,
}

impl From<BackupHolding> for BackupHoldingBody {
    fn from(b: BackupHolding) -> Self {
        Self {
            file: b.file,
            created_at: b.created_at,
            expires_at: b.expires_at,
            vehicles: b.vehicles,
            watchlist: b.watchlist,
        }
    }
}

/// Everything held about a subject.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectAccessBody {
    /// Every vehicle record, oldest entry first; one past its `expires_at` is still held
    /// until the purge deletes it.
    pub vehicles: Vec<VehicleBody>,
    /// Watchlist entries of the subject's plates.
    pub watchlist: Vec<WatchBody>,
    /// Audit entries under the pseudonyms of the subject's plates, newest first (at most
    /// 1,000).
    pub audit: Vec<AuditEntryBody>,
    /// Backups that hold some of these records, newest first.
    pub backups: Vec<BackupHoldingBody>,
}

/// What an erasure deleted.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErasedBody {
    pub vehicles: u64,
    pub watchlist: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErasureBody {
    pub erased: ErasedBody,
    /// Backups that still hold the subject's records until they expire (backups are never
    /// rewritten).
    pub backups: Vec<BackupHoldingBody>,
}

/// Subject access: every record held about a plate or a phone number, the audit entries
/// about it and the backups that still hold it. Audited as `subject.searched` (counts only).
#[utoipa::path(post, path = "/api/v1/subjects/search", tag = "privacy",
    request_body = SubjectRequest,
    responses(
        (status = 200, description = "What is held", body = SubjectAccessBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No plate or phone number, or an invalid one", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn subject_access(
    State(state): State<AppState>,
    caller: Admin,
    JsonBody(body): JsonBody<SubjectRequest>,
) -> Result<Json<SubjectAccessBody>, ApiError> {
    let found = state
        .subjects
        .access(
            JsonText::field(&body.number_plate),
            JsonText::field(&body.phone_number),
            &caller.audit(),
        )
        .await?;
    Ok(Json(SubjectAccessBody {
        vehicles: found.records.vehicles.into_iter().map(Into::into).collect(),
        watchlist: found
            .records
            .watchlist
            .into_iter()
            .map(Into::into)
            .collect(),
        audit: found.audit.into_iter().map(Into::into).collect(),
        backups: found.backups.into_iter().map(Into::into).collect(),
    }))
}

/// Erasure: deletes every record held about the subject now (also past its retention or
/// under a hold), and says which backups still hold it until they expire. Audited as
/// `subject.erased`, without personal data.
#[utoipa::path(post, path = "/api/v1/subjects/erase", tag = "privacy",
    request_body = EraseRequest,
    responses(
        (status = 200, description = "Erased", body = ErasureBody),
        (status = 400, description = "Malformed JSON", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Not confirmed, or no valid plate or phone number: nothing deleted", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn erase_subject(
    State(state): State<AppState>,
    caller: Admin,
    JsonBody(body): JsonBody<EraseRequest>,
) -> Result<Json<ErasureBody>, ApiError> {
    let confirm = match &body.confirm {
        None | Some(serde_json::Value::Null) => false,
        Some(value) => value.as_bool().ok_or_else(|| {
            ServiceError::from(FieldErrors::single("confirm", "must be true or false"))
        })?,
    };
    let erasure = state
        .subjects
        .erase(
            JsonText::field(&body.number_plate),
            JsonText::field(&body.phone_number),
            confirm,
            &caller.audit(),
        )
        .await?;
    Ok(Json(ErasureBody {
        erased: ErasedBody {
            vehicles: erasure.erased.vehicles,
            watchlist: erasure.erased.watchlist,
        },
        backups: erasure.backups.into_iter().map(Into::into).collect(),
    }))
}
