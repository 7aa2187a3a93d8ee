//! `/api/v1/audit`: the audit trail, newest first. Admin only.

use axum::{Json, extract::State};
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::{router::OpenApiRouter, routes};

use crate::{
    app::AppState,
    domain::{AuditAction, AuditRecord},
    error::{ApiError, Problem},
    http::{auth::Admin, extract::RawQuery, query_params::QueryErrors},
    store::AuditFilter,
};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// One audited operation. Holds no personal data: vehicles appear under a keyed pseudonym of
/// their plate.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEntryBody {
    pub id: i64,
    pub timestamp: DateTime<Utc>,
    #[schema(example = "vehicle.created")]
    pub action: String,
    #[schema(example = "vehicle")]
    pub entity: String,
    /// For vehicles, the plate's pseudonym; for keys, the key id; for backups, the file.
    pub entity_id: Option<String>,
    /// The API key's name and id, `system` or `command line`; never the key itself.
    #[schema(example = "front desk (key 3)")]
    pub actor: String,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

impl From<AuditRecord> for AuditEntryBody {
    fn from(r: AuditRecord) -> Self {
        Self {
            id: r.id,
            timestamp: r.at,
            action: r.action,
            entity: r.entity,
            entity_id: r.entity_id,
            actor: r.actor,
            request_id: r.request_id,
            details: r.details,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditList {
    pub items: Vec<AuditEntryBody>,
    pub next_cursor: Option<String>,
}

#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// One action, such as `vehicle.created`.
    pub action: Option<String>,
    /// An entity id; a plate in any spelling finds that plate's history.
    pub entity_id: Option<String>,
    /// Entries at or after this instant.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub since: Option<String>,
    /// Entries before this instant.
    #[param(value_type = Option<DateTime<Utc>>)]
    pub until: Option<String>,
    #[param(value_type = Option<u32>, minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<String>,
    pub cursor: Option<String>,
}

/// Reads the audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of audit entries", body = AuditList),
        (status = 400, description = "Malformed parameter", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing or unknown API key", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not an admin key", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Parameter out of range", body = Problem, content_type = "application/problem+json"),
    ),
    security(("api_key" = []), ("bearer" = [])))]
async fn list_audit(
    State(state): State<AppState>,
    _caller: Admin,
    RawQuery(params): RawQuery<AuditParams>,
) -> Result<Json<AuditList>, ApiError> {
    let mut errors = QueryErrors::default();
    let limit = errors.limit(params.limit.as_deref(), 50, 500);
    if let Some(action) = params.action.as_deref()
        && action.parse::<AuditAction>().is_err()
    {
        errors.invalid("action", "is not a known audit action");
    }
    let since = errors.timestamp("since", params.since.as_deref());
    let until = errors.timestamp("until", params.until.as_deref());
    let before_id = params.cursor.as_deref().and_then(|raw| {
        let id = decode_cursor(raw);
        if id.is_none() {
            errors.malformed("cursor", "is not a cursor returned by this listing");
        }
        id
    });
    errors.finish()?;
    let filter = AuditFilter {
        limit,
        before_id,
        action: params.action.clone(),
        entity_ids: Vec::new(),
        since,
        until,
    };
    let page = state
        .audit
        .list(filter, params.entity_id.as_deref())
        .await?;
    Ok(Json(AuditList {
        items: page.items.into_iter().map(AuditEntryBody::from).collect(),
        next_cursor: page
            .next_before
            .map(|id| URL_SAFE_NO_PAD.encode(format!("audit:{id}"))),
    }))
}

fn decode_cursor(raw: &str) -> Option<i64> {
    let bytes = URL_SAFE_NO_PAD.decode(raw.trim()).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("audit:")?
        .parse()
        .ok()
}
